/**
 * The Kubernetes Container Runtime Interface (CRI) v1, as nslocate speaks it: the message and service
 * definitions of RuntimeService trimmed to the calls nslocate makes (Version, ListPodSandbox,
 * PodSandboxStatus, ListContainers, ContainerStatus) and those its test kubelet makes
 * (RunPodSandbox, StopPodSandbox, RemovePodSandbox, CreateContainer, StartContainer, StopContainer,
 * RemoveContainer), with every message and enum they reach.
 *
 * Source: k8s.io/cri-api, pkg/apis/runtime/v1/api.proto at tag v0.36.3
 * (https://github.com/kubernetes/cri-api, commit 1733b6a9fa123c5887eefa14523c532b12827f73),
 * Copyright 2020 The Kubernetes Authors, Apache License 2.0. The file is kept verbatim in
 * fixtures/cri/api.proto; CRI_PROTO below is the output of `node fixtures/cri/trim-proto.js`
 * (each kept rpc line, message and enum verbatim, comments dropped), and
 * test/runtime/cri-proto.test.ts checks that it still is. Field numbers and names of CRI v1 are
 * stable across releases: containerd 1.6 (CRI v1 of Kubernetes 1.23-1.26) and CRI-O answer these
 * messages; fields a runtime does not know it leaves unset, and fields it sends that this text does
 * not name are skipped when decoding. That version of api.proto carries no gogo options (upstream
 * removed them); there was nothing to strip.
 *
 * Why a string constant: the proto is parsed at run time (protobufjs), so dist/ needs no .proto file
 * beside the JavaScript (a file would be one more thing for the bundle, the .deb and the npm package
 * to ship and to find at run time), and none of it is loaded unless the CRI is used: loadCri()
 * requires @grpc/grpc-js and protobufjs on first call only. Why not @grpc/proto-loader: see loadCri().
 */

