/**
 * /proc/PID/cgroup -> the container a process belongs to, from the path alone (no API call).
 * Every layout below is backed by a real sample with its source in fixtures/cgroup-paths/
 * (test/unit/cgroup-paths.test.ts); ID is 64 lowercase hex digits.
 *   /docker/ID                                              Docker, cgroupfs driver (v1 and v2)
 *   /system.slice/docker-ID.scope                           Docker, systemd driver
 *   /libpod_parent/libpod-ID, /libpod_parent/POD/libpod-ID  Podman, cgroupfs (rootful; POD: a pod)
 *   /machine.slice/libpod-ID.scope[/container]              Podman, systemd (rootful)
 *   /user.slice/user-U.slice/user@U.service/user.slice/libpod-ID.scope/container   rootless Podman
 *   /system.slice/crio-ID.scope                             CRI-O
 *   /system.slice/nerdctl-ID.scope                          nerdctl (containerd), systemd
 *   /default/ID, /k8s.io/ID, /moby/ID                       containerd's own default (ctr, nerdctl on
 *                                                           cgroupfs): "/" + namespace + "/" + id
 *   Kubernetes, systemd driver (containerd, CRI-O, dockershim; kind prefixes kubelet-):
 *     /kubepods.slice/kubepods-QOS.slice/kubepods-QOS-podUID_WITH_UNDERSCORES.slice/cri-containerd-ID.scope
 *     /kubepods.slice/kubepods-podUID.slice/crio-ID.scope     (Guaranteed: no QOS level)
 *     /system.slice/containerd.service/kubepods-QOS-podUID.slice:cri-containerd:ID   (the unconverted
 *       "slice:prefix:name" form containerd leaves when its runc is not told to use systemd)
 *   Kubernetes, cgroupfs driver (k3s too; also under a user's service for rootless Kubernetes):
 *     /kubepods/QOS/podUID/ID, /kubepods/podUID/ID (Guaranteed), /kubepods/QOS/podUID/crio-ID
 * A path may continue below the container's cgroup (/container, a systemd inside the container,
 * kube-proxy's own sub-cgroup): that is still the container.
 *
 * Decisions:
 *   - Nested containers (Docker in Docker /docker/OUTER/docker/INNER, a kind or k3d node
 *     /docker/NODE/kubepods/.../ID): the innermost container is the answer. It is the one the
 *     process runs in; the engine that knows it is the inner one, and from the host the outer
 *     engine's init pid has the outer path, which still names the outer container.
 *   - Monitors are not in the container: conmon's libpod-conmon-ID.scope and crio-conmon-ID.scope
 *     give no container (an enclosing one, if any, is the answer).
 *   - A pod's own cgroup (kubepods-...-podUID.slice, /kubepods/.../podUID, Podman's
 *     /libpod_parent/POD and machine-libpod_pod_POD.slice) holds several containers: no container.
 *   - containerd's default "/NAMESPACE/ID" is recognised only for the path /default/ID, /k8s.io/ID
 *     or /moby/ID exactly (containerd's oci/spec.go default, used by ctr and by nerdctl on cgroupfs).
 *     Any other "/NAME/ID" is not: a 64-hex leaf under an arbitrary parent is also what Podman
 *     gives a pod (/libpod_parent/POD, captured here) and what `docker run --cgroup-parent=/NAME`
 *     gives a Docker container, so the parent's name has to be the evidence. A container in another
 *     containerd namespace is then simply not named (container null), never misnamed.
 *   - Look-alikes are not containers: docker-ID without ".scope" (/home/docker-ID), a bare ID with
 *     no runtime's parent (/ID, /something/ID), a 63- or 65-digit id.
 * The pod uid is returned (podUid) when the container sits directly in a Kubernetes pod's cgroup;
 * the systemd form's underscores are turned back into the uid's dashes.
 */
export interface ContainerRef {
  id: string
  name: string | null
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'cri'
  /** the cgroup path that identified it */
  cgroup: string
  /** the Kubernetes pod's uid (metadata.uid), when the container's cgroup is in a pod's */
  podUid?: string
}

/** One line of /proc/PID/cgroup. */
export interface CgroupLine {
  hierarchy: number
  controllers: string[]
  path: string
}

/** The lines of /proc/PID/cgroup. */
export function parseCgroup(text: string): CgroupLine[] {
  const out: CgroupLine[] = []
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line)
    if (m) out.push({hierarchy: Number(m[1]), controllers: m[2] ? m[2].split(',') : [], path: m[3]})
  }
  return out
}

