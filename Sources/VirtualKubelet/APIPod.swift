import FoundationEssentials
import KubeClient
import Model

/// A pod as the API server sends it: the `Model.Pod` InterLink runs, plus
/// what only the node needs (phase, grace period, service account, the
/// projected sources `Model` does not carry).
public struct APIPod: KubeVersioned, Sendable {
    public var pod: Pod
    public var phase: String?
    public var deletionGracePeriodSeconds: Int64?
    public var serviceAccountName: String?
    public var nodeName: String?
    /// Per projected volume name: its service-account-token and downward-API sources.
    var projectedExtras: [String: [ExtraProjection]]
    public var hostIP: String?

    public var resourceVersion: String? { pod.metadata.resourceVersion }
    public var uid: String { pod.uid }
    public var isFinished: Bool { phase == "Succeeded" || phase == "Failed" }
    public var isDeleting: Bool { pod.metadata.deletionTimestamp != nil }

    struct ExtraProjection: Decodable, Sendable {
        struct Token: Decodable, Sendable { var audience: String?; var expirationSeconds: Int64?; var path: String }
        struct DownwardItem: Decodable, Sendable { var path: String; var fieldRef: FieldSelector? }
        struct Downward: Decodable, Sendable { var items: [DownwardItem]? }
        var serviceAccountToken: Token?
        var downwardAPI: Downward?
    }

    private struct Extra: Decodable {
        struct Meta: Decodable { var deletionGracePeriodSeconds: Int64? }
        struct Vol: Decodable {
            struct Proj: Decodable { var sources: [ExtraProjection]? }
            var name: String; var projected: Proj?
        }
        struct Spec: Decodable { var serviceAccountName: String?; var nodeName: String?; var volumes: [Vol]? }
        struct Status: Decodable { var phase: String?; var hostIP: String? }
        var metadata: Meta?
        var spec: Spec?
        var status: Status?
    }

    public init(from decoder: any Decoder) throws {
        pod = try Pod(from: decoder)
        let x = try Extra(from: decoder)
        phase = x.status?.phase
        hostIP = x.status?.hostIP
        deletionGracePeriodSeconds = x.metadata?.deletionGracePeriodSeconds
        serviceAccountName = x.spec?.serviceAccountName
        nodeName = x.spec?.nodeName
        var extras: [String: [ExtraProjection]] = [:]
        for v in x.spec?.volumes ?? [] {
            if let s = v.projected?.sources { extras[v.name] = s }
        }
        projectedExtras = extras
    }
}
