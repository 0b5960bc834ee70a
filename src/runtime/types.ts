/**
 * The runtime seam (issue 19): one interface in front of every container runtime nslocate asks
 * where a container's processes are. Docker (its Engine API), Podman (its libpod API) and the
 * Kubernetes CRI (containerd, CRI-O; gRPC) each implement `ContainerRuntime`; the daemonless
 * backend reads containerd's own state directory where no socket may be used. Everything above
 * the seam (container-target.ts, in-container.ts, the commands) sees only `ContainerInfo`.
 * Modelled on Inspektor Gadget's `pkg/container-utils` (one `ContainerClient` per runtime,
 * `GetContainer`/`GetContainers` returning a runtime-neutral `ContainerData` with the pid).
 */

import type {RuntimeKind} from './spec'

export type {RuntimeKind}
/** The runtimes nslocate speaks to, as `--runtime` and the `KIND://REF` reference forms name them. */
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['docker', 'podman', 'cri']

/** A Kubernetes pod as the CRI names it (PodSandboxMetadata), or a Podman pod (no namespace). */
export interface PodRef {
  /** the Kubernetes namespace ('' for a Podman pod) */
  namespace: string
  name: string
  /** the pod's uid (Kubernetes) when the runtime says */
  uid?: string
  /** the sandbox's (CRI) or pod's (Podman) id */
  id?: string
}

/** What nslocate uses of a container, whichever runtime reported it. */
export interface ContainerInfo {
  /** the full container id (64 hex digits for Docker, Podman and containerd) */
  id: string
  /** the container's name: Docker/Podman name, or the CRI container name (ContainerMetadata.name) */
  name: string
  /** which backend answered */
  runtime: RuntimeKind
  /** the image as the runtime names it ('' when it does not say) */
  image: string
  /** its processes exist: running, or paused (frozen, but there; Docker counts a paused container as running) */
  running: boolean
  /** the runtime's own word for its state (created, running, paused, restarting, exited, dead...), when it says (Docker, Podman) */
  status?: string
  /** the container's init as a pid in the RUNTIME's PID namespace (0 when not running) */
  hostPid: number
  /**
   * Where the runtime says the init's PID namespace is: 'host' (the runtime's own), 'private' or ''
   * (one of its own), 'container:ID' (another container's), 'pod' (the pod's shared one: CRI
   * NamespaceMode POD, Podman `--share +pid`). Only 'host' relaxes the check that the init is
   * pid 1 of a namespace that is not nslocate's (container-target.ts).
   */
  pidMode: string
  /** the container's labels (Docker/Podman labels; CRI labels) */
  labels: Record<string, string>
  /** the pod the container belongs to, when it is in one */
  pod?: PodRef
}

/** A helper container to run: its image, command, PID mode, capabilities, labels, and how long it may take (ms). */
export interface HelperOptions {
  image: string
  cmd: string[]
  pidMode: string
  capAdd?: string[]
  timeoutMs: number
  labels?: Record<string, string>
}

/** A helper container's result once it ended. */
export interface HelperRun {
  /** the helper's own exit status (as its process reported it) */
  exitCode: number
  stdout: string
  stderr: string
}

/** How a container is named: a reference (name or id), or a pod and one of its containers. */
export type ContainerSelector = {ref: string} | {pod: PodRef; containerName?: string}

/**
 * One runtime's client. `where` is its address as messages name it (unix:///run/podman/podman.sock,
 * or a state directory for the daemonless backend). Errors are NslocateError: NOT_RUNNING for a
 * container that does not exist or has stopped (details.container when known, details.reason
 * `container_not_running`: down.ts), DOCKER or RUNTIME for an API failure, USAGE for a selector
 * this runtime cannot take (a pod on Docker).
 */
export interface ContainerRuntime {
  readonly kind: RuntimeKind
  readonly where: string
  /** The one container the selector names; a pod without containerName must hold exactly one container (else USAGE naming them). */
  inspect(sel: ContainerSelector): Promise<ContainerInfo>
  /** Every container the runtime knows, running or not. */
  list(): Promise<ContainerInfo[]>
  /** Run a short-lived container to completion in the runtime's PID namespace and remove it, whatever happens (Docker, Podman). */
  runToCompletion?(opts: HelperOptions): Promise<HelperRun>
}
