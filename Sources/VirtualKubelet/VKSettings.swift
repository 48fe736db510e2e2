import Config
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The `VirtualKubelet:` section with its defaults resolved against the
/// environment (host name, `$POD_IP`, `$POD_NAMESPACE`).
public struct VKSettings: Sendable, Equatable {
    public var nodeName: String
    public var internalIP: String
    public var kubeletPort: Int
    public var labels: [String: String]
    public var taints: [NodeTaint]
    public var capacity: [String: String]
    public var nodeLeaseDurationSeconds: Int
    public var nodeLeaseRenew: Duration
    public var nodeStatusMaxInterval: Duration
    public var pingInterval: Duration
    public var leaderElection: Bool
    public var electionNamespace: String
    public var leaseDuration: Double
    public var renewDeadline: Double
    public var retryPeriod: Double
    public var providerName: String
    public var version: String

    public init(_ config: InterLinkConfig, environment: [String: String], version: String) {
        let v = config.virtualKubelet
        nodeName = v.nodeName.isEmpty ? Self.hostName().lowercased() : v.nodeName
        internalIP = !v.internalIP.isEmpty ? v.internalIP : (environment["POD_IP"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1")
        kubeletPort = v.kubeletPort
        providerName = config.provider.rawValue
        // Upstream's labels first, so pod specs written for the Go VK schedule unchanged; config wins.
        var l: [String: String] = [
            "type": "virtual-kubelet",
            "kubernetes.io/role": "agent",
            "kubernetes.io/hostname": nodeName,
            "kubernetes.io/os": "linux",
            "beta.kubernetes.io/os": "linux",
            "virtual-node.interlink/type": "virtual-kubelet",
        ]
        for (k, x) in v.labels { l[k] = x }
        labels = l
        var t = [NodeTaint(key: "virtual-node.interlink/no-schedule", value: "true", effect: "NoSchedule")]
        for s in v.taints {
            guard let p = VirtualKubeletConfig.parseTaint(s) else { continue }
            t.removeAll { $0.key == p.key && $0.effect == p.effect }
            t.append(NodeTaint(key: p.key, value: p.value.isEmpty ? nil : p.value, effect: p.effect))
        }
        taints = t
        capacity = v.capacity
        nodeLeaseDurationSeconds = v.nodeLeaseDurationSeconds
        nodeLeaseRenew = .milliseconds(Int(v.nodeLeaseRenewSeconds * 1000))
        nodeStatusMaxInterval = .milliseconds(Int(v.nodeStatusMaxIntervalSeconds * 1000))
        pingInterval = .milliseconds(Int(v.pingIntervalSeconds * 1000))
        leaderElection = v.leaderElection
        electionNamespace = !v.leaderElectionNamespace.isEmpty ? v.leaderElectionNamespace
            : (environment["POD_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default")
        leaseDuration = v.leaseDurationSeconds
        renewDeadline = v.renewDeadlineSeconds
        retryPeriod = v.retryPeriodSeconds
        self.version = version
    }

    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "interlink" }
        let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return s.isEmpty ? "interlink" : s
    }
}
