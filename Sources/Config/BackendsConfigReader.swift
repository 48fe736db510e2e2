/// Reads the `Providers:` list: each entry a mapping with `Name`, `Kind`
/// (`docker`, `slurm`, `mock`, `remote`), optional `Default: true` and
/// `MatchLabels`, and any top-level setting of its own (`SidecarURL`,
/// `DockerHost`, `SlurmFlags`...), which overrides the top-level value for
/// that backend only.
extension ConfigReader {
    static let entryOnlyKeys: Set<String> = ["Name", "Kind", "Default", "MatchLabels", "NodeSelector"]
    /// Keys that make no sense per backend: one server, one journal, one list.
    /// (`DataRootFolder` may differ per backend: it places that backend's pod
    /// files; the journal stays under the top-level one.)
    static let serverOnlyKeys: Set<String> = ["Providers", "Provider", "SidecarService", "InterlinkAddress", "InterlinkPort",
                                              "VKTokenFile", "TLS", "MaxBodyBytes", "MaxConnections",
                                              "ReadTimeoutSeconds", "ReconcileIntervalSeconds", "MaxCreateAttempts", "MaxRestarts"]

    mutating func backends(_ n: YAMLNode, base: InterLinkConfig) throws(ConfigError) -> [BackendConfig] {
        guard case .sequence(let items) = n.value else {
            throw error(n.line, "Providers must be a sequence of mappings (- Name: ..., Kind: ...), not \(n.kindDescription)")
        }
        var out: [BackendConfig] = []
        for item in items {
            guard case .mapping(let entries) = item.value else {
                throw error(item.line, "each entry of Providers must be a mapping with Name and Kind, not \(item.kindDescription)")
            }
            var name: String? = nil, kind: ProviderKind? = nil, isDefault = false, labels: [String: String] = [:]
            var selector: [String: String] = [:]
            var own: [YAMLEntry] = []
            for e in entries {
                if case .scalar(.null) = e.value.value { continue }
                switch e.key {
                case "Name":
                    let s = try string(e.value, "Providers[].Name")
                    guard InterLinkConfig.isValidInstanceName(s) else {
                        throw error(e.keyLine, "Providers[].Name '\(s)' must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")
                    }
                    name = s
                case "Kind": kind = try provider(e.value, "Providers[].Kind")
                case "Default": isDefault = try bool(e.value, "Providers[].Default")
                case "MatchLabels":
                    guard case .mapping(let ls) = e.value.value else {
                        throw error(e.keyLine, "Providers[].MatchLabels must be a mapping of label to value, not \(e.value.kindDescription)")
                    }
                    for l in ls { labels[l.key] = try string(l.value, "MatchLabels.\(l.key)", allowEmpty: true) }
                case "NodeSelector":
                    guard case .mapping(let ls) = e.value.value else {
                        throw error(e.keyLine, "Providers[].NodeSelector must be a mapping of node label to value, not \(e.value.kindDescription)")
                    }
                    for l in ls { selector[l.key] = try string(l.value, "NodeSelector.\(l.key)", allowEmpty: true) }
                case let k where Self.serverOnlyKeys.contains(k):
                    throw error(e.keyLine, "\(k) is a server setting and cannot be set per backend in Providers")
                default: own.append(e)
                }
            }
            guard let name else { throw error(item.line, "an entry of Providers has no Name") }
            guard let kind else { throw error(item.line, "Providers entry \(name) has no Kind (docker, slurm, mock or remote)") }
            if out.contains(where: { $0.name == name }) { throw error(item.line, "Providers has two entries named \(name)") }
            var c = base
            c.providers = []
            c.provider = kind
            let unknown = try apply(YAMLNode(.mapping(own), line: item.line), to: &c)
            if let k = unknown.first { throw error(item.line, "Providers entry \(name) has an unknown key '\(k)'") }
            try Self.validate(c, path: path)
            var entry = BackendConfig(name: name, kind: kind, isDefault: isDefault, matchLabels: labels, config: c)
            entry.nodeSelector = selector
            out.append(entry)
        }
        if out.isEmpty { throw error(n.line, "Providers is empty; list at least one backend or remove the key") }
        let defaults = out.filter(\.isDefault)
        if defaults.count > 1 { throw error(n.line, "Providers has \(defaults.count) entries with Default: true; give one") }
        if defaults.isEmpty { out[0].isDefault = true }
        return out
    }
}
