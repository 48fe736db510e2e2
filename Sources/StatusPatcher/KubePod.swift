import FoundationEssentials
import Model

/// Kubernetes `PodCondition`. `lastProbeTime` is never sent (no probes here).
public struct PodCondition: Codable, Sendable, Equatable {
    public var type: String
    /// "True", "False" or "Unknown".
    public var status: String
    public var lastTransitionTime: String?
    public var reason: String?
    public var message: String?

    public init(type: String, status: String, lastTransitionTime: String? = nil, reason: String? = nil, message: String? = nil) {
        self.type = type; self.status = status; self.lastTransitionTime = lastTransitionTime
        self.reason = reason; self.message = message
    }

    /// Same state, whatever the transition time: a change of this is a transition.
    func sameState(as o: PodCondition) -> Bool { type == o.type && status == o.status && reason == o.reason && message == o.message }
}

/// The fields of Kubernetes' `PodStatus` this service writes or reads.
/// Fields it does not own (qosClass, hostIPs, ...) are decoded away and
/// never sent, so the patch leaves them as the API server has them.
public struct KubePodStatus: Codable, Sendable, Equatable {
    public var phase: String?
    public var conditions: [PodCondition]?
    public var containerStatuses: [ContainerStatus]?
    public var initContainerStatuses: [ContainerStatus]?
    public var startTime: String?
    public var reason: String?
    public var message: String?
    public var hostIP: String?
    public var podIP: String?

    public init(phase: String? = nil, conditions: [PodCondition]? = nil, containerStatuses: [ContainerStatus]? = nil,
                initContainerStatuses: [ContainerStatus]? = nil, startTime: String? = nil, reason: String? = nil,
                message: String? = nil, hostIP: String? = nil, podIP: String? = nil) {
        self.phase = phase; self.conditions = conditions; self.containerStatuses = containerStatuses
        self.initContainerStatuses = initContainerStatuses; self.startTime = startTime
        self.reason = reason; self.message = message; self.hostIP = hostIP; self.podIP = podIP
    }
}

/// A pod as the API server returns it: identity, spec, status.
public struct KubePod: Decodable, Sendable {
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: KubePodStatus?
}
