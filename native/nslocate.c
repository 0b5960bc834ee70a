/*
 * nslocate's native seam: the syscalls Node.js does not expose.
 *
 *   fcntl(F_GETLK / F_OFD_GETLK)  who holds a record lock, as the kernel reports it (fcntl(2))
 *   fcntl(F_SETLK / F_SETLKW)     POSIX record locks for the writer side
 *   flock(2)                      BSD locks for the writer side
 *   pidfd_open / pidfd_send_signal / poll on a pidfd   (pidfd_open(2), pidfd_send_signal(2))
 *   ioctl(PIDFD_GET_INFO)         pid, ppid, uids, cgroup id, exit status of a pidfd (Linux 6.13+)
 *   ioctl(NS_GET_PID_FROM_PIDNS / NS_GET_PID_IN_PIDNS / NS_GET_ID)  nsfs translation (ioctl_ns(2))
 *   ioctl(NS_GET_USERNS + NS_GET_OWNER_UID)  who created the user namespace owning a namespace
 *   renameat2(RENAME_EXCHANGE)    swap two names atomically (run replacing a pidfile only non-writers lock)
 *   fork + a gate pipe + execve, waitpid    run's child, held before execve until its pid is written
 *   openat(O_PATH|O_NOFOLLOW) + fstat per directory   the CHASE_SAFE walk's kernel half (walkDirs)
 *   /proc reads batched: one process's fd scan (holderFds), several /proc/PID files (readProcMany)
 *
 * Every function is synchronous and cheap except waitPidfd, which watches the pidfd with a uv_poll
 * handle on the event loop: no threadpool thread is held while waiting, so hundreds of waits cannot
 * stall fs.promises. Errors are thrown as Node-style Error objects with code, errno and syscall.
 * Unsupported kernel features (ENOSYS, ENOTTY, EINVAL from an unknown ioctl) are thrown with
 * code "ENOTSUP" and `unsupported: true` so callers can fall back.
 *
 * Only src/native/binding.ts loads this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif
/* include/uapi/linux/nsfs.h */
#define NS_GET_ID_ 0x8008b70dUL
#define NS_GET_PID_FROM_PIDNS_ 0x8004b706UL
#define NS_GET_TGID_FROM_PIDNS_ 0x8004b707UL
#define NS_GET_PID_IN_PIDNS_ 0x8004b708UL
#define NS_GET_TGID_IN_PIDNS_ 0x8004b709UL
#define NS_GET_USERNS_ 0xb701UL
#define NS_GET_OWNER_UID_ 0xb704UL
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
/* include/uapi/linux/pidfd.h: _IOWR(0xFF, 11, struct pidfd_info) */
#define PIDFD_GET_INFO_64 0xc040ff0bUL
#define PIDFD_INFO_PID 0x1UL
#define PIDFD_INFO_CREDS 0x2UL
#define PIDFD_INFO_CGROUPID 0x4UL
#define PIDFD_INFO_EXIT 0x8UL

struct pidfd_info_ {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
  uint32_t coredump_mask;
  uint32_t spare1;
}; /* 64 bytes: the first published size of struct pidfd_info */

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "nslocate native: " #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *syscall_name, const char *detail) {
  char msg[256];
  const char *code_str;
  int unsupported = (err == ENOSYS || err == ENOTTY);
  switch (err) {
    case ESRCH: code_str = "ESRCH"; break;
    case EPERM: code_str = "EPERM"; break;
    case EACCES: code_str = "EACCES"; break;
    case EAGAIN: code_str = "EAGAIN"; break;
    case EBADF: code_str = "EBADF"; break;
    case EINVAL: code_str = "EINVAL"; break;
    case EINTR: code_str = "EINTR"; break;
    case ENOSYS: code_str = "ENOSYS"; break;
    case ENOTTY: code_str = "ENOTTY"; break;
    case EDEADLK: code_str = "EDEADLK"; break;
    case ENOLCK: code_str = "ENOLCK"; break;
    case EMFILE: code_str = "EMFILE"; break;
    case ENOMEM: code_str = "ENOMEM"; break;
    case ECHILD: code_str = "ECHILD"; break;
    case ENOTSUP: code_str = "EOPNOTSUPP"; break;
    case ENOENT: code_str = "ENOENT"; break;
    case ESTALE: code_str = "ESTALE"; break;
    case ENODATA: code_str = "ENODATA"; break;
    case ERANGE: code_str = "ERANGE"; break;
    case ENOSPC: code_str = "ENOSPC"; break;
    case EDQUOT: code_str = "EDQUOT"; break;
    case EROFS: code_str = "EROFS"; break;
    case E2BIG: code_str = "E2BIG"; break;
    default: code_str = "EUNKNOWN"; break;
  }
  snprintf(msg, sizeof msg, "%s %s%s%s", code_str, strerror(err), detail ? " " : "", detail ? detail : "");
  napi_value m, e, c, n, s, t;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_string_utf8(env, unsupported ? "ENOTSUP" : code_str, NAPI_AUTO_LENGTH, &c);
  napi_set_named_property(env, e, "code", c);
  napi_create_int32(env, -err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, code_str, NAPI_AUTO_LENGTH, &c);
  napi_set_named_property(env, e, "errnoCode", c);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  napi_get_boolean(env, unsupported, &t);
  napi_set_named_property(env, e, "unsupported", t);
  return e;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall_name) {
  napi_throw(env, make_errno_error(env, err, syscall_name, NULL));
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "nslocate native: missing arguments");
    return 0;
  }
  return 1;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "nslocate native: expected an integer");
    return 0;
  }
  return 1;
}

static napi_value obj_set_i32(napi_env env, napi_value o, const char *k, int32_t v) {
  napi_value x;
  napi_create_int32(env, v, &x);
  napi_set_named_property(env, o, k, x);
  return o;
}

/* getlk(fd, ofd) -> { type: 0 unlocked | 1 read | 2 write, pid, start, len, whence }
 * Probes the whole file with l_type=F_WRLCK, which conflicts with any lock, so a held lock of
 * either kind is reported. For F_OFD_GETLK the kernel requires l_pid = 0 and reports -1. */
