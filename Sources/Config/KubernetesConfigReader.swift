/// Reads the `Kubernetes:` section (see `KubernetesConfig`).
extension ConfigReader {
    static let kubernetesKeys = ["Kubeconfig", "Context", "Server", "TokenFile", "CAFile", "InsecureSkipTLSVerify",
                                 "PatchStatus", "QPS", "Burst"]

    func kubernetes(_ n: YAMLNode, _ k: inout KubernetesConfig) throws(ConfigError) {
        guard case .mapping(let entries) = n.value else {
            throw error(n.line, "Kubernetes must be a mapping (\(Self.kubernetesKeys.joined(separator: ", "))), not \(n.kindDescription)")
        }
        for e in entries {
            if case .scalar(.null) = e.value.value { continue }
            let v = e.value
            switch e.key {
            case "Kubeconfig": k.kubeconfig = try string(v, "Kubernetes.Kubeconfig")
            case "Context": k.context = try string(v, "Kubernetes.Context")
            case "Server":
                let s = try string(v, "Kubernetes.Server")
                guard s.hasPrefix("https://") || s.hasPrefix("http://") else {
                    throw error(v.line, "Kubernetes.Server '\(s)' must start with https://")
                }
                k.server = s
            case "TokenFile": k.tokenFile = try string(v, "Kubernetes.TokenFile")
            case "CAFile": k.caFile = try string(v, "Kubernetes.CAFile")
            case "InsecureSkipTLSVerify": k.insecureSkipTLSVerify = try bool(v, "Kubernetes.InsecureSkipTLSVerify")
            case "PatchStatus": k.patchStatus = try bool(v, "Kubernetes.PatchStatus")
            case "QPS":
                switch v.value {
                case .scalar(.int(let i)) where i > 0 && i <= 10_000: k.qps = Double(i)
                case .scalar(.float(let d)) where d.isFinite && d >= 0.01 && d <= 10_000: k.qps = d
                default: throw error(v.line, "Kubernetes.QPS must be a number of requests a second between 0.01 and 10000, not \(v.kindDescription)")
                }
            case "Burst": k.burst = try int(v, "Kubernetes.Burst", 1...10_000)
            default:
                throw error(e.keyLine, "Kubernetes has no key '\(e.key)'; use \(Self.kubernetesKeys.joined(separator: ", "))")
            }
        }
    }
}
