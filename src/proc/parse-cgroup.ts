/**
 * /proc/PID/cgroup -> the container a process belongs to, from the path alone (no API call).
 * Samples of the patterns recognised:
 *   12:pids:/docker/3f4e...64 hex                         docker, cgroupfs driver (v1 or v2)
 *   0::/system.slice/docker-3f4e....scope                  docker, systemd driver
 *   0::/system.slice/containerd.service/kubepods-...-pod<uid>.slice:cri-containerd:<id>
 *   0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope
 *   0::/kubepods/besteffort/pod<uid>/<id>                  kubelet cgroupfs driver
 *   0::/machine.slice/libpod-<id>.scope                     podman (rootful)
 *   0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-<id>.scope   podman rootless
 *   0::/system.slice/crio-<id>.scope                        cri-o
 */
export interface ContainerRef {
  id: string
  name: string | null
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes'
  /** the cgroup path that identified it */
  cgroup: string
}

const ID = '([0-9a-f]{64})'
const PATTERNS: Array<[RegExp, ContainerRef['runtime']]> = [
  [new RegExp(`/docker[-/]${ID}(?:\\.scope)?(?:/|$)`), 'docker'],
  [new RegExp(`cri-containerd[-:]${ID}(?:\\.scope)?(?:/|$)`), 'containerd'],
  [new RegExp(`crio-(?:conmon-)?${ID}(?:\\.scope)?(?:/|$)`), 'cri-o'],
  [new RegExp(`libpod-(?:conmon-)?${ID}(?:\\.scope)?(?:/|$)`), 'podman'],
  [new RegExp(`/kubepods[^\\n]*/pod[0-9a-f_-]+(?:\\.slice)?/${ID}(?:/|$)`), 'kubernetes'],
]

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

/** The container (Docker, containerd, podman) a process's cgroup paths name, or null. */
export function containerFromCgroup(lines: CgroupLine[]): ContainerRef | null {
  // Prefer the unified (v2) line, then any v1 line.
  const ordered = [...lines.filter((l) => l.hierarchy === 0), ...lines.filter((l) => l.hierarchy !== 0)]
  for (const line of ordered) {
    for (const [re, runtime] of PATTERNS) {
      const m = re.exec(line.path)
      if (m) return {id: m[1], name: null, runtime, cgroup: line.path}
    }
  }
  return null
}