static napi_value Getlk(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool ofd = false;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &ofd);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, ofd ? F_OFD_GETLK : F_GETLK, &fl) < 0) return throw_errno(env, errno, ofd ? "fcntl(F_OFD_GETLK)" : "fcntl(F_GETLK)");
  napi_value o;
  CHECK(napi_create_object(env, &o));
  /* When no lock conflicts only l_type is rewritten (fs/locks.c): never trust l_pid then. */
  int type = fl.l_type == F_UNLCK ? 0 : fl.l_type == F_RDLCK ? 1 : 2;
  obj_set_i32(env, o, "type", type);
  obj_set_i32(env, o, "pid", type == 0 ? 0 : (int32_t)fl.l_pid);
  napi_value s, l;
  napi_create_int64(env, (int64_t)fl.l_start, &s);
  napi_create_int64(env, (int64_t)fl.l_len, &l);
  napi_set_named_property(env, o, "start", s);
  napi_set_named_property(env, o, "len", l);
  return o;
}

/* setlk(fd, type 0 unlock|1 read|2 write, wait, ofd) -> true, or false when held by another
 * (EAGAIN/EACCES without wait). Whole file. */
static napi_value Setlk(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, type;
  bool wait = false, ofd = false;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &type)) return NULL;
  napi_get_value_bool(env, argv[2], &wait);
  napi_get_value_bool(env, argv[3], &ofd);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type == 0 ? F_UNLCK : type == 1 ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  int cmd = ofd ? (wait ? F_OFD_SETLKW : F_OFD_SETLK) : (wait ? F_SETLKW : F_SETLK);
  int r;
  do r = fcntl(fd, cmd, &fl); while (r < 0 && errno == EINTR && wait);
  napi_value b;
  if (r < 0) {
    if (!wait && (errno == EAGAIN || errno == EACCES)) { napi_get_boolean(env, false, &b); return b; }
    return throw_errno(env, errno, "fcntl(F_SETLK)");
  }
  napi_get_boolean(env, true, &b);
  return b;
}

/* flock(fd, op 0 unlock|1 shared|2 exclusive, nonblock) -> true, or false on EWOULDBLOCK */
static napi_value Flock(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, op;
  bool nb = false;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &op)) return NULL;
  napi_get_value_bool(env, argv[2], &nb);
  int how = (op == 0 ? LOCK_UN : op == 1 ? LOCK_SH : LOCK_EX) | (nb ? LOCK_NB : 0);
  int r;
  do r = flock(fd, how); while (r < 0 && errno == EINTR && !nb);
  napi_value b;
  if (r < 0) {
    if (nb && errno == EWOULDBLOCK) { napi_get_boolean(env, false, &b); return b; }
    return throw_errno(env, errno, "flock");
  }
  napi_get_boolean(env, true, &b);
  return b;
}

static napi_value PidfdOpen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &pid)) return NULL;
  if (pid <= 0) return throw_errno(env, EINVAL, "pidfd_open");
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return throw_errno(env, errno, "pidfd_open");
  napi_value r;
  napi_create_int32(env, (int32_t)fd, &r);
  return r;
}

static napi_value PidfdSendSignal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, sig;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &sig)) return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return throw_errno(env, errno, "pidfd_send_signal");
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* pidfdExited(fd) -> boolean: poll(0) readable means the process has exited (zombie or reaped). */
static napi_value PidfdExited(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do r = poll(&p, 1, 0); while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "poll");
  if (r > 0 && (p.revents & POLLNVAL)) return throw_errno(env, EBADF, "poll");
  napi_value b;
  napi_get_boolean(env, r > 0, &b);
  return b;
}

/* waitPidfd(fd) -> Promise<boolean> (with a `waitId` property), resolved with true when the pidfd
 * turns readable (the process exited), or false when cancelWait(waitId) stops it first. The poll
 * handle keeps the event loop alive while pending, like a timer. */
typedef struct wait_req {
  uv_poll_t poll;
  napi_env env;
  napi_deferred deferred;
  int fd; /* our own dup of the caller's pidfd, closed with the handle */
  int done;
  uint32_t id;
  struct wait_req *next;
} wait_req;

/* Live waits by id, so cancelWait(id) never touches freed memory. The event loop is single-threaded. */
static wait_req *waits = NULL;
static uint32_t next_wait_id = 1;

static void wait_closed(uv_handle_t *h) {
  wait_req *w = (wait_req *)h->data;
  for (wait_req **p = &waits; *p; p = &(*p)->next) {
    if (*p == w) { *p = w->next; break; }
  }
  close(w->fd);
  free(w);
}

static void wait_cb(uv_poll_t *handle, int status, int events) {
  wait_req *w = (wait_req *)handle->data;
  if (w->done) return;
  w->done = 1;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  if (status < 0) {
    napi_reject_deferred(w->env, w->deferred, make_errno_error(w->env, -status, "uv_poll", NULL));
  } else {
    napi_value t;
    napi_get_boolean(w->env, true, &t);
    napi_resolve_deferred(w->env, w->deferred, t);
  }
  napi_close_handle_scope(w->env, scope);
  uv_poll_stop(handle);
  uv_close((uv_handle_t *)handle, wait_closed);
}