export const CRI_PROTO = `syntax = "proto3";

package runtime.v1;

service RuntimeService {
    
    rpc Version(VersionRequest) returns (VersionResponse) {}

    
    
    rpc RunPodSandbox(RunPodSandboxRequest) returns (RunPodSandboxResponse) {}
    
    
    
    
    
    
    
    
    
    rpc StopPodSandbox(StopPodSandboxRequest) returns (StopPodSandboxResponse) {}
    
    
    
    
    rpc RemovePodSandbox(RemovePodSandboxRequest) returns (RemovePodSandboxResponse) {}
    
    
    rpc PodSandboxStatus(PodSandboxStatusRequest) returns (PodSandboxStatusResponse) {}
    
    rpc ListPodSandbox(ListPodSandboxRequest) returns (ListPodSandboxResponse) {}

    
    rpc CreateContainer(CreateContainerRequest) returns (CreateContainerResponse) {}
    
    rpc StartContainer(StartContainerRequest) returns (StartContainerResponse) {}
    
    
    
    
    
    rpc StopContainer(StopContainerRequest) returns (StopContainerResponse) {}
    
    
    
    
    rpc RemoveContainer(RemoveContainerRequest) returns (RemoveContainerResponse) {}
    
    rpc ListContainers(ListContainersRequest) returns (ListContainersResponse) {}
    
    
    rpc ContainerStatus(ContainerStatusRequest) returns (ContainerStatusResponse) {}
}

message VersionRequest {
    string version = 1;
}

message VersionResponse {
    string version = 1;
    string runtime_name = 2;
    string runtime_version = 3;
    string runtime_api_version = 4;
}

message DNSConfig {
    repeated string servers = 1;
    repeated string searches = 2;
    repeated string options = 3;
}

enum Protocol {
    TCP = 0;
    UDP = 1;
    SCTP = 2;
}

message PortMapping {
    Protocol protocol = 1;
    int32 container_port = 2;
    int32 host_port = 3;
    string host_ip = 4;
}

enum MountPropagation {
    PROPAGATION_PRIVATE = 0;
    PROPAGATION_HOST_TO_CONTAINER = 1;
    PROPAGATION_BIDIRECTIONAL = 2;
}

message Mount {
    string container_path = 1;
    string host_path = 2;
    bool readonly = 3;
    bool selinux_relabel = 4;
    MountPropagation propagation = 5;
    repeated IDMapping uidMappings = 6;
    repeated IDMapping gidMappings = 7;
    bool recursive_read_only = 8;
    ImageSpec image = 9;
    string image_sub_path = 10;
}

message IDMapping {
    uint32 host_id = 1;
    uint32 container_id = 2;
    uint32 length = 3;
}

enum NamespaceMode {
    POD       = 0;
    CONTAINER = 1;
    NODE      = 2;
    TARGET    = 3;
}

message UserNamespace {
    NamespaceMode mode = 1;
    repeated IDMapping uids = 2;
    repeated IDMapping gids = 3;
}

message NamespaceOption {
    NamespaceMode network = 1;
    NamespaceMode pid = 2;
    NamespaceMode ipc = 3;
    string target_id = 4;
    UserNamespace userns_options = 5;
}

enum SupplementalGroupsPolicy {
    Merge = 0;
    Strict = 1;
}

message Int64Value {
    int64 value = 1;
}

message LinuxSandboxSecurityContext {
    NamespaceOption namespace_options = 1;
    SELinuxOption selinux_options = 2;
    Int64Value run_as_user = 3;
    Int64Value run_as_group = 8;
    bool readonly_rootfs = 4;
    repeated int64 supplemental_groups = 5;
    SupplementalGroupsPolicy supplemental_groups_policy = 11;
    bool privileged = 6;
    SecurityProfile seccomp = 9;
    SecurityProfile apparmor = 10;
    string seccomp_profile_path = 7 [deprecated=true];
}

message SecurityProfile {
    enum ProfileType {
        RuntimeDefault = 0;
        Unconfined = 1;
        Localhost = 2;
    }
    ProfileType profile_type = 1;
    string localhost_ref = 2;
}

message LinuxPodSandboxConfig {
    string cgroup_parent = 1;
    LinuxSandboxSecurityContext security_context = 2;
    map<string, string> sysctls = 3;
    LinuxContainerResources overhead = 4;
    LinuxContainerResources resources = 5;
}

message PodSandboxMetadata {
    string name = 1;
    string uid = 2;
    string namespace = 3;
    uint32 attempt = 4;
}

message PodSandboxConfig {
    PodSandboxMetadata metadata = 1;
    string hostname = 2;
    string log_directory = 3;
    DNSConfig dns_config = 4;
    repeated PortMapping port_mappings = 5;
    map<string, string> labels = 6;
    map<string, string> annotations = 7;
    LinuxPodSandboxConfig linux = 8;
    WindowsPodSandboxConfig windows = 9;
}

message RunPodSandboxRequest {
    PodSandboxConfig config = 1;
    string runtime_handler = 2;
}

message RunPodSandboxResponse {
    string pod_sandbox_id = 1;
}

message StopPodSandboxRequest {
    string pod_sandbox_id = 1;
}

message StopPodSandboxResponse {}

message RemovePodSandboxRequest {
    string pod_sandbox_id = 1;
}

message RemovePodSandboxResponse {}

message PodSandboxStatusRequest {
    string pod_sandbox_id = 1;
    bool verbose = 2;
}

message PodIP{
    string ip = 1;
}

message PodSandboxNetworkStatus {
    string ip = 1;
    repeated PodIP additional_ips  = 2;
}

message Namespace {
    NamespaceOption options = 2;
}

message LinuxPodSandboxStatus {
    Namespace namespaces = 1;
}

enum PodSandboxState {
    SANDBOX_READY    = 0;
    SANDBOX_NOTREADY = 1;
}

message PodSandboxStatus {
    string id = 1;
    PodSandboxMetadata metadata = 2;
    PodSandboxState state = 3;
    int64 created_at = 4;
    PodSandboxNetworkStatus network = 5;
    LinuxPodSandboxStatus linux = 6;
    map<string, string> labels = 7;
    map<string, string> annotations = 8;
    string runtime_handler = 9;
}

message PodSandboxStatusResponse {
    PodSandboxStatus status = 1;
    map<string, string> info = 2;
    repeated ContainerStatus containers_statuses = 3;
    int64 timestamp = 4;
}

message PodSandboxStateValue {
    PodSandboxState state = 1;
}

message PodSandboxFilter {
    string id = 1;
    PodSandboxStateValue state = 2;
    map<string, string> label_selector = 3;
}

message ListPodSandboxRequest {
    PodSandboxFilter filter = 1;
}

message PodSandbox {
    string id = 1;
    PodSandboxMetadata metadata = 2;
    PodSandboxState state = 3;
    int64 created_at = 4;
    map<string, string> labels = 5;
    map<string, string> annotations = 6;
    string runtime_handler = 7;
}

message ListPodSandboxResponse {
    repeated PodSandbox items = 1;
}

message ImageSpec {
    string image = 1;
    map<string, string> annotations = 2;
    string user_specified_image = 18;
    string runtime_handler = 19;
    string image_ref = 20;
}

message KeyValue {
    string key = 1;
    string value = 2;
}

message LinuxContainerResources {
    int64 cpu_period = 1;
    int64 cpu_quota = 2;
    int64 cpu_shares = 3;
    int64 memory_limit_in_bytes = 4;
    int64 oom_score_adj = 5;
    string cpuset_cpus = 6;
    string cpuset_mems = 7;
    repeated HugepageLimit hugepage_limits = 8;
    map<string, string> unified = 9;
    int64 memory_swap_limit_in_bytes = 10;
}

message HugepageLimit {
    string page_size = 1;
    uint64 limit = 2;
}

message SELinuxOption {
    string user = 1;
    string role = 2;
    string type = 3;
    string level = 4;
}

message Capability {
    repeated string add_capabilities = 1;
    repeated string drop_capabilities = 2;
    repeated string add_ambient_capabilities = 3;
}

message LinuxContainerSecurityContext {
    Capability capabilities = 1;
    bool privileged = 2;
    NamespaceOption namespace_options = 3;
    SELinuxOption selinux_options = 4;
    Int64Value run_as_user = 5;
    Int64Value run_as_group = 12;
    string run_as_username = 6;
    bool readonly_rootfs = 7;
    repeated int64 supplemental_groups = 8;
    SupplementalGroupsPolicy supplemental_groups_policy = 17;
    bool no_new_privs = 11;
    repeated string masked_paths = 13;
    repeated string readonly_paths = 14;
    SecurityProfile seccomp = 15;
    SecurityProfile apparmor = 16;
    string apparmor_profile = 9 [deprecated=true];
    string seccomp_profile_path = 10 [deprecated=true];
}

message LinuxContainerConfig {
    LinuxContainerResources resources = 1;
    LinuxContainerSecurityContext security_context = 2;
}

message LinuxContainerUser {
    int64 uid = 1;
    int64 gid = 2;
    repeated int64 supplemental_groups = 3;
}

message WindowsNamespaceOption {
    NamespaceMode network = 1;
}

message WindowsSandboxSecurityContext {
    string run_as_username = 1;
    string credential_spec = 2;
    bool host_process = 3;
    WindowsNamespaceOption namespace_options = 4;
}

message WindowsPodSandboxConfig {
    WindowsSandboxSecurityContext security_context = 1;
}

message WindowsContainerSecurityContext {
    string run_as_username = 1;
    string credential_spec = 2;
    bool host_process = 3;
}

message WindowsContainerConfig {
    WindowsContainerResources resources = 1;
    WindowsContainerSecurityContext security_context = 2;
}

message WindowsContainerResources {
    int64 cpu_shares = 1;
    int64 cpu_count = 2;
    int64 cpu_maximum = 3;
    int64 memory_limit_in_bytes = 4;
    int64 rootfs_size_in_bytes = 5;
    repeated WindowsCpuGroupAffinity affinity_cpus = 6;
}

message WindowsCpuGroupAffinity {
    uint64 cpu_mask = 1;
    uint32 cpu_group = 2;
}

message ContainerMetadata {
    string name = 1;
    uint32 attempt = 2;
}

message Device {
    string container_path = 1;
    string host_path = 2;
    string permissions = 3;
}

message CDIDevice {
    string name = 1;
}

message ContainerConfig {
    ContainerMetadata metadata = 1 ;
    ImageSpec image = 2;
    repeated string command = 3;
    repeated string args = 4;
    string working_dir = 5;
    repeated KeyValue envs = 6;
    repeated Mount mounts = 7;
    repeated Device devices = 8;
    map<string, string> labels = 9;
    map<string, string> annotations = 10;
    string log_path = 11;
    bool stdin = 12;
    bool stdin_once = 13;
    bool tty = 14;
    LinuxContainerConfig linux = 15;
    WindowsContainerConfig windows = 16;
    repeated CDIDevice CDI_devices = 17;
    Signal stop_signal = 18;
}

enum Signal {
    RUNTIME_DEFAULT   = 0;
    SIGABRT           = 1;
    SIGALRM           = 2;
    SIGBUS            = 3;
    SIGCHLD           = 4;
    SIGCLD            = 5;
    SIGCONT           = 6;
    SIGFPE            = 7;
    SIGHUP            = 8;
    SIGILL            = 9;
    SIGINT            = 10;
    SIGIO             = 11;
    SIGIOT            = 12;
    SIGKILL           = 13;
    SIGPIPE           = 14;
    SIGPOLL           = 15;
    SIGPROF           = 16;
    SIGPWR            = 17;
    SIGQUIT           = 18;
    SIGSEGV           = 19;
    SIGSTKFLT         = 20;
    SIGSTOP           = 21;
    SIGSYS            = 22;
    SIGTERM           = 23;
    SIGTRAP           = 24;
    SIGTSTP           = 25;
    SIGTTIN           = 26;
    SIGTTOU           = 27;
    SIGURG            = 28;
    SIGUSR1           = 29;
    SIGUSR2           = 30;
    SIGVTALRM         = 31;
    SIGWINCH          = 32;
    SIGXCPU           = 33;
    SIGXFSZ           = 34;
    SIGRTMIN          = 35;
    SIGRTMINPLUS1     = 36;
    SIGRTMINPLUS2     = 37;
    SIGRTMINPLUS3     = 38;
    SIGRTMINPLUS4     = 39;
    SIGRTMINPLUS5     = 40;
    SIGRTMINPLUS6     = 41;
    SIGRTMINPLUS7     = 42;
    SIGRTMINPLUS8     = 43;
    SIGRTMINPLUS9     = 44;
    SIGRTMINPLUS10    = 45;
    SIGRTMINPLUS11    = 46;
    SIGRTMINPLUS12    = 47;
    SIGRTMINPLUS13    = 48;
    SIGRTMINPLUS14    = 49;
    SIGRTMINPLUS15    = 50;
    SIGRTMAXMINUS14   = 51;
    SIGRTMAXMINUS13   = 52;
    SIGRTMAXMINUS12   = 53;
    SIGRTMAXMINUS11   = 54;
    SIGRTMAXMINUS10   = 55;
    SIGRTMAXMINUS9    = 56;
    SIGRTMAXMINUS8    = 57;
    SIGRTMAXMINUS7    = 58;
    SIGRTMAXMINUS6    = 59;
    SIGRTMAXMINUS5    = 60;
    SIGRTMAXMINUS4    = 61;
    SIGRTMAXMINUS3    = 62;
    SIGRTMAXMINUS2    = 63;
    SIGRTMAXMINUS1    = 64;
    SIGRTMAX          = 65;
}

message CreateContainerRequest {
    string pod_sandbox_id = 1;
    ContainerConfig config = 2;
    PodSandboxConfig sandbox_config = 3;
}

message CreateContainerResponse {
    string container_id = 1;
}

message StartContainerRequest {
    string container_id = 1;
}

message StartContainerResponse {}

message StopContainerRequest {
    string container_id = 1;
    int64 timeout = 2;
}

message StopContainerResponse {}

message RemoveContainerRequest {
    string container_id = 1;
}

message RemoveContainerResponse {}

enum ContainerState {
    CONTAINER_CREATED = 0;
    CONTAINER_RUNNING = 1;
    CONTAINER_EXITED  = 2;
    CONTAINER_UNKNOWN = 3;
}

message ContainerStateValue {
    ContainerState state = 1;
}

message ContainerFilter {
    string id = 1;
    ContainerStateValue state = 2;
    string pod_sandbox_id = 3;
    map<string, string> label_selector = 4;
}

message ListContainersRequest {
    ContainerFilter filter = 1;
}

message Container {
    string id = 1;
    string pod_sandbox_id = 2;
    ContainerMetadata metadata = 3;
    ImageSpec image = 4;
    string image_ref = 5;
    ContainerState state = 6;
    int64 created_at = 7;
    map<string, string> labels = 8;
    map<string, string> annotations = 9;
    string image_id = 10;
}

message ListContainersResponse {
    repeated Container containers = 1;
}

message ContainerStatusRequest {
    string container_id = 1;
    bool verbose = 2;
}

message ContainerStatus {
    string id = 1;
    ContainerMetadata metadata = 2;
    ContainerState state = 3;
    int64 created_at = 4;
    int64 started_at = 5;
    int64 finished_at = 6;
    int32 exit_code = 7;
    ImageSpec image = 8;
    string image_ref = 9;
    string reason = 10;
    string message = 11;
    map<string,string> labels = 12;
    map<string,string> annotations = 13;
    repeated Mount mounts = 14;
    string log_path = 15;
    ContainerResources resources = 16;
    string image_id = 17;
    ContainerUser user = 18;
    Signal stop_signal = 19;
}

message ContainerStatusResponse {
    ContainerStatus status = 1;
    map<string, string> info = 2;
}

message ContainerResources {
    LinuxContainerResources linux = 1;
    WindowsContainerResources windows = 2;
}

message ContainerUser {
    LinuxContainerUser linux = 1;
}
`

