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
    public var allowHostPath = false
    public var enableGPU = false

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
    /// Upstream key: export pod data to the job (kept for compatibility).
    public var exportPodData = true

    public init() {}

    /// The values `ContainerRuntime` accepts.
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

public struct TLSConfig: Sendable, Equatable {
    public var enabled = false
    public var certFile = ""
    public var keyFile = ""
    public var caCertFile = ""
    public init() {}
}

public enum ProviderKind: String, Sendable, Equatable, CaseIterable {
    case mock, docker, slurm
}
