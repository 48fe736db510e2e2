import FoundationEssentials
import Model

/// Where one pod's Slurm job keeps its files, and how its job is named.
///
/// Contract: everything lives under the pod's workspace directory
/// `DataRootFolder/<namespace>-<uid>/` in `.interlink-slurm/`: `index.json`
/// (the job id and attempt, written by the provider) and one directory per
/// attempt holding `job.sh`, Slurm's `job.out`, and for each container
/// `logs/<name>.log` (timestamped lines), `status/<name>.start` (RFC 3339 start
/// time) and `status/<name>.exit` (`<code> <finishedAt>`, then optional reason
/// and message lines), plus the in-job supervisor's `<name>.last`, `.waiting`,
/// `.started` and `.ready` (see `SlurmSupervisor`). The job's comment (`SlurmJobMark`) lets one squeue call
/// find every job of this instance after any restart; the job name
/// `<instance>.<uid>.<attempt>` is for people reading squeue (and for jobs
/// submitted before the comment existed). Neither depends on the pod's name, so
/// a 253-character pod name makes no longer job name.
struct SlurmLayout: Sendable, Equatable {
    let podDir: String
    let attempt: Int

    init(dataRoot: String, namespace: String, uid: String, attempt: Int) {
        podDir = PodWorkspace(dataRoot: dataRoot, namespace: namespace, uid: uid).root
        self.attempt = attempt
    }

    init(podDir: String, attempt: Int) { self.podDir = podDir; self.attempt = attempt }

    static let folder = ".interlink-slurm"
    var metaDir: String { "\(podDir)/\(Self.folder)" }
    var indexFile: String { "\(metaDir)/index.json" }
    var jobDir: String { "\(metaDir)/\(attempt)" }
    var script: String { "\(jobDir)/job.sh" }
    var jobOutput: String { "\(jobDir)/job.out" }
    func log(_ container: String) -> String { "\(jobDir)/logs/\(container).log" }
    /// Where the supervisor writes every status file (through a rename, or a mark it creates or removes).
    var statusDirectory: String { "\(jobDir)/status" }
    func startFile(_ container: String) -> String { "\(jobDir)/status/\(container).start" }
    func exitFile(_ container: String) -> String { "\(jobDir)/status/\(container).exit" }
    /// The supervisor's files: the restart count and previous run, the backoff, the started and ready marks.
    func lastFile(_ container: String) -> String { "\(jobDir)/status/\(container).last" }
    func waitingFile(_ container: String) -> String { "\(jobDir)/status/\(container).waiting" }
    func startedFile(_ container: String) -> String { "\(jobDir)/status/\(container).started" }
    func readyFile(_ container: String) -> String { "\(jobDir)/status/\(container).ready" }
    func envFile(_ container: String) -> String { "\(jobDir)/env/\(container).env" }
    /// The file bound at the container's `/dev/termination-log` (docker/podman runtimes).
    func terminationLog(_ container: String) -> String { "\(jobDir)/term/\(container)" }
    /// Where the job pins the `mount`-th volume path of the `container`-th
    /// container (init containers first) before each run: in the pod's pin
    /// directory (`PodWorkspace.pinRoot`), outside every volume, which InterLink's
    /// cleanup detaches before it removes anything.
    func pin(container: Int, mount: Int) -> String {
        "\(PodWorkspace.pinRoot(of: podDir))/slurm-\(attempt)-\(container)-\(mount)"
    }
}

/// The Slurm job name that carries a pod's identity: `<instance>.<uid>.<attempt>`.
enum SlurmJobName {
    static func make(instance: String, uid: String, attempt: Int) -> String { "\(instance).\(uid).\(attempt)" }

    /// `(uid, attempt)` when `name` belongs to `instance`, else nil. Parsed from the
    /// right because an instance name may itself contain dots.
    static func parse(_ name: String, instance: String) -> (uid: String, attempt: Int)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let attempt = Int(parts[parts.count - 1]) else { return nil }
        let uid = String(parts[parts.count - 2])
        let inst = parts[0..<(parts.count - 2)].joined(separator: ".")
        guard inst == instance, !uid.isEmpty else { return nil }
        return (uid, attempt)
    }
}

/// The mark on every job InterLink submits (`sbatch --comment`): instance, pod
/// UID and attempt. Pods cannot set the comment (`SlurmFlags.owned`), and sbatch's
/// command line overrides any `#SBATCH --comment`, so unlike the job name, which
/// anyone can choose, it identifies InterLink's jobs: observation and adoption
/// match on it, never on the name alone.
enum SlurmJobMark {
    static func make(instance: String, uid: String, attempt: Int) -> String { "interlink:\(instance):\(uid):\(attempt)" }

    /// `(instance, uid, attempt)` of a comment InterLink wrote, else nil.
    static func parse(_ comment: String) -> (instance: String, uid: String, attempt: Int)? {
        let parts = comment.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "interlink", !parts[1].isEmpty, !parts[2].isEmpty,
              let attempt = Int(parts[3]), attempt >= 0 else { return nil }
        return (String(parts[1]), String(parts[2]), attempt)
    }
}

/// The small record kept in each pod directory so `observe` needs nothing but
/// one squeue call and local files, even after a restart or a purge from squeue.
struct SlurmIndex: Codable, Sendable, Equatable {
    var instance: String
    var uid: String
    var namespace: String
    var name: String
    var attempt: Int
    /// Empty while the submission is in flight (a crash there is healed by a lookup by job name).
    var jobID: String
    var initContainers: [String]
    var containers: [String]
    var images: [String: String]
    /// The last terminal Slurm state seen, so it survives the job's purge from squeue.
    var finalState: String?
    /// Pod flags InterLink ignored or replaced (reported in the observation's message).
    var notes: [String]?
    /// The script runs the in-job supervisor (`SlurmSupervisor`), so `ready` and
    /// `started` come from its files; nil for jobs submitted before it existed.
    var supervised: Bool? = nil
    /// Containers whose terminationMessagePolicy is FallbackToLogsOnError.
    var logsFallback: [String]? = nil
}
