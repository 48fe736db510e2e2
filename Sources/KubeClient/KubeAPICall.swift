/// One kind of call a component makes to the API server, in RBAC terms. Each
/// component lists its calls (`StatusPatcher.apiCalls`); the kustomization's
/// Role must grant exactly their union, which a test checks.
public struct KubeAPICall: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// RBAC verb: get, list, watch, create, update, patch, delete.
    public var verb: String
    /// API group, "" for core.
    public var group: String
    /// Resource, with a subresource after a slash ("pods/status").
    public var resource: String

    public init(_ verb: String, _ resource: String, group: String = "") {
        self.verb = verb; self.resource = resource; self.group = group
    }

    /// The counter key the client uses for this call.
    public var description: String { "\(verb) \(group.isEmpty ? "" : group + "/")\(resource)" }

    public static func < (a: KubeAPICall, b: KubeAPICall) -> Bool { a.description < b.description }
}
