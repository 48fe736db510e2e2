import Model

/// Which backend a pod goes to. Decided from the pod alone (the recorded
/// create request), so the same pod always routes the same way.
public struct RoutingRule: Sendable, Equatable {
    /// The annotation that names a backend explicitly.
    public static let annotation = "interlink.io/provider"

    /// Backend name -> labels that must all be on the pod for it to match.
    public var matchLabels: [(name: String, labels: [String: String])]
    public var defaultName: String
    /// Backend name -> pairs that must all be in the pod's `spec.nodeSelector`.
    public var matchNodeSelector: [(name: String, selector: [String: String])] = []

    public init(matchLabels: [(name: String, labels: [String: String])], defaultName: String,
                matchNodeSelector: [(name: String, selector: [String: String])] = []) {
        self.matchLabels = matchLabels; self.defaultName = defaultName; self.matchNodeSelector = matchNodeSelector
    }

    public static func == (a: RoutingRule, b: RoutingRule) -> Bool {
        a.defaultName == b.defaultName && a.matchLabels.map(\.name) == b.matchLabels.map(\.name)
            && a.matchLabels.map(\.labels) == b.matchLabels.map(\.labels)
            && a.matchNodeSelector.map(\.name) == b.matchNodeSelector.map(\.name)
            && a.matchNodeSelector.map(\.selector) == b.matchNodeSelector.map(\.selector)
    }

    public enum Choice: Equatable, Sendable {
        case backend(String)
        /// The annotation names a backend this InterLink does not have.
        case unknown(String)
    }

    /// The annotation, else the first backend whose node selector pairs are all
    /// in the pod's `nodeSelector`, else the first whose labels all match, else the default.
    public func choose(_ pod: Pod, known: Set<String>) -> Choice {
        if let named = pod.annotations[Self.annotation] {
            return known.contains(named) ? .backend(named) : .unknown(named)
        }
        let selector = pod.spec?.nodeSelector ?? [:]
        for m in matchNodeSelector where !m.selector.isEmpty && m.selector.allSatisfy({ selector[$0.key] == $0.value }) {
            return .backend(m.name)
        }
        let labels = pod.metadata.labels ?? [:]
        for m in matchLabels where !m.labels.isEmpty && m.labels.allSatisfy({ labels[$0.key] == $0.value }) {
            return .backend(m.name)
        }
        return .backend(defaultName)
    }
}
