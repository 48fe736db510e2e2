import FoundationEssentials
import Model

/// An Event to emit on a pod: what kubelet would say for the same change.
public struct PodEvent: Sendable, Equatable, Hashable {
    /// "Normal" or "Warning".
    public var type: String
    public var reason: String
    public var message: String
}

/// Which Events a status change warrants. Pure: (before, after) -> events.
/// Create failures (a container left waiting with an error reason), backend
/// loss (a container terminated `BackendLost`) and restarts (restartCount up).
public enum PodEventDetector {
    /// Waiting reasons that are progress, not failures.
    static let normalWaiting: Set<String> = ["ContainerCreating", "PodInitializing", ""]

    public static func events(before: PodStatus?, after: PodStatus) -> [PodEvent] {
        var out: [PodEvent] = []
        let all = after.initContainers + after.containers
        let old = (before?.initContainers ?? []) + (before?.containers ?? [])
        func previous(_ name: String) -> ContainerStatus? { old.first { $0.name == name } }
        for c in all {
            let was = previous(c.name)
            if let w = c.state.waiting, let reason = w.reason, !normalWaiting.contains(reason),
               was?.state.waiting != w {
                out.append(PodEvent(type: "Warning", reason: "FailedCreate",
                                    message: "container \(c.name): \(reason)\(w.message.map { ": \($0)" } ?? "")"))
            }
            let lost = [c.state.terminated, c.lastState.terminated].compactMap { $0 }.first { $0.reason == "BackendLost" }
            let lostBefore = [was?.state.terminated, was?.lastState.terminated].compactMap { $0 }.contains { $0.reason == "BackendLost" }
            if let lost, !lostBefore || (was?.restartCount ?? 0) != c.restartCount {
                out.append(PodEvent(type: "Warning", reason: "BackendLost",
                                    message: "container \(c.name): \(lost.message ?? "the backend lost the job")"))
            }
            if let was, c.restartCount > was.restartCount {
                out.append(PodEvent(type: "Normal", reason: "Restarted",
                                    message: "container \(c.name) re-created on the backend (restart \(c.restartCount))"))
            }
        }
        // One event per distinct (reason, message): containers of one pod fail together.
        var seen = Set<PodEvent>()
        return out.filter { seen.insert($0).inserted }
    }
}
