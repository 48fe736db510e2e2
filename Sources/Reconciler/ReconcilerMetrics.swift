import FoundationEssentials
import Model
import Providers
import Synchronization

/// Counters and the tick histogram of the reconciler, rendered as Prometheus
/// text. Thread-safe (Mutex); recording never awaits.
public final class ReconcilerMetrics: Sendable {
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private struct State {
        var tickBuckets = [Int](repeating: 0, count: ReconcilerMetrics.buckets.count)
        var tickCount = 0
        var tickSum = 0.0
        var commands: [String: Int] = [:]
        var errors: [String: Int] = [:]   // "command|kind"
        var actions: [String: Int] = [:]
        var orphansPending = 0
        var orphanCollectionRefused = false
        var workspaceLeaks = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func observeTick(seconds: Double) {
        state.withLock { s in
            s.tickCount += 1; s.tickSum += seconds
            for (i, b) in Self.buckets.enumerated() where seconds <= b { s.tickBuckets[i] += 1 }
        }
    }

    public func backendCommand(_ command: String) { state.withLock { $0.commands[command, default: 0] += 1 } }

    public func backendError(_ command: String, _ error: any Error) {
        let kind = Self.kind(of: error)
        state.withLock { $0.errors["\(command)|\(kind)", default: 0] += 1 }
    }

    public func action(_ kind: String) { state.withLock { $0.actions[kind, default: 0] += 1 } }

    public func setOrphans(pending: Int, refused: Bool) {
        state.withLock { $0.orphansPending = pending; $0.orphanCollectionRefused = refused }
    }

    public func workspaceLeaked() { state.withLock { $0.workspaceLeaks += 1 } }

    public var orphansPending: Int { state.withLock { $0.orphansPending } }
    public var orphanCollectionRefused: Bool { state.withLock { $0.orphanCollectionRefused } }
    public var workspaceLeaks: Int { state.withLock { $0.workspaceLeaks } }

    public func actionCount(_ kind: String) -> Int { state.withLock { $0.actions[kind] ?? 0 } }
    public var tickCount: Int { state.withLock { $0.tickCount } }

    static func kind(of error: any Error) -> String {
        switch error as? ProviderError {
        case .invalidPod?: return "invalidPod"
        case .imageNotFound?: return "imageNotFound"
        case .backend?: return "backend"
        case .notFound?: return "notFound"
        case .unavailable?: return "unavailable"
        case .resourcesExhausted?: return "resourcesExhausted"
        case nil: return error is CancellationError ? "cancelled" : "other"
        }
    }

    /// Prometheus text exposition (version 0.0.4).
    public func render(phases: [PodPhase: Int], provider: String, providerCommands: Int, desiredPods: Int) -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP interlink_pods Pods known to the reconciler, by phase as the virtual kubelet derives it.\n"
        out += "# TYPE interlink_pods gauge\n"
        for p in PodPhase.allCases { out += "interlink_pods{phase=\"\(p.rawValue)\"} \(phases[p] ?? 0)\n" }
        out += "# HELP interlink_desired_pods Pod records in the desired-state store.\n"
        out += "# TYPE interlink_desired_pods gauge\n"
        out += "interlink_desired_pods \(desiredPods)\n"
        out += "# HELP interlink_reconcile_tick_seconds Duration of one observe-plan-act pass.\n"
        out += "# TYPE interlink_reconcile_tick_seconds histogram\n"
        for (i, b) in Self.buckets.enumerated() {
            out += "interlink_reconcile_tick_seconds_bucket{le=\"\(b)\"} \(s.tickBuckets[i])\n"
        }
        out += "interlink_reconcile_tick_seconds_bucket{le=\"+Inf\"} \(s.tickCount)\n"
        out += "interlink_reconcile_tick_seconds_sum \(s.tickSum)\n"
        out += "interlink_reconcile_tick_seconds_count \(s.tickCount)\n"
        out += "# HELP interlink_backend_commands_total Provider calls made by the reconciler, by call.\n"
        out += "# TYPE interlink_backend_commands_total counter\n"
        for k in s.commands.keys.sorted() {
            out += "interlink_backend_commands_total{provider=\"\(provider)\",command=\"\(k)\"} \(s.commands[k]!)\n"
        }
        out += "# HELP interlink_provider_commands_total Backend commands the provider reports having run.\n"
        out += "# TYPE interlink_provider_commands_total counter\n"
        out += "interlink_provider_commands_total{provider=\"\(provider)\"} \(providerCommands)\n"
        out += "# HELP interlink_backend_errors_total Failed provider calls, by call and error kind.\n"
        out += "# TYPE interlink_backend_errors_total counter\n"
        for k in s.errors.keys.sorted() {
            let parts = k.split(separator: "|", maxSplits: 1).map(String.init)
            out += "interlink_backend_errors_total{provider=\"\(provider)\",command=\"\(parts[0])\",kind=\"\(parts[1])\"} \(s.errors[k]!)\n"
        }
        out += "# HELP interlink_actions_total Reconcile actions taken, by action.\n"
        out += "# TYPE interlink_actions_total counter\n"
        for k in s.actions.keys.sorted() { out += "interlink_actions_total{action=\"\(k)\"} \(s.actions[k]!)\n" }
        out += "# HELP interlink_orphans_pending Backend jobs of this instance whose pod is unknown, reported but not cancelled (grace window, or collection refused).\n"
        out += "# TYPE interlink_orphans_pending gauge\n"
        out += "interlink_orphans_pending \(s.orphansPending)\n"
        out += "# HELP interlink_orphan_collection_refused 1 while orphan collection is refused (state directory empty or truncated, or the store dropped a damaged record).\n"
        out += "# TYPE interlink_orphan_collection_refused gauge\n"
        out += "interlink_orphan_collection_refused \(s.orphanCollectionRefused ? 1 : 0)\n"
        out += "# HELP interlink_workspace_leaks_total Deleted pods whose files could not be removed after every retry (forgotten, files left behind).\n"
        out += "# TYPE interlink_workspace_leaks_total counter\n"
        out += "interlink_workspace_leaks_total \(s.workspaceLeaks)\n"
        return out
    }
}