static napi_value WaitPidfd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  wait_req *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "calloc");
  w->env = env;
  w->id = next_wait_id++;
  /* Poll a private dup, not the caller's fd: libuv allows one poll handle per fd (a second
   * uv_poll_init on it fails with EEXIST), and a caller that closes its pidfd while waiting would
   * otherwise leave libuv watching a recycled fd number. */
  napi_value promise;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok) { free(w); return NULL; }
  w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (w->fd < 0) { /* e.g. EBADF: reported through the promise, like the other failures */
    napi_reject_deferred(env, w->deferred, make_errno_error(env, errno, "fcntl(F_DUPFD_CLOEXEC)", NULL));
    free(w);
    return promise;
  }
  int r = uv_poll_init(loop, &w->poll, w->fd);
  if (r < 0) {
    napi_reject_deferred(env, w->deferred, make_errno_error(env, -r, "uv_poll_init", NULL));
    close(w->fd);
    free(w);
    return promise;
  }
  w->poll.data = w;
  w->next = waits;
  waits = w;
  r = uv_poll_start(&w->poll, UV_READABLE, wait_cb);
  if (r < 0) {
    w->done = 1;
    napi_reject_deferred(env, w->deferred, make_errno_error(env, -r, "uv_poll_start", NULL));
    uv_close((uv_handle_t *)&w->poll, wait_closed);
  }
  napi_value idv;
  napi_create_uint32(env, w->id, &idv);
  napi_set_named_property(env, promise, "waitId", idv);
  return promise;
}

/* cancelWait(id) -> boolean: stops a pending waitPidfd (its promise resolves with false) so the
 * handle no longer keeps the event loop alive. The wait polls its own dup of the pidfd, so the
 * caller may close its pidfd before or after cancelling. */
static napi_value CancelWait(napi_env env, napi_callback_info info) {
  napi_value argv[1], b;
  uint32_t id;
  if (!get_args(env, info, 1, argv) || napi_get_value_uint32(env, argv[0], &id) != napi_ok) return NULL;
  for (wait_req *w = waits; w; w = w->next) {
    if (w->id == id && !w->done) {
      w->done = 1;
      napi_value f;
      napi_get_boolean(env, false, &f);
      napi_resolve_deferred(env, w->deferred, f);
      uv_poll_stop(&w->poll);
      uv_close((uv_handle_t *)&w->poll, wait_closed);
      napi_get_boolean(env, true, &b);
      return b;
    }
  }
  napi_get_boolean(env, false, &b);
  return b;
}

/* pidfdGetInfo(fd) -> { pid, tgid, ppid, ruid, euid, cgroupid (bigint), exitCode | null, mask } */
static napi_value PidfdGetInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  struct pidfd_info_ pi;
  memset(&pi, 0, sizeof pi);
  pi.mask = PIDFD_INFO_PID | PIDFD_INFO_CREDS | PIDFD_INFO_CGROUPID | PIDFD_INFO_EXIT;
  if (ioctl(fd, PIDFD_GET_INFO_64, &pi) < 0) {
    int e = errno;
    if (e == EINVAL || e == ENOTTY) e = ENOTTY; /* kernel before 6.13 */
    return throw_errno(env, e, "ioctl(PIDFD_GET_INFO)");
  }
  napi_value o, big, nul;
  CHECK(napi_create_object(env, &o));
  napi_get_null(env, &nul);
  if (pi.mask & PIDFD_INFO_PID) {
    obj_set_i32(env, o, "pid", (int32_t)pi.pid);
    obj_set_i32(env, o, "tgid", (int32_t)pi.tgid);
    obj_set_i32(env, o, "ppid", (int32_t)pi.ppid);
  }
  if (pi.mask & PIDFD_INFO_CREDS) {
    obj_set_i32(env, o, "ruid", (int32_t)pi.ruid);
    obj_set_i32(env, o, "euid", (int32_t)pi.euid);
  }
  if (pi.mask & PIDFD_INFO_CGROUPID) {
    napi_create_bigint_uint64(env, pi.cgroupid, &big);
    napi_set_named_property(env, o, "cgroupid", big);
  } else {
    napi_set_named_property(env, o, "cgroupid", nul);
  }
  if (pi.mask & PIDFD_INFO_EXIT) obj_set_i32(env, o, "exitCode", pi.exit_code);
  else napi_set_named_property(env, o, "exitCode", nul);
  napi_value m;
  napi_create_int64(env, (int64_t)pi.mask, &m);
  napi_set_named_property(env, o, "mask", m);
  return o;
}

/* nsIoctl(nsfd, which, pid) -> translated pid. which: 0 PID_FROM_PIDNS, 1 TGID_FROM_PIDNS,
 * 2 PID_IN_PIDNS, 3 TGID_IN_PIDNS. The pid is passed by value; the result is the return value. */
static napi_value NsTranslate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, which, pid;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &which) ||
      !get_i32(env, argv[2], &pid))
    return NULL;
  static const unsigned long req[] = {NS_GET_PID_FROM_PIDNS_, NS_GET_TGID_FROM_PIDNS_, NS_GET_PID_IN_PIDNS_,
                                      NS_GET_TGID_IN_PIDNS_};
  static const char *names[] = {"ioctl(NS_GET_PID_FROM_PIDNS)", "ioctl(NS_GET_TGID_FROM_PIDNS)",
                                "ioctl(NS_GET_PID_IN_PIDNS)", "ioctl(NS_GET_TGID_IN_PIDNS)"};
  if (which < 0 || which > 3) return throw_errno(env, EINVAL, "ioctl(NS_GET_*_PIDNS)");
  if (pid <= 0) return throw_errno(env, EINVAL, names[which]);
  int r = ioctl(fd, req[which], (unsigned long)pid);
  if (r < 0) {
    int e = errno;
    /* Kernels before 6.11 do not know these requests: ENOTTY (or EINVAL from nsfs). ESRCH is a
     * real answer: the pid is not visible in the target namespace. */
    return throw_errno(env, e == EINVAL ? ENOTTY : e, names[which]);
  }
  napi_value v;
  napi_create_int32(env, r, &v);
  return v;
}

static napi_value NsGetId(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  uint64_t id = 0;
  if (ioctl(fd, NS_GET_ID_, &id) < 0) return throw_errno(env, errno == EINVAL ? ENOTTY : errno, "ioctl(NS_GET_ID)");
  napi_value v;
  napi_create_bigint_uint64(env, id, &v);
  return v;
}

