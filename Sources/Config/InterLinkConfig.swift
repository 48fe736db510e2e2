/// Everything `interlink serve` reads from `InterLinkConfig.yaml`. Keys keep the
/// spelling the upstream interLink uses where one exists, so one file can serve
/// both. Every field has a default; `config/README.md` documents each.
public struct InterLinkConfig: Sendable, Equatable {
    // MARK: Server (upstream keys)
    /// `http://host`, `https://host` or `unix:///path/to.sock`.
    public var interlinkAddress = "http://127.0.0.1"
    public var interlinkPort = 3000
    /// Legacy plugin address; kept for compatibility, used by the later sidecar mode.
    public var sidecarURL = "http://127.0.0.1"
    public var sidecarPort = 4000
    /// Where the journal and each pod's files live (`<namespace>-<uid>/`).
    public var dataRootFolder = "/var/lib/interlink"
    /// Where the journal lives; empty: `DataRootFolder/state`. Set it to keep the
    /// journal (which holds every pod's Secrets) off a filesystem the compute nodes mount.
    public var stateFolder = ""
    public var verboseLogging = false
    public var errorsOnlyLogging = false
    public var tls = TLSConfig()
    /// A file holding the bearer token every API call must carry (re-read on change).
    public var vkTokenFile: String? = nil

    // MARK: Server limits
    public var maxBodyBytes = 32 * 1024 * 1024
    /// An idle or slow client is disconnected after this long without progress.
    public var readTimeoutSeconds = 30.0
    public var maxConnections = 1024
    /// A request body must be complete this long after its head, however steadily it arrives.
    public var bodyTimeoutSeconds = 60.0

    // MARK: Reconciler
    /// `mock`, `docker` or `slurm` (upstream's `SidecarService` is accepted too).
    public var provider: ProviderKind = .mock
    public var reconcileIntervalSeconds = 5.0
    /// Failed creates are retried with backoff this many times, then the pod is Failed.
    public var maxCreateAttempts = 5
    /// Labels/comments stamped on backend jobs name this instance, so two
    /// InterLinks sharing a backend never take each other's jobs for orphans.
    public var instanceName = "interlink"
    /// Pods whose backend lost them are re-created at most this many times.
    public var maxRestarts = 10
    /// A backend job of this instance whose pod is unknown is cancelled as an
    /// orphan only once it stayed unknown this long (seconds, from first sight).
    public var orphanGraceSeconds = 300.0

    // MARK: Mock provider
    /// How long each mock container "runs" unless the pod says otherwise
    /// (annotation `interlink.mock/run-seconds`).
    public var mockRunSeconds = 5.0

    // MARK: Docker provider
    public var dockerPath = "docker"
    /// Passed to the CLI as `DOCKER_HOST` when set.
    public var dockerHost: String? = nil
    /// `--network` for pod containers.
    public var dockerNetwork = "bridge"
    /// The static `interlink-probe` helper (httpGet/tcpSocket probes and hooks run it
    /// inside containers); empty: the one next to the running executable.
    public var dockerProbeHelper = ""
    /// First wait before a kubelet-style container restart (doubling to 300 s).
    /// Kubernetes' is 10 s; tests make it short.
    public var dockerRestartBackoffSeconds = 10
    public var allowHostPath = false
    public var enableGPU = false
    /// `auto`, `required` or `off`: whether each subPath is bind-mounted onto a pin
    /// path InterLink owns before Docker binds it (see `SubPathPinning` in Providers).
    public var subPathPinning = "auto"