/** The calls of CRI_PROTO's RuntimeService, as the loaded client names them. */
export const CRI_RPCS = [
  'Version',
  'RunPodSandbox',
  'StopPodSandbox',
  'RemovePodSandbox',
  'PodSandboxStatus',
  'ListPodSandbox',
  'CreateContainer',
  'StartContainer',
  'StopContainer',
  'RemoveContainer',
  'ListContainers',
  'ContainerStatus',
] as const

/**
 * How messages are turned into plain objects (protobufjs toObject options, the ones
 * @grpc/proto-loader would be given): field names as the proto spells them (snake_case, from
 * parse's keepCase), 64-bit integers as decimal strings (created_at in ns exceeds 2^53), enums as
 * their numbers, unset fields as their proto3 defaults (messages as null), maps as plain objects.
 */
export const CRI_DECODE = {longs: String, enums: Number, defaults: true, oneofs: true} as const

/** What loadCri() gives: the grpc-js module and the RuntimeService client constructor. */
export interface CriModule {
  grpc: typeof import('@grpc/grpc-js')
  RuntimeService: import('@grpc/grpc-js').ServiceClientConstructor
}

let loaded: CriModule | undefined

/**
 * @grpc/grpc-js and the RuntimeService client, loaded on first use, then cached. Nothing else in
 * nslocate loads them. The service definition is made from protobufjs's parse of CRI_PROTO
 * directly: each call's path (/runtime.v1.RuntimeService/NAME) and its (de)serialisers
 * (Type.fromObject + encode, decode + toObject with CRI_DECODE), which is what @grpc/proto-loader's
 * fromJSON() would build, without its descriptor machinery: measured here, requiring proto-loader
 * and its fromJSON() cost ~55 ms of the ~110 ms the CRI took to load, this ~10 ms.
 */
export function loadCri(): CriModule {
  if (loaded) return loaded
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js')
  const protobuf = require('protobufjs') as typeof import('protobufjs')
  const root = protobuf.parse(CRI_PROTO, {keepCase: true}).root
  const service = root.lookupService('runtime.v1.RuntimeService')
  const definition: Record<string, import('@grpc/grpc-js').MethodDefinition<object, object>> = {}
  for (const method of service.methodsArray) {
    method.resolve()
    const req = method.resolvedRequestType!
    const res = method.resolvedResponseType!
    definition[method.name] = {
      path: `/runtime.v1.RuntimeService/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (o: object) => Buffer.from(req.encode(req.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), CRI_DECODE),
      responseSerialize: (o: object) => Buffer.from(res.encode(res.fromObject(o)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), CRI_DECODE),
      originalName: method.name,
    }
  }
  loaded = {grpc, RuntimeService: grpc.makeGenericClientConstructor(definition, 'RuntimeService')}
  return loaded
}
