import FoundationEssentials
import Model
import Providers

/// What the HTTP API needs from the core. The reconciler implements it; tests
/// of the API layer may use a fake. Every method answers from recorded state
/// or records intent: none waits on a backend call, except `logs` and `ping`.
public protocol PodAPI: Sendable {
    /// Records the pod as desired (durably, before returning) and wakes the loop.
    /// Answers the pod UID and the job id known so far (may be empty).
    func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct
    /// Records the pod as no longer desired; unknown pods are fine (idempotent).
    func delete(_ pod: Pod) async throws(PodAPIError)
    /// The same, with the deletion's own grace period (Kubernetes'
    /// `metadata.deletionGracePeriodSeconds`, which the VK's pod watch knows):
    /// the backend stop uses it instead of the spec's, bounded by `PodBounds`.
    func delete(_ pod: Pod, gracePeriodSeconds: Int64?) async throws(PodAPIError)
    /// One entry per pod asked for; a pod never created gets empty `containers`.
    func status(_ pods: [Pod]) async -> [PodStatus]
    /// Log bytes of one container; `.notFound` for an unknown pod or container.
    func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream
    /// Capacity to report to the VK, if the provider knows it; `.unavailable`
    /// when the backend does not answer (the VK then marks the node NotReady).
    func ping() async throws(PodAPIError) -> PingResponse?
    /// The VK's cache hint: refresh what is known about this pod (may be a no-op).
    func updateCache(_ pod: Pod) async
    /// Prometheus text exposition of the core's metrics.
    func metrics() async -> String
    /// True once the desired state is loaded and the loop has started.
    func isReady() async -> Bool
}

extension PodAPI {
    /// A core that does not record deletion grace periods stops with the spec's.
    public func delete(_ pod: Pod, gracePeriodSeconds: Int64?) async throws(PodAPIError) { try await delete(pod) }
}

/// Failures the API turns into HTTP status codes.
public enum PodAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400: the request cannot be accepted as sent.
    case invalid(String)
    /// 404: no such pod or container.
    case notFound(String)
    /// 503: not ready yet / shutting down.
    case unavailable(String)
    /// 500: a real internal fault (the journal could not be written...).
    case `internal`(String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .unavailable(let m), .internal(let m): return m
        }
    }

    public var httpStatus: Int {
        switch self {
        case .invalid: return 400
        case .notFound: return 404
        case .unavailable: return 503
        case .internal: return 500
        }
    }
}