    // MARK: Slurm provider
    public var sbatchPath = "sbatch"
    public var squeuePath = "squeue"
    public var scancelPath = "scancel"
    public var sinfoPath = "sinfo"
    /// Trusted site configuration: prepended to every job script (e.g. `module load`).
    public var commandPrefix = ""
    /// `apptainer`, `singularity`, `docker`, `podman` or `none`.
    public var containerRuntime = "apptainer"
    /// Path or name of the runtime's CLI (defaults to the runtime's own name).
    public var containerRuntimePath: String? = nil
    /// Prefix for image names (e.g. `docker://`); the annotation `slurm-job.vk.io/image-root` wins.
    public var imageRoot = ""
    /// `#SBATCH` flags added to every job (e.g. `--partition=batch`).
    public var slurmFlags: [String] = []
    /// The `slurm-job.vk.io/pre-exec` annotation runs shell code: off unless allowed here.
    public var allowPreExec = false
    /// Long names of the `#SBATCH` options a pod's `slurm-job.vk.io/flags` may set
    /// (anything else fails the pod); the site replaces the whole list with `SlurmAllowedFlags`.
    public var slurmAllowedFlags: [String] = InterLinkConfig.defaultSlurmAllowedFlags
    /// When true, a pod's flag replaces the site's `SlurmFlags` value of the same option;
    /// by default the site's value is kept.
    public var slurmPodFlagsOverrideSite = false
    /// Names of InterLink's own environment variables a job gets (`sbatch --export=`);
    /// nothing else of InterLink's environment reaches jobs.
    public var slurmExportEnvironment: [String] = ["PATH", "LANG", "LC_ALL", "TZ"]
    /// Options a pod's `slurm-job.vk.io/singularity-options` may pass to apptainer/singularity.
    public var singularityAllowedOptions: [String] = InterLinkConfig.defaultSingularityAllowedOptions
    /// Host directories (absolute prefixes) that `slurm-job.vk.io/singularity-mounts` may bind
    /// besides the pod's own workspace; DataRootFolder is refused whatever this says.
    public var singularityAllowedMounts: [String] = []
    /// Longest wait for one read or write of the pod directories on the shared filesystem.
    public var slurmFilesystemTimeoutSeconds: Double = 30
    /// First wait (seconds) before the job script restarts an exited container; it doubles up
    /// to 300. Kubelet's 10 by default; tests lower it so a restart loop is seen in seconds.
    public var slurmRestartBackoffSeconds: Int = 10
    /// Upstream key: export pod data to the job (kept for compatibility).
    public var exportPodData = true

    // MARK: Kubernetes API server (status patcher, later the virtual-kubelet mode)
    public var kubernetes = KubernetesConfig()

    // MARK: Remote provider and sidecar (SidecarURL/SidecarPort above)
    /// A file whose token the remote provider sends to its plugin as `Authorization: Bearer` (re-read per call).
    public var sidecarTokenFile: String? = nil
    /// Each call to the plugin (except a followed log) must finish within this long.
    public var sidecarTimeoutSeconds = 30.0

    // MARK: Several backends
    /// `Providers:` entries; when non-empty they replace `Provider` (see `BackendConfig`).
    public var providers: [BackendConfig] = []
    // MARK: Virtual-kubelet mode (`interlink vk`)
    public var virtualKubelet = VirtualKubeletConfig()

    public init() {}

    /// `SlurmAllowedFlags` by default: the resource and placement options people put on pods.
    /// Not here: partition, account, qos (the site's to choose), and anything that changes
    /// the environment, the user, the cluster, the files or the job's identity.
    public static let defaultSlurmAllowedFlags = [
        "time", "time-min", "mem", "mem-per-cpu", "mem-per-gpu", "cpus-per-task", "cpus-per-gpu", "ntasks",
        "ntasks-per-node", "ntasks-per-core", "ntasks-per-socket", "ntasks-per-gpu", "nodes", "mincpus",
        "gres", "gres-flags", "gpus", "gpus-per-node", "gpus-per-task", "gpus-per-socket", "gpu-bind", "gpu-freq",
        "constraint", "exclusive", "tmp", "threads-per-core", "cores-per-socket", "sockets-per-node", "hint",
        "distribution", "contiguous", "licenses",
    ]

    /// `SingularityAllowedOptions` by default: flags that only narrow or equip the container.
    public static let defaultSingularityAllowedOptions = [
        "--nv", "--nvccli", "--rocm", "--cleanenv", "-e", "--containall", "-C", "--contain", "-c", "--no-home",
        "--no-init", "--writable-tmpfs", "--no-privs", "--no-umask", "--no-eval", "--compat", "--ipc", "-i",
        "--pid", "-p", "--uts", "--unsquash",
    ]

    /// The values `ContainerRuntime` accepts.
    public static let subPathPinningModes = ["auto", "required", "off"]
    public static let containerRuntimes = ["apptainer", "singularity", "docker", "podman", "none"]