/*
 * nsOwner(nsfd) -> {uid, ino} | null
 *   Who created the user namespace that owns the namespace open as nsfd (ioctl_ns(2):
 *   NS_GET_USERNS, then NS_GET_OWNER_UID), as a uid in the caller's user namespace (0 for the
 *   initial one), and that user namespace's inode (to find a process in it and read its uid_map).
 *   null when the owner is not the caller's user namespace or a descendant of it (EPERM from
 *   NS_GET_USERNS: it lies above the caller, more privileged than the caller's root).
 */
#include <sys/stat.h>
static napi_value NsOwner(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  int userns = ioctl(fd, NS_GET_USERNS_);
  napi_value v;
  if (userns < 0) {
    if (errno == EPERM) {
      napi_get_null(env, &v);
      return v;
    }
    return throw_errno(env, errno == EINVAL ? ENOTTY : errno, "ioctl(NS_GET_USERNS)");
  }
  uid_t uid = 0;
  struct stat st;
  int r = ioctl(userns, NS_GET_OWNER_UID_, &uid);
  int e = errno;
  if (r == 0 && fstat(userns, &st) < 0) {
    r = -1;
    e = errno;
  }
  close(userns);
  if (r < 0) return throw_errno(env, e == EINVAL ? ENOTTY : e, "ioctl(NS_GET_OWNER_UID)");
  napi_value u, i;
  napi_create_object(env, &v);
  napi_create_int64(env, (int64_t)uid, &u);
  napi_create_double(env, (double)st.st_ino, &i);
  napi_set_named_property(env, v, "uid", u);
  napi_set_named_property(env, v, "ino", i);
  return v;
}

/*
 * renameExchange(dirfd, a, b): renameat2(dirfd, a, dirfd, b, RENAME_EXCHANGE): both names must
 * exist; each then names the other's inode, in one step no reader can see half of.
 */
static napi_value RenameExchange(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t dirfd;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &dirfd)) return NULL;
  char a[4096], b[4096];
  size_t la = 0, lb = 0;
  if (napi_get_value_string_utf8(env, argv[1], a, sizeof a, &la) != napi_ok || la >= sizeof a - 1 ||
      napi_get_value_string_utf8(env, argv[2], b, sizeof b, &lb) != napi_ok || lb >= sizeof b - 1) {
    napi_throw_type_error(env, NULL, "renameExchange(dirfd, a, b): names must be strings shorter than 4095 bytes");
    return NULL;
  }
  if (syscall(SYS_renameat2, dirfd, a, dirfd, b, RENAME_EXCHANGE) < 0) return throw_errno(env, errno, "renameat2(RENAME_EXCHANGE)");
  return NULL;
}

/* ---- run's gated start (src/acquire/spawn-gated.ts) -------------------------------------------
 * spawnGated(file, argv, envp, keepFd) -> {pid, gateFd, errFd}
 *   fork(); the child resets every signal to SIG_DFL, unblocks them all, keeps fds 0-2 open
 *   across execve in blocking mode (as libuv's uv_spawn does), clears FD_CLOEXEC on
 *   keepFd (the flock'd pidfile descriptor it is to inherit; -1: none) and then blocks in read(2)
 *   on the gate pipe. Only when the parent writes one byte does it execve(file, argv, envp). EOF
 *   on the gate (the parent closed it, or died) makes it _exit(125) without ever running file.
 *   errFd is the read end of a close-on-exec pipe: EOF there means execve succeeded; 4 bytes are
 *   the errno of a failed execve (the child then _exits 127 for ENOENT, else 126).
 *   Between fork and execve the child calls only async-signal-safe functions; argv and envp are
 *   built before fork. Signals are blocked across fork, as libuv's uv_spawn does, so a signal that
 *   arrives in the child before its handlers are reset cannot run Node's handler there.
 * reapChild(pid) -> null while running, else {code, signal}: waitpid(WNOHANG). libuv reaps only the
 *   children it spawned itself, so this child is ours to reap, and its pid cannot be reused before.
 */
#include <sys/wait.h>

static char *dup_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (!buf) return NULL;
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  return buf;
}

static char **dup_string_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, arr, i, &e);
    if (!(out[i] = dup_string(env, e))) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_string_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

/* clone3(CLONE_INTO_CGROUP) as fork(2): the child is born in the cgroup `cgroup_fd` (a directory of
 * the v2 hierarchy), never outside it, and without the cgroup.procs write (whose first use after a
 * while waits for an RCU grace period, ~10 ms). -1 with errno when the kernel refuses (before 5.7:
 * ENOSYS or E2BIG; EACCES...): the caller forks and moves the child instead. The child runs only
 * async-signal-safe calls before execve, as after fork(). */
static pid_t fork_into_cgroup(int cgroup_fd) {
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
  } args;
  memset(&args, 0, sizeof args);
  args.flags = 0x200000000ULL; /* CLONE_INTO_CGROUP */
  args.exit_signal = SIGCHLD;
  args.cgroup = (uint64_t)cgroup_fd;
