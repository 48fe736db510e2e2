/// Environment variables that override the file, as the upstream server
/// honours them (INTERLINKURL, INTERLINKPORT, SIDECARURL, SIDECARPORT) plus
/// ours (INTERLINK_PROVIDER, INTERLINK_DATA_ROOT). Empty values are ignored.
enum EnvironmentOverrides {
    static let names = ["INTERLINKURL", "INTERLINKPORT", "SIDECARURL", "SIDECARPORT", "INTERLINK_PROVIDER", "INTERLINK_DATA_ROOT"]

    static func apply(_ env: [String: String], to c: inout InterLinkConfig, path: String) throws(ConfigError) {
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        func port(_ name: String) throws(ConfigError) -> Int? {
            guard let s = value(name) else { return nil }
            guard let v = Int(s), (0...65535).contains(v) else {
                throw ConfigError(path: path, line: nil, message: "environment variable \(name)='\(s)' is not a port number (0-65535)")
            }
            return v
        }
        if let v = value("INTERLINKURL") { c.interlinkAddress = v }
        if let v = try port("INTERLINKPORT") { c.interlinkPort = v }
        if let v = value("SIDECARURL") { c.sidecarURL = v }
        if let v = try port("SIDECARPORT") { c.sidecarPort = v }
        if let v = value("INTERLINK_DATA_ROOT") { c.dataRootFolder = v }
        if let v = value("INTERLINK_PROVIDER") {
            guard let p = ProviderKind(rawValue: v.lowercased()) else {
                throw ConfigError(path: path, line: nil, message: "environment variable INTERLINK_PROVIDER='\(v)' is not a provider; use one of mock, docker, slurm")
            }
            c.provider = p
        }
    }
}
