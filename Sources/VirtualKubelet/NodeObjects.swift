import FoundationEssentials
import Model

/// The parts of a core/v1 Node this node writes. Encoded as sent; fields it
/// does not own are absent, so a merge patch leaves them alone.
public struct NodeTaint: Codable, Sendable, Equatable {
    public var key: String
    public var value: String?
    public var effect: String
    public init(key: String, value: String?, effect: String) { self.key = key; self.value = value; self.effect = effect }
}

struct NodeCondition: Codable, Sendable, Equatable {
    var type: String
    var status: String
    var lastHeartbeatTime: String?
    var lastTransitionTime: String?
    var reason: String?
    var message: String?
}

struct NodeAddress: Codable, Sendable, Equatable { var type: String; var address: String }

struct NodeStatusBody: Codable, Sendable, Equatable {
    struct Endpoints: Codable, Sendable, Equatable {
        struct Port: Codable, Sendable, Equatable { var Port: Int }
        var kubeletEndpoint: Port
    }
    struct Info: Codable, Sendable, Equatable {
        var machineID = ""
        var systemUUID = ""
        var bootID = ""
        var kernelVersion = ""
        var osImage = ""
        var containerRuntimeVersion: String
        var kubeletVersion: String
        var kubeProxyVersion = ""
        var operatingSystem = "linux"
        var architecture: String
    }
    var capacity: [String: String]
    var allocatable: [String: String]
    var conditions: [NodeCondition]
    var addresses: [NodeAddress]
    var daemonEndpoints: Endpoints
    var nodeInfo: Info
}

struct NodeMeta: Codable, Sendable, Equatable {
    var name: String
    var labels: [String: String]?
    var uid: String?
    var resourceVersion: String?
}

struct NodeSpecBody: Codable, Sendable, Equatable { var taints: [NodeTaint] }

struct NodeObject: Codable, Sendable {
    var apiVersion = "v1"
    var kind = "Node"
    var metadata: NodeMeta
    var spec: NodeSpecBody?
    var status: NodeStatusBody?
}

/// What the API server answers for a node (only what we read back).
struct NodeAnswer: Decodable, Sendable {
    struct Meta: Decodable, Sendable { var uid: String? }
    var metadata: Meta
}

/// coordination.k8s.io/v1 Lease (node heartbeat and leader election).
struct LeaseObject: Codable, Sendable, Equatable {
    struct Meta: Codable, Sendable, Equatable {
        struct Owner: Codable, Sendable, Equatable {
            var apiVersion: String; var kind: String; var name: String; var uid: String
        }
        var name: String
        var namespace: String?
        var resourceVersion: String?
        var ownerReferences: [Owner]?
    }
    struct Spec: Codable, Sendable, Equatable {
        var holderIdentity: String?
        var leaseDurationSeconds: Int?
        var acquireTime: String?
        var renewTime: String?
        var leaseTransitions: Int?
    }
    var apiVersion = "coordination.k8s.io/v1"
    var kind = "Lease"
    var metadata: Meta
    var spec: Spec?
}

/// Lease times are MicroTime: RFC 3339 with microseconds.
enum MicroTime {
    static func string(_ d: Date) -> String {
        let s = RFC3339.string(d)  // ...:SSZ
        let us = Int((d.timeIntervalSince1970 - d.timeIntervalSince1970.rounded(.down)) * 1_000_000)
        let frac = String(us)
        return String(s.dropLast()) + "." + String(repeating: "0", count: 6 - frac.count) + frac + "Z"
    }
}