#ifdef SYS_clone3
  return (pid_t)syscall(SYS_clone3, &args, sizeof args);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static napi_value SpawnGated(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t keep_fd, cgroup_fd = -1;
  size_t argc = 5;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "spawnGated(file, argv, envp, keepFd[, cgroupFd])");
    return NULL;
  }
  if (!get_i32(env, argv[3], &keep_fd)) return NULL;
  if (argc >= 5 && !get_i32(env, argv[4], &cgroup_fd)) return NULL;
  char *file = dup_string(env, argv[0]);
  char **args = dup_string_array(env, argv[1]);
  char **envp = dup_string_array(env, argv[2]);
  int gate[2] = {-1, -1}, err[2] = {-1, -1};
  int fail = 0;
  const char *what = "spawn";
  if (!file || !args || !envp) { fail = ENOMEM; what = "malloc"; }
  else if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) { fail = errno; what = "pipe2"; }
  pid_t pid = -1;
  if (!fail) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = -1;
    if (cgroup_fd >= 0) {
      pid = fork_into_cgroup(cgroup_fd);
      if (pid < 0) cgroup_fd = -1; /* refused: a plain fork, and the caller moves the child */
    }
    if (pid < 0 && cgroup_fd < 0) pid = fork();
    if (pid == 0) {
      /* Only the parent may hold the gate's write end: EOF must come when the parent closes or dies. */
      close(gate[1]);
      close(err[0]);
      for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        signal(s, SIG_DFL);
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      /* As libuv does for a spawned child: stdin, stdout and stderr inherited (Node marks them
       * close-on-exec) and in blocking mode (Node may have made a pipe non-blocking; programs
       * that write to it expect blocking writes). */
      for (int f = 0; f <= 2; f++) {
        fcntl(f, F_SETFD, 0);
        int fl = fcntl(f, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
      }
      if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0) _exit(125);
      char go;
      ssize_t r;
      do r = read(gate[0], &go, 1); while (r < 0 && errno == EINTR);
      if (r != 1) _exit(125);
      execve(file, args, envp);
      int e = errno;
      (void)!write(err[1], &e, sizeof e);
      _exit(e == ENOENT ? 127 : 126);
    }
    if (pid < 0) { fail = errno; what = "fork"; }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  free(file);
  free_string_array(args);
  free_string_array(envp);
  if (gate[0] >= 0) close(gate[0]);
  if (err[1] >= 0) close(err[1]);
  if (fail) {
    if (gate[1] >= 0) close(gate[1]);
    if (err[0] >= 0) close(err[0]);
    return throw_errno(env, fail, what);
  }
  napi_value o;
  napi_create_object(env, &o);
  obj_set_i32(env, o, "pid", pid);
  obj_set_i32(env, o, "gateFd", gate[1]);
  obj_set_i32(env, o, "errFd", err[0]);
  napi_value in_cgroup;
  napi_get_boolean(env, cgroup_fd >= 0, &in_cgroup);
  napi_set_named_property(env, o, "inCgroup", in_cgroup);
  return o;
}

static napi_value ReapChild(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &pid)) return NULL;
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG); while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "waitpid");
  napi_value o;
  if (r == 0) { napi_get_null(env, &o); return o; }
  napi_create_object(env, &o);
  obj_set_i32(env, o, "code", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  obj_set_i32(env, o, "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return o;
}

/* ---- the CHASE_SAFE walk's kernel half (src/kernel/walk.ts) -----------------------------------
 * walkDirs(start, names) -> {fds, ids, next, stop, errno, target}
 *   Enters each directory of `names` in turn: openat(cur, NAME, O_PATH|O_NOFOLLOW|O_CLOEXEC), then
 *   fstat of that very descriptor, so what the caller judges is what was opened, and no symbolic
 *   link is ever followed by the kernel. `start` is a path (opened O_PATH|O_DIRECTORY, following:
 *   /proc/PID/root is a magic link the walk must enter) or the O_PATH descriptor of a directory an
 *   earlier call entered (not repeated in the result).
 *   fds   one per directory entered, in order (the start first when it is a path): the caller's to close
 *   ids   uid, gid, st_mode (with the type bits) of each, flat; one more triple when stop is 1 or 2
 *   next  the index in names where the walk stopped (names.length: every one entered; -1: the
 *         start path could not be opened, errno says why)
 *   stop  0 done (or WALK_MAX directories entered: call again from the last fd), 1 names[next] is a
 *         symbolic link (target: its text), 2 names[next] is not a directory, 3 openat or fstat failed
 *         (errno); a name that is empty, ".", ".." or holds "/" fails with EINVAL: the caller
 *         resolves those, the kernel never does.
 * Why here and not in JS: Node has no openat(2), so each step from JS was a lookup, an open and an
 * fstat through /proc/self/fd/N/NAME (each lookup walking /proc again) per component.
 * Here one call makes two syscalls per directory. The rules (who may own or write a directory,
 * what a link may do) stay in JS, where each caller's messages are: this only reports.
 */
#define WALK_MAX 64
static napi_value walk_result(napi_env env, const int *fds, const int64_t *ids, uint32_t nfd, uint32_t nid,
                              uint32_t next, int stop, int err, const char *target) {
  napi_value o, a, b, x;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_array_with_length(env, nfd, &a));
  for (uint32_t k = 0; k < nfd; k++) {
    CHECK(napi_create_int32(env, fds[k], &x));
    CHECK(napi_set_element(env, a, k, x));
  }
  CHECK(napi_create_array_with_length(env, nid, &b));
  for (uint32_t k = 0; k < nid; k++) {
    CHECK(napi_create_int64(env, ids[k], &x));
    CHECK(napi_set_element(env, b, k, x));
  }
  napi_set_named_property(env, o, "fds", a);
  napi_set_named_property(env, o, "ids", b);
  obj_set_i32(env, o, "next", next == (uint32_t)-1 ? -1 : (int32_t)next);
  obj_set_i32(env, o, "stop", stop);
  obj_set_i32(env, o, "errno", err);
  if (target) {
    CHECK(napi_create_string_utf8(env, target, NAPI_AUTO_LENGTH, &x));
    napi_set_named_property(env, o, "target", x);
  }
  return o;
}

/* The start: a path to open (its fd and ids become the first entry) or a directory fd to go on from.
 * -1: a JS exception is pending; -2: the path could not be opened (*err). */
static int walk_start(napi_env env, napi_value v, int *fds, int64_t *ids, uint32_t *nfd, uint32_t *nid, int *err) {
  napi_valuetype t;
  int32_t fd;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t != napi_string) return get_i32(env, v, &fd) ? fd : -1;
  char start[4096];
  size_t len = 0;
  struct stat st;
  if (napi_get_value_string_utf8(env, v, start, sizeof start, &len) != napi_ok || len >= sizeof start - 1 || strlen(start) != len) {
    napi_throw_type_error(env, NULL, "walkDirs(start, names): start must be a path shorter than 4095 bytes or a fd");
    return -1;
  }
  fd = open(start, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) {
    *err = errno;
    if (fd >= 0) close(fd);
    return -2;
  }
  fds[(*nfd)++] = fd;
  ids[(*nid)++] = st.st_uid;
  ids[(*nid)++] = st.st_gid;
  ids[(*nid)++] = st.st_mode;
  return fd;
}

