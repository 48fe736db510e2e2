/// Reads the `VirtualKubelet:` section (see `VirtualKubeletConfig`).
extension ConfigReader {
    static let virtualKubeletKeys = ["NodeName", "InternalIP", "KubeletPort", "KubeletListenAddress", "KubeletCertFile",
                                     "KubeletKeyFile", "KubeletCAFile", "Labels", "Taints", "Capacity",
                                     "NodeLeaseDurationSeconds", "NodeLeaseRenewSeconds", "NodeStatusMaxIntervalSeconds",
                                     "LeaderElection", "LeaderElectionNamespace", "LeaseDuration", "RenewDeadline",
                                     "RetryPeriod", "PingIntervalSeconds"]

    func virtualKubelet(_ n: YAMLNode, _ v: inout VirtualKubeletConfig) throws(ConfigError) {
        guard case .mapping(let entries) = n.value else {
            throw error(n.line, "VirtualKubelet must be a mapping (\(Self.virtualKubeletKeys.joined(separator: ", "))), not \(n.kindDescription)")
        }
        for e in entries {
            if case .scalar(.null) = e.value.value { continue }
            let x = e.value
            switch e.key {
            case "NodeName":
                let s = try string(x, "VirtualKubelet.NodeName")
                guard Self.isDNSSubdomain(s) else {
                    throw error(x.line, "VirtualKubelet.NodeName '\(s)' must be a DNS subdomain (lower-case a-z, 0-9, '-' and '.', at most 253 characters)")
                }
                v.nodeName = s
            case "InternalIP": v.internalIP = try string(x, "VirtualKubelet.InternalIP")
            case "KubeletPort": v.kubeletPort = try port(x, "VirtualKubelet.KubeletPort")
            case "KubeletListenAddress": v.kubeletListenAddress = try string(x, "VirtualKubelet.KubeletListenAddress")
            case "KubeletCertFile": v.kubeletCertFile = try string(x, "VirtualKubelet.KubeletCertFile", allowEmpty: true)
            case "KubeletKeyFile": v.kubeletKeyFile = try string(x, "VirtualKubelet.KubeletKeyFile", allowEmpty: true)
            case "KubeletCAFile": v.kubeletCAFile = try string(x, "VirtualKubelet.KubeletCAFile", allowEmpty: true)
            case "Labels": v.labels = try stringMap(x, "VirtualKubelet.Labels")
            case "Taints":
                v.taints = try stringList(x, "VirtualKubelet.Taints")
                for t in v.taints where VirtualKubeletConfig.parseTaint(t) == nil {
                    throw error(x.line, "VirtualKubelet.Taints: '\(t)' is not key=value:Effect or key:Effect (Effect NoSchedule, PreferNoSchedule or NoExecute)")
                }
            case "Capacity": v.capacity = try stringMap(x, "VirtualKubelet.Capacity")
            case "NodeLeaseDurationSeconds": v.nodeLeaseDurationSeconds = try int(x, "VirtualKubelet.NodeLeaseDurationSeconds", 1...3600)
            case "NodeLeaseRenewSeconds": v.nodeLeaseRenewSeconds = try seconds(x, "VirtualKubelet.NodeLeaseRenewSeconds", minimum: 0.1)
            case "NodeStatusMaxIntervalSeconds": v.nodeStatusMaxIntervalSeconds = try seconds(x, "VirtualKubelet.NodeStatusMaxIntervalSeconds", minimum: 0.1)
            case "LeaderElection": v.leaderElection = try bool(x, "VirtualKubelet.LeaderElection")
            case "LeaderElectionNamespace": v.leaderElectionNamespace = try string(x, "VirtualKubelet.LeaderElectionNamespace")
            case "LeaseDuration": v.leaseDurationSeconds = try seconds(x, "VirtualKubelet.LeaseDuration", minimum: 0.5)
            case "RenewDeadline": v.renewDeadlineSeconds = try seconds(x, "VirtualKubelet.RenewDeadline", minimum: 0.2)
            case "RetryPeriod": v.retryPeriodSeconds = try seconds(x, "VirtualKubelet.RetryPeriod", minimum: 0.1)
            case "PingIntervalSeconds": v.pingIntervalSeconds = try seconds(x, "VirtualKubelet.PingIntervalSeconds", minimum: 0.1)
            default:
                throw error(e.keyLine, "VirtualKubelet has no key '\(e.key)'; use \(Self.virtualKubeletKeys.joined(separator: ", "))")
            }
        }
        // client-go's leaderelection refuses these too.
        guard v.leaseDurationSeconds > v.renewDeadlineSeconds, v.renewDeadlineSeconds > v.retryPeriodSeconds else {
            throw error(n.line, "VirtualKubelet: LeaseDuration must be greater than RenewDeadline, and RenewDeadline greater than RetryPeriod")
        }
    }

    func stringMap(_ n: YAMLNode, _ key: String) throws(ConfigError) -> [String: String] {
        guard case .mapping(let entries) = n.value else { throw error(n.line, "\(key) must be a mapping of strings, not \(n.kindDescription)") }
        var out: [String: String] = [:]
        for e in entries {
            switch e.value.value {
            case .scalar(.string(let s)): out[e.key] = s
            case .scalar(.int(let i)): out[e.key] = String(i)
            case .scalar(.bool(let b)): out[e.key] = b ? "true" : "false"
            default: throw error(e.value.line, "\(key).\(e.key) must be a string, not \(e.value.kindDescription)")
            }
        }
        return out
    }

    static func isDNSSubdomain(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...253).contains(u.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        return alnum(u.first!) && alnum(u.last!) && u.allSatisfy { alnum($0) || $0 == 0x2D || $0 == 0x2E }
    }
}

extension VirtualKubeletConfig {
    /// `key=value:Effect` or `key:Effect` -> (key, value, effect).
    public static func parseTaint(_ s: String) -> (key: String, value: String, effect: String)? {
        guard let colon = s.lastIndex(of: ":") else { return nil }
        let effect = String(s[s.index(after: colon)...])
        guard ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) else { return nil }
        let kv = s[..<colon]
        let key: String, value: String
        if let eq = kv.firstIndex(of: "=") { key = String(kv[..<eq]); value = String(kv[kv.index(after: eq)...]) }
        else { key = String(kv); value = "" }
        guard !key.isEmpty else { return nil }
        return (key, value, effect)
    }
}
