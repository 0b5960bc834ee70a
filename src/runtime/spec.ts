/**
 * Where a service's container is, as options name it (`container`, `pod`, `containerName`,
 * `runtime`), split from the other options in one place: every command and library call that may
 * act in a container asks splitContainer() whether it does. No imports: the fast path bundles it.
 */

/** The runtimes nslocate speaks to, as `runtime` and the `KIND://REF` reference forms name them. */
export type RuntimeKind = 'docker' | 'podman' | 'cri'

/** Where a service's container is: `container` (REF or KIND://REF), or `pod` (+ `containerName`); `runtime` narrows the runtimes asked ('auto' or absent: every runtime found). */
export interface ContainerSpec {
  container?: string
  pod?: string
  containerName?: string
  runtime?: RuntimeKind | 'auto'
}

/** The options naming a container. */
type Keys = keyof ContainerSpec

/**
 * `opts` split into the container it names (null: none, the service is looked for here or under
 * rootPid) and the other options. A container-name or runtime without container or pod names no
 * container: those are refused by the container route only when a container is named, and a
 * containerName alone is a usage error there (select.ts).
 */
export function splitContainer<T extends ContainerSpec>(opts: T): {spec: ContainerSpec | null; rest: Omit<T, Keys>} {
  const {container, pod, containerName, runtime, ...rest} = opts
  const spec: ContainerSpec = {}
  if (container !== undefined) spec.container = container
  if (pod !== undefined) spec.pod = pod
  if (containerName !== undefined) spec.containerName = containerName
  if (runtime !== undefined && runtime !== 'auto') spec.runtime = runtime
  const named = container !== undefined || pod !== undefined || containerName !== undefined
  return {spec: named ? spec : null, rest}
}