static napi_value WalkDirs(napi_env env, napi_callback_info info) {
  napi_value argv[2], e;
  int fds[WALK_MAX + 1];
  int64_t ids[3 * (WALK_MAX + 2)];
  uint32_t nfd = 0, nid = 0, n = 0, i = 0;
  int stop = 0, err = 0;
  char name[4096], target[4096];
  if (!get_args(env, info, 2, argv)) return NULL;
  int cur = walk_start(env, argv[0], fds, ids, &nfd, &nid, &err);
  if (cur == -2) return walk_result(env, fds, ids, 0, 0, (uint32_t)-1, 3, err, NULL);
  if (cur < 0) return NULL;
  napi_get_array_length(env, argv[1], &n);
  for (i = 0; i < n && nfd < WALK_MAX; i++) {
    size_t len = 0;
    struct stat st;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok || napi_get_value_string_utf8(env, e, name, sizeof name, &len) != napi_ok ||
        len == 0 || len >= sizeof name - 1 || strlen(name) != len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
      stop = 3, err = len >= sizeof name - 1 ? ENAMETOOLONG : EINVAL; /* strlen != len: an embedded NUL would cut the name */
      break;
    }
    int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
      err = errno, stop = 3;
      if (fd >= 0) close(fd);
      break;
    }
    ids[nid++] = st.st_uid, ids[nid++] = st.st_gid, ids[nid++] = st.st_mode;
    if (S_ISDIR(st.st_mode)) {
      fds[nfd++] = cur = fd;
      continue;
    }
    stop = 2;
    if (S_ISLNK(st.st_mode)) {
      ssize_t tl = readlinkat(fd, "", target, sizeof target - 1);
      if (tl < 0) err = errno, stop = 3, nid -= 3;
      else target[tl] = '\0', stop = 1;
    }
    close(fd);
    break;
  }
  return walk_result(env, fds, ids, nfd, nid, i, stop, err, stop == 1 ? target : NULL);
}

/* lookAt(dirfd, name) -> fd: openat(dirfd, NAME, O_PATH|O_NOFOLLOW|O_CLOEXEC), the walk's last step
 * when the caller opens what it looked at (src/kernel/walk.ts keepLeaf): O_PATH reads nothing and
 * opens no device or FIFO; a symbolic link is opened as itself. One syscall, where the same open
 * from JS goes through /proc/self/fd/DIRFD/NAME (a lookup of /proc, then of the magic link). */
static napi_value LookAt(napi_env env, napi_callback_info info) {
  napi_value argv[2], r;
  int32_t dirfd;
  char name[4096];
  size_t len = 0;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &dirfd)) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok || len == 0 || len >= sizeof name - 1 ||
      strlen(name) != len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
    return throw_errno(env, len >= sizeof name - 1 ? ENAMETOOLONG : EINVAL, "openat");
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "openat");
  napi_create_int32(env, fd, &r);
  return r;
}

/* ---- /proc reads batched for locate() (src/proc/native-reads.ts) -------------------------------
 * Each /proc read from JS costs a few microseconds of syscall plumbing; locate() makes ~40 of them
 * per locked pidfile. These make the same syscalls, with the same rules, in one call each. They
 * only read and report: every judgment stays in JS, over the same texts the ProcFs readers parse.
 *
 * holderFds(pid, dev, ino, names, hint) -> {errno, denied, fdinfo, fds}
 *   The fd scan of one process (lock-scan.ts holdsLock): the entries of /proc/PID/fd (errno: why
 *   they could not be listed, 0 if they were), each fd's link read (readlinkat), and only those
 *   whose link is an absolute path ending in one of `names` (" (deleted)" stripped) stat'ed
 *   through the link; for each on dev:ino, the text of /proc/PID/fdinfo/FD, in directory order.
 *   denied: some link, stat or fdinfo could not be read for EACCES/EPERM. fds: the fd of each
 *   fdinfo. hint >= 0: only /proc/PID/fd/HINT is examined (the fd that held the lock last time).
 * readProcMany(dir, names) -> Array<string | number>
 *   Each DIR/NAME read whole (a read returning less than asked ends a file that is ONE seq_file
 *   record; cmdline, which may come in pieces, is read until read(2) returns 0), or, for "@NAME",
 *   the link DIR/NAME read; a number is the errno that stopped it.
 */
#define PROC_TEXT_MAX (1 << 20)

static napi_value text_or_errno(napi_env env, const char *buf, ssize_t n, int err) {
  napi_value v;
  if (n < 0) napi_create_int32(env, err, &v);
  else napi_create_string_utf8(env, buf, (size_t)n, &v);
  return v;
}

/* The whole of PATH into *buf (grown as needed, up to PROC_TEXT_MAX); the length, or -1 (errno). */
static ssize_t read_proc_file(const char *path, char **buf, size_t *cap, int one_shot) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  for (;;) {
    if (n == *cap) {
      char *b = *cap < PROC_TEXT_MAX ? realloc(*buf, *cap * 2) : NULL;
      if (!b) { close(fd); errno = EFBIG; return -1; }
      *buf = b, *cap *= 2;
    }
    ssize_t r = read(fd, *buf + n, *cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (r == 0) break;
    n += (size_t)r;
    if (one_shot && n < *cap) break;
  }
  close(fd);
  return (ssize_t)n;
}

static int name_listed(napi_env env, napi_value names, uint32_t count, const char *base) {
  char want[1024]; /* a name is at most NAME_MAX (255) bytes; longer is no file's name */
  for (uint32_t k = 0; k < count; k++) {
    napi_value e;
    size_t len = 0;
    if (napi_get_element(env, names, k, &e) != napi_ok || napi_get_value_string_utf8(env, e, want, sizeof want, &len) != napi_ok) continue;
    if (len < sizeof want - 1 && !strcmp(want, base)) return 1;
  }
  return 0;
}