const ID = /^[0-9a-f]{64}$/
/** a pod uid: a UUID, or 32 hex digits (a static pod's config hash); '_' where systemd escaped '-' */
const UID = '([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})'
/** a component of a Kubernetes cgroup tree: kubepods, kubepods.slice, kubepods-besteffort.slice, kubelet-kubepods.slice */
const KUBE_ROOT = /^(?:[a-z0-9]+-)*kubepods(?:[.-]|$)/
/** a pod's cgroup, systemd driver; the ":cri-containerd:ID" tail is containerd's unconverted form */
const KUBE_POD_SLICE = new RegExp(`^(?:[a-z0-9]+-)*kubepods(?:-[a-z]+)?-pod${UID}\\.slice(?::cri-containerd:([0-9a-f]{64}))?$`)
/** a pod's cgroup, cgroupfs driver (only below a kubepods component) */
const KUBE_POD_DIR = new RegExp(`^pod${UID}$`)
/** a container's own cgroup, whatever its parent */
const SCOPES: Array<[RegExp, ContainerRef['runtime']]> = [
  [/^docker-([0-9a-f]{64})\.scope$/, 'docker'],
  [/^cri-containerd-([0-9a-f]{64})\.scope$/, 'containerd'],
  [/^nerdctl-([0-9a-f]{64})\.scope$/, 'containerd'],
  [/^crio-([0-9a-f]{64})\.scope$/, 'cri-o'],
  [/^libpod-([0-9a-f]{64})(?:\.scope)?$/, 'podman'],
]
/** a runtime's monitor next to the container, not in it */
const MONITOR = /^(?:libpod|crio)-conmon-[0-9a-f]{64}(?:\.scope)?$/
/** containerd namespaces whose default cgroup "/NS/ID" is recognised (see the decisions above) */
const CONTAINERD_NAMESPACES = new Set(['default', 'k8s.io', 'moby'])

interface Found {
  id: string
  runtime: ContainerRef['runtime']
  podUid?: string
}

/** The innermost container one cgroup path names, or null. */
export function containerInPath(cgPath: string): Found | null {
  const parts = cgPath.split('/').filter((p) => p !== '' && p !== '.')
  let found: (Found & {at: number}) | null = null
  let pod: {uid: string; at: number} | null = null
  let kube = false
  const hit = (at: number, id: string, runtime: ContainerRef['runtime']) => {
    const inPod = pod !== null && pod.at === at - 1 && (found === null || pod.at > found.at)
    found = {id, runtime, at, ...(inPod && pod ? {podUid: pod.uid} : {})}
  }
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    let m: RegExpExecArray | null
    if ((m = KUBE_POD_SLICE.exec(part))) {
      kube = true
      pod = {uid: m[1].replace(/_/g, '-'), at: i}
      if (m[2]) hit(i + 1, m[2], 'containerd')
      continue
    }
    if (kube && (m = KUBE_POD_DIR.exec(part))) {
      pod = {uid: m[1], at: i}
      continue
    }
    if (KUBE_ROOT.test(part)) {
      kube = true
      continue
    }
    if (MONITOR.test(part)) continue
    const scope = SCOPES.find(([re]) => re.test(part))
    if (scope) {
      hit(i, (scope[0].exec(part) as RegExpExecArray)[1], scope[1])
      continue
    }
    if (/^crio-[0-9a-f]{64}$/.test(part) && pod && pod.at === i - 1) {
      hit(i, part.slice(5), 'cri-o') // CRI-O on cgroupfs: /kubepods/QOS/podUID/crio-ID
      continue
    }
    if (!ID.test(part)) continue
    if (pod && pod.at === i - 1) hit(i, part, 'kubernetes')
    else if (parts[i - 1] === 'docker') hit(i, part, 'docker')
    else if (i === 1 && parts.length === 2 && CONTAINERD_NAMESPACES.has(parts[0])) hit(i, part, 'containerd')
  }
  if (!found) return null
  const {id, runtime, podUid} = found as Found & {at: number}
  return podUid ? {id, runtime, podUid} : {id, runtime}
}

/**
 * The container (Docker, containerd, CRI-O, Podman, a Kubernetes pod's) a process's cgroup paths
 * name, or null. The unified (v2) line is asked first, then the v1 lines in their order.
 */
export function containerFromCgroup(lines: CgroupLine[]): ContainerRef | null {
  const ordered = [...lines.filter((l) => l.hierarchy === 0), ...lines.filter((l) => l.hierarchy !== 0)]
  for (const line of ordered) {
    const c = containerInPath(line.path)
    if (c) return {id: c.id, name: null, runtime: c.runtime, cgroup: line.path, ...(c.podUid ? {podUid: c.podUid} : {})}
  }
  return null
}