    /// 1-63 characters of a-z, 0-9 and '-', starting and ending alphanumeric:
    /// safe as a Docker label value, a Slurm comment and a file name.
    public static func isValidInstanceName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        return alnum(u.first!) && alnum(u.last!) && u.allSatisfy { alnum($0) || $0 == 0x2D }
    }
}

/// The `Kubernetes:` section: how to reach the API server and whether to
/// write pod status there. Connection: `Server` (with `TokenFile`, `CAFile`)
/// wins, else `Kubeconfig`, else `KUBECONFIG`, `~/.kube/config`, in-cluster.
public struct KubernetesConfig: Sendable, Equatable {
    public var kubeconfig: String? = nil
    public var context: String? = nil
    public var server: String? = nil
    public var tokenFile: String? = nil
    public var caFile: String? = nil
    public var insecureSkipTLSVerify = false
    /// Off by default: the upstream VK in front of InterLink writes status itself.
    public var patchStatus = false
    /// Client-side limits, as client-go's defaults.
    public var qps = 5.0
    public var burst = 10
    public init() {}
}

/// The `VirtualKubelet:` section, read by `interlink vk` only (see config/README.md).
public struct VirtualKubeletConfig: Sendable, Equatable {
    /// Empty means the host name.
    public var nodeName = ""
    /// Empty means `$POD_IP`, else 127.0.0.1.
    public var internalIP = ""
    public var kubeletPort = 10250
    /// Address the kubelet HTTPS API binds to.
    public var kubeletListenAddress = "0.0.0.0"
    /// Empty: a self-signed pair is made at start (openssl CLI) under DataRootFolder/kubelet-tls.
    public var kubeletCertFile = ""
    public var kubeletKeyFile = ""
    /// When set, kubelet API clients must present a certificate signed by this CA.
    public var kubeletCAFile = ""
    /// Extra node labels, added to (and overriding) upstream's.
    public var labels: [String: String] = [:]
    /// Extra taints, `key=value:Effect` or `key:Effect`.
    public var taints: [String] = []
    /// Capacity overrides (cpu, memory, pods, any extended resource); win over the provider's ping.
    public var capacity: [String: String] = [:]
    /// Node lease in kube-node-lease.
    public var nodeLeaseDurationSeconds = 40
    public var nodeLeaseRenewSeconds = 10.0
    /// Node status is written on change and at least this often.
    public var nodeStatusMaxIntervalSeconds = 60.0
    /// Leader election (two replicas with the same NodeName).
    public var leaderElection = true
    /// Namespace of the election Lease; empty means $POD_NAMESPACE, else "default".
    public var leaderElectionNamespace = ""
    public var leaseDurationSeconds = 15.0
    public var renewDeadlineSeconds = 10.0
    public var retryPeriodSeconds = 2.0
    /// How often the backend is pinged for Ready and capacity.
    public var pingIntervalSeconds = 10.0
    public init() {}
}

public struct TLSConfig: Sendable, Equatable {
    public var enabled = false
    public var certFile = ""
    public var keyFile = ""
    public var caCertFile = ""
    public init() {}
}

public enum ProviderKind: String, Sendable, Equatable, CaseIterable {
    case mock, docker, slurm
    /// A plugin ("sidecar") at `SidecarURL`/`SidecarPort`, driven over the plugin API.
    case remote
}

/// One entry of `Providers:`: a named backend with its own settings (the
/// top-level settings, overridden by the entry's own keys).
public struct BackendConfig: Sendable, Equatable {
    /// 1-63 of a-z, 0-9, '-': what `interlink.io/provider` names and job ids carry.
    public var name: String
    public var kind: ProviderKind
    /// Pods that match no annotation or rule go to the default (first entry unless one says `Default: true`).
    public var isDefault: Bool
    /// Pods carrying all of these labels go here (first matching entry wins).
    public var matchLabels: [String: String]
    /// Pods whose `spec.nodeSelector` has all of these pairs go here (checked before labels).
    public var nodeSelector: [String: String] = [:]
    public var config: InterLinkConfig

    public init(name: String, kind: ProviderKind, isDefault: Bool = false, matchLabels: [String: String] = [:],
                config: InterLinkConfig) {
        self.name = name; self.kind = kind; self.isDefault = isDefault; self.matchLabels = matchLabels; self.config = config
    }
}