/* The link of fd entry NAME (in DIRFD, or /proc/PID/fd/NAME when DIRFD is -1) names the file:
 * absolute, its last component among `names`. */
static int link_matches(napi_env env, int dirfd, const char *name, napi_value names, uint32_t count, int *denied) {
  char target[4096];
  ssize_t tl = readlinkat(dirfd, name, target, sizeof target - 1);
  if (tl < 0) {
    if (errno == EACCES || errno == EPERM) *denied = 1;
    return 0;
  }
  target[tl] = '\0';
  if (target[0] != '/') return 0;
  static const char deleted[] = " (deleted)";
  size_t dl = sizeof deleted - 1;
  if ((size_t)tl >= dl && !strcmp(target + tl - dl, deleted)) target[tl - dl] = '\0';
  const char *slash = strrchr(target, '/');
  return name_listed(env, names, count, slash + 1);
}

struct fd_scan {
  napi_env env;
  int32_t pid;
  double dev, ino;
  napi_value names, texts, fds;
  uint32_t count, nout;
  int denied;
  char *buf;
  size_t cap;
};

/* One fd entry: its link, then its stat through the link, then its fdinfo, as holdsLock() reads them. */
static void examine_fd(struct fd_scan *s, int dirfd, const char *name) {
  char link_path[96];
  snprintf(link_path, sizeof link_path, "/proc/%d/fd/%s", s->pid, name);
  int rel = dirfd >= 0;
  if (!link_matches(s->env, rel ? dirfd : AT_FDCWD, rel ? name : link_path, s->names, s->count, &s->denied)) return;
  struct stat st;
  if (fstatat(rel ? dirfd : AT_FDCWD, rel ? name : link_path, &st, 0) < 0) {
    if (errno == EACCES || errno == EPERM) s->denied = 1;
    return;
  }
  if ((double)st.st_dev != s->dev || (double)st.st_ino != s->ino) return;
  char info_path[96];
  snprintf(info_path, sizeof info_path, "/proc/%d/fdinfo/%s", s->pid, name);
  ssize_t n = read_proc_file(info_path, &s->buf, &s->cap, 1);
  if (n < 0) {
    if (errno == EACCES || errno == EPERM) s->denied = 1;
    return;
  }
  napi_value fd;
  napi_create_int32(s->env, atoi(name), &fd);
  napi_set_element(s->env, s->fds, s->nout, fd);
  napi_set_element(s->env, s->texts, s->nout++, text_or_errno(s->env, s->buf, n, 0));
}

/* Every entry of /proc/PID/fd, examined in directory order; the errno that stopped the listing, or 0. */
static int scan_fd_dir(struct fd_scan *s) {
  char path[64], dents[8192];
  snprintf(path, sizeof path, "/proc/%d/fd", s->pid);
  int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
  if (dirfd < 0) return errno;
  for (;;) {
    long got = syscall(SYS_getdents64, dirfd, dents, sizeof dents);
    if (got <= 0) { err = got < 0 ? errno : 0; break; }
    for (long off = 0; off < got;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(dents + off);
      off += d->reclen;
      if (d->name[0] != '.') examine_fd(s, dirfd, d->name);
    }
  }
  close(dirfd);
  return err;
}

/* holderFds(pid, dev, ino, names, hint): hint >= 0 examines only fd `hint` (errno 0, nothing listed). */
static napi_value HolderFds(napi_env env, napi_callback_info info) {
  napi_value argv[5], o, b;
  int32_t hint = -1;
  struct fd_scan s = {.env = env, .cap = 16384};
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &s.pid) || !get_i32(env, argv[4], &hint)) return NULL;
  napi_get_value_double(env, argv[1], &s.dev);
  napi_get_value_double(env, argv[2], &s.ino);
  s.names = argv[3];
  napi_get_array_length(env, argv[3], &s.count);
  CHECK(napi_create_array(env, &s.texts));
  CHECK(napi_create_array(env, &s.fds));
  if (!(s.buf = malloc(s.cap))) return throw_errno(env, ENOMEM, "malloc");
  int list_err = 0;
  if (hint >= 0) {
    char name[16];
    snprintf(name, sizeof name, "%d", hint);
    examine_fd(&s, -1, name);
  } else {
    list_err = scan_fd_dir(&s);
  }
  free(s.buf);
  CHECK(napi_create_object(env, &o));
  /* A listing that failed part-way (the process exited) counts as not listed, as readdir's error would. */
  obj_set_i32(env, o, "errno", list_err);
  napi_get_boolean(env, s.denied, &b);
  napi_set_named_property(env, o, "denied", b);
  napi_set_named_property(env, o, "fdinfo", s.texts);
  napi_set_named_property(env, o, "fds", s.fds);
  return o;
}

static napi_value ReadProcMany(napi_env env, napi_callback_info info) {
  napi_value argv[2], out, e;
  char dir[4096], name[256], path[4096 + 256 + 2];
  size_t len = 0, cap = 16384;
  uint32_t count = 0;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], dir, sizeof dir, &len) != napi_ok || len >= sizeof dir - 1 || strlen(dir) != len) {
    napi_throw_type_error(env, NULL, "readProcMany(dir, names): dir must be a path shorter than 4095 bytes");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &count);
  char *buf = malloc(cap);
  if (!buf) return throw_errno(env, ENOMEM, "malloc");
  CHECK(napi_create_array_with_length(env, count, &out));
  for (uint32_t k = 0; k < count; k++) {
    if (napi_get_element(env, argv[1], k, &e) != napi_ok || napi_get_value_string_utf8(env, e, name, sizeof name, &len) != napi_ok ||
        len == 0 || len >= sizeof name - 1 || strlen(name) != len) {
      napi_set_element(env, out, k, text_or_errno(env, NULL, -1, EINVAL));
      continue;
    }
    int link = name[0] == '@';
    snprintf(path, sizeof path, "%s/%s", dir, name + link);
    ssize_t n;
    if (link) {
      n = readlink(path, buf, cap);
      if (n == (ssize_t)cap) n = -1, errno = ENAMETOOLONG;
    } else {
      n = read_proc_file(path, &buf, &cap, strcmp(name, "cmdline") != 0);
    }
    napi_set_element(env, out, k, text_or_errno(env, buf, n, errno));
  }
  free(buf);
  return out;
}

