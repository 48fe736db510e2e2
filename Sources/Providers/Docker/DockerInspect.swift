import FoundationEssentials
import Model

/// One of our containers as `docker inspect` reports it, reduced to what the
/// provider needs. Containers without our labels are not turned into records.
public struct DockerContainerRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var managedBy: String
    public var podUID: String
    public var namespace: String
    public var podName: String
    public var container: String
    public var attempt: Int
    public var isInit: Bool
    public var index: Int
    /// Containers (init + main) of this incarnation; 0 when the label is missing.
    public var count: Int
    public var image: String
    public var imageID: String
    /// Docker's state: created, running, paused, restarting, removing, exited, dead.
    public var status: String
    public var exitCode: Int32
    public var oomKilled: Bool
    /// Docker's own error (e.g. the entrypoint could not be executed).
    public var error: String
    /// RFC 3339, seconds precision; nil when Docker has none (zero time).
    public var startedAt: String?
    public var finishedAt: String?
    /// When Docker created the container (for telling a create under way from one cut short).
    public var createdAt: Date?
    /// Its subPath mounts, to be checked again right before it starts.
    public var subPaths: [SubPathMount] = []
    /// What the container wrote to its termination-message file (filled by the provider).
    public var terminationMessage: String? = nil
    /// Which run of the container within its incarnation (`DockerLabel.restart`).
    public var restart: Int = 0
    /// Consecutive short runs before this one (`DockerLabel.backoffStreak`).
    public var backoffStreak: Int = 0
    /// The pod's restartPolicy; nil for containers made before restarts existed
    /// (their exits stay final, as they were).
    public var restartPolicy: RestartPolicy? = nil
    /// Probes and hooks to run (`DockerLabel.lifecycle`).
    public var lifecycle: DockerLifecycleSpec? = nil
    /// Why InterLink killed it (a failed liveness/startup probe or postStart hook),
    /// filled by the provider from its prober; becomes `terminated.message`.
    public var killReason: String? = nil

    /// How long it ran, in seconds, once it has finished (0 when unknown).
    public var ranSeconds: Double {
        guard let s = startedAt.flatMap(RFC3339.date), let f = finishedAt.flatMap(RFC3339.date) else { return 0 }
        return max(0, f.timeIntervalSince(s))
    }

    /// Docker leaves a container whose process could not be started (`exec:
    /// "nosuchbin": executable file not found`) in `created` with `Error` set and
    /// exit code 127: it ran as far as it ever will.
    public var failedToStart: Bool { status == "created" && !error.isEmpty }
    public var hasStarted: Bool { status != "created" || failedToStart }
    public var isRunning: Bool { status == "running" || status == "paused" || status == "restarting" }
    public var isTerminated: Bool { status == "exited" || status == "dead" || status == "removing" || failedToStart }
    public var succeeded: Bool { isTerminated && exitCode == 0 && error.isEmpty }
}

/// Parses `docker inspect` output and maps Docker states to Kubernetes
/// `ContainerStatus`. Pure, so canned JSON tests it without a daemon.
public enum DockerInspect {
    /// Bytes of container ids per command line: far below Linux's ARG_MAX (2 MiB
    /// with the default stack, shared with the environment), so 10,000 pods'
    /// containers take a handful of commands instead of one that fails with E2BIG.
    public static let maxArgumentBytes = 128 * 1024

