import FoundationEssentials
import Model

/// The body of a strategic-merge PATCH to `pods/{name}/status`, as kubelet's
/// status manager sends it: `metadata.uid` makes the API server refuse (409)
/// a pod that merely reuses the name; conditions merge by `type`, container
/// status lists are replaced whole; `reason`/`message` are sent as null when
/// they must be cleared.
struct StatusPatch: Encodable {
    var uid: String
    var status: KubePodStatus
    var clearReason: Bool
    var clearMessage: Bool

    enum Keys: String, CodingKey { case metadata, status, uid }
    enum StatusKeys: String, CodingKey {
        case phase, conditions, containerStatuses, initContainerStatuses, startTime, reason, message
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var md = c.nestedContainer(keyedBy: Keys.self, forKey: .metadata)
        try md.encode(uid, forKey: .uid)
        var s = c.nestedContainer(keyedBy: StatusKeys.self, forKey: .status)
        try s.encodeIfPresent(status.phase, forKey: .phase)
        try s.encodeIfPresent(status.conditions, forKey: .conditions)
        try s.encodeIfPresent(status.containerStatuses, forKey: .containerStatuses)
        try s.encodeIfPresent(status.initContainerStatuses, forKey: .initContainerStatuses)
        try s.encodeIfPresent(status.startTime, forKey: .startTime)
        if let r = status.reason { try s.encode(r, forKey: .reason) } else if clearReason { try s.encodeNil(forKey: .reason) }
        if let m = status.message { try s.encode(m, forKey: .message) } else if clearMessage { try s.encodeNil(forKey: .message) }
    }

    static func body(uid: String, desired: KubePodStatus, server: KubePodStatus?) throws -> Data {
        try WireJSON.encode(StatusPatch(uid: uid, status: desired,
                                        clearReason: server?.reason != nil, clearMessage: server?.message != nil))
    }
}