/* Extended attributes of an open file (the identity record beside a pidfile's content, src/locate/record.ts).
 * xattrGet(fd, name, max) -> Buffer, or null when the file has no such attribute (ENODATA); at most
 * `max` bytes (a longer value: ERANGE). xattrSet(fd, name, buffer) and xattrRemove(fd, name) -> undefined
 * (removing an absent attribute is not an error). A file system without user xattrs: EOPNOTSUPP. */
static int get_name(napi_env env, napi_value v, char *buf, size_t size) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, size, &n) != napi_ok || n == 0 || n >= size - 1) {
    napi_throw_type_error(env, NULL, "nslocate native: expected an attribute name");
    return 0;
  }
  return 1;
}

static napi_value XattrGet(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, max;
  char name[256];
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_name(env, argv[1], name, sizeof name) ||
      !get_i32(env, argv[2], &max))
    return NULL;
  if (max <= 0 || max > 65536) return throw_errno(env, EINVAL, "fgetxattr");
  char *buf = malloc((size_t)max);
  if (!buf) return throw_errno(env, ENOMEM, "malloc");
  ssize_t n = fgetxattr(fd, name, buf, (size_t)max);
  if (n < 0) {
    int e = errno;
    free(buf);
    if (e == ENODATA) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return throw_errno(env, e, "fgetxattr");
  }
  napi_value out;
  void *data;
  if (napi_create_buffer_copy(env, (size_t)n, buf, &data, &out) != napi_ok) {
    free(buf);
    return throw_errno(env, ENOMEM, "fgetxattr");
  }
  free(buf);
  return out;
}

static napi_value XattrSet(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  char name[256];
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_name(env, argv[1], name, sizeof name)) return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "nslocate native: expected a Buffer");
    return NULL;
  }
  if (fsetxattr(fd, name, data, len, 0) < 0) return throw_errno(env, errno, "fsetxattr");
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value XattrRemove(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  char name[256];
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_name(env, argv[1], name, sizeof name)) return NULL;
  if (fremovexattr(fd, name) < 0 && errno != ENODATA) return throw_errno(env, errno, "fremovexattr");
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* setChildSubreaper() -> undefined: prctl(PR_SET_CHILD_SUBREAPER, 1). `run` becomes the parent of
 * every process its COMMAND leaves orphaned (a double fork, `setsid sh -c 'x &'`), so it can reap
 * a daemon that outlived COMMAND and exit with the daemon's own status (src/acquire/follow-cgroup.ts). */
static napi_value SetChildSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return throw_errno(env, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* pidfdOpenById(id) -> a pidfd (O_CLOEXEC) on the live process whose pidfs id is `id`, or null when
 * no process visible here has that id (ESTALE: it has exited and been reaped, never existed, or has
 * no pid in the caller's PID namespace: only in the initial one does null mean it has exited).
 * The handle is a pidfs file handle (Linux 6.14 name_to_handle_at, 6.17 open_by_handle_at without
 * privileges): its type and size are taken from a handle of our own pidfd, and its 8 bytes are the
 * 64-bit id, as fs/pidfs.c encodes it on 64-bit kernels. Kernels without it: ENOTSUP (unsupported). */
static napi_value PidfdOpenById(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t id;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_int64(env, argv[0], &id) != napi_ok || id <= 0) return throw_errno(env, EINVAL, "open_by_handle_at");
  long self = syscall(SYS_pidfd_open, getpid(), 0);
  if (self < 0) return throw_errno(env, errno, "pidfd_open");
  struct {
    struct file_handle fh;
    unsigned char room[MAX_HANDLE_SZ];
  } h;
  memset(&h, 0, sizeof h);
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mnt;
  int rc = name_to_handle_at((int)self, "", &h.fh, &mnt, AT_EMPTY_PATH);
  if (rc < 0 || h.fh.handle_bytes != 8) {
    int e = rc < 0 ? errno : ENOSYS;
    close((int)self);
    if (e == EOPNOTSUPP || e == EINVAL || e == EPERM) e = ENOSYS; /* no pidfs handles here: the caller falls back */
    return throw_errno(env, e, "name_to_handle_at");
  }
  uint64_t v = (uint64_t)id;
  memcpy(h.fh.f_handle, &v, 8);
  int fd = open_by_handle_at((int)self, &h.fh, O_RDONLY | O_CLOEXEC);
  int e = errno;
  close((int)self);
  if (fd < 0) {
    if (e == ESTALE || e == ENOENT || e == ESRCH) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    if (e == EOPNOTSUPP || e == EINVAL || e == EPERM) e = ENOSYS; /* decoding needs privileges before 6.17 */
    return throw_errno(env, e, "open_by_handle_at");
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"getlk", NULL, Getlk, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setlk", NULL, Setlk, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flock", NULL, Flock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, PidfdOpen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSendSignal", NULL, PidfdSendSignal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdExited", NULL, PidfdExited, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitPidfd", NULL, WaitPidfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancelWait", NULL, CancelWait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdGetInfo", NULL, PidfdGetInfo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nsTranslate", NULL, NsTranslate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nsGetId", NULL, NsGetId, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nsOwner", NULL, NsOwner, NULL, NULL, NULL, napi_enumerable, NULL},
      {"renameExchange", NULL, RenameExchange, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawnGated", NULL, SpawnGated, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reapChild", NULL, ReapChild, NULL, NULL, NULL, napi_enumerable, NULL},
      {"walkDirs", NULL, WalkDirs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lookAt", NULL, LookAt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"holderFds", NULL, HolderFds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readProcMany", NULL, ReadProcMany, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpenById", NULL, PidfdOpenById, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xattrGet", NULL, XattrGet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xattrSet", NULL, XattrSet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xattrRemove", NULL, XattrRemove, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setChildSubreaper", NULL, SetChildSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