    /// `ids` in runs whose total length (with separators) stays under `maxBytes`.
    public static func chunks(_ ids: [String], maxBytes: Int = maxArgumentBytes) -> [[String]] {
        var out: [[String]] = [], current: [String] = [], size = 0
        for id in ids {
            if !current.isEmpty && size + id.utf8.count + 1 > maxBytes { out.append(current); current = []; size = 0 }
            current.append(id); size += id.utf8.count + 1
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    struct Raw: Decodable {
        struct State: Decodable {
            var Status: String?
            var OOMKilled: Bool?
            var ExitCode: Int32?
            var Error: String?
            var StartedAt: String?
            var FinishedAt: String?
        }
        struct Config: Decodable {
            var Image: String?
            var Labels: [String: String]?
        }
        var Id: String
        var Created: String?
        var Name: String?
        var Image: String?
        var State: State?
        var Config: Config?
    }

    /// Records of the containers labelled as ours (any instance; callers filter).
    /// `docker inspect` prints `[]` plus an error for ids that vanished meanwhile,
    /// so only unparseable output is an error.
    public static func records(from json: Data) throws -> [DockerContainerRecord] {
        let trimmed = String(decoding: json, as: UTF8.self).trimmed
        if trimmed.isEmpty { return [] }
        let raws = try JSONDecoder().decode([Raw].self, from: Data(trimmed.utf8))
        return raws.compactMap(record)
    }

    static func record(_ r: Raw) -> DockerContainerRecord? {
        let labels = r.Config?.Labels ?? [:]
        guard let managed = labels[DockerLabel.managed], let uid = labels[DockerLabel.podUID],
              let container = labels[DockerLabel.container] else { return nil }
        var name = r.Name ?? ""
        if name.hasPrefix("/") { name.removeFirst() }
        return DockerContainerRecord(
            id: r.Id, name: name, managedBy: managed, podUID: uid,
            namespace: labels[DockerLabel.namespace] ?? "", podName: labels[DockerLabel.podName] ?? "",
            container: container, attempt: Int(labels[DockerLabel.attempt] ?? "") ?? 0,
            isInit: labels[DockerLabel.isInit] == "true", index: Int(labels[DockerLabel.index] ?? "") ?? 0,
            count: Int(labels[DockerLabel.count] ?? "") ?? 0,
            image: r.Config?.Image ?? "", imageID: r.Image ?? "",
            status: r.State?.Status ?? "created", exitCode: r.State?.ExitCode ?? 0,
            oomKilled: r.State?.OOMKilled ?? false, error: r.State?.Error ?? "",
            startedAt: timestamp(r.State?.StartedAt), finishedAt: timestamp(r.State?.FinishedAt),
            createdAt: timestamp(r.Created).flatMap(RFC3339.date),
            subPaths: labels[DockerLabel.subPaths].flatMap { try? JSONDecoder().decode([SubPathMount].self, from: Data($0.utf8)) } ?? [],
            restart: Int(labels[DockerLabel.restart] ?? "") ?? 0,
            backoffStreak: Int(labels[DockerLabel.backoffStreak] ?? "") ?? 0,
            restartPolicy: labels[DockerLabel.restartPolicy].flatMap(RestartPolicy.init(rawValue:)),
            lifecycle: DockerLifecycleSpec.decode(labels[DockerLabel.lifecycle]))
    }

    /// Docker writes `2024-05-01T10:00:00.123456789Z`, and year 1 for "never";
    /// Kubernetes wants seconds precision.
    static func timestamp(_ text: String?) -> String? {
        guard var t = text, !t.isEmpty, !t.hasPrefix("0001-01-01") else { return nil }
        if let dot = t.firstIndex(of: ".") {
            let rest = t[dot...].drop { $0 == "." || $0.isNumber }
            t = String(t[..<dot]) + (rest.isEmpty ? "Z" : String(rest))
        }
        return t
    }

    /// The Kubernetes view of one container. `waitingReason` is what an unstarted
    /// container shows (`ContainerCreating`, or `PodInitializing` behind init containers).
    public static func status(of r: DockerContainerRecord, waitingReason: String = "ContainerCreating",
                              lastState: ContainerState = ContainerState()) -> ContainerStatus {
        let state: ContainerState
        if r.isRunning {
            state = .running(since: r.startedAt)
        } else if r.isTerminated {
            let reason: String
            var message: String? = nil
            if r.oomKilled { reason = "OOMKilled" }
            else if !r.error.isEmpty { reason = "ContainerCannotRun"; message = r.error }
            else { reason = r.exitCode == 0 ? "Completed" : "Error" }
            if message == nil, let m = r.terminationMessage, !m.isEmpty { message = m }
            if let k = r.killReason { message = message.map { k + "; " + $0 } ?? k }
            state = .terminated(ContainerStateTerminated(
                exitCode: r.failedToStart && r.exitCode == 0 ? 128 : r.exitCode, reason: reason, message: message, startedAt: r.startedAt,
                finishedAt: r.finishedAt, containerID: "docker://\(r.id)"))
        } else {
            state = .waiting(waitingReason)
        }
        return ContainerStatus(name: r.container, image: r.image, imageID: r.imageID, ready: r.isRunning,
                               restartCount: Int32(clamping: r.attempt + r.restart), started: r.isRunning,
                               containerID: "docker://\(r.id)", state: state, lastState: lastState)
    }
}
