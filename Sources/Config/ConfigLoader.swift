/// Finds, reads and validates InterLinkConfig.yaml.
/// STUB: the bodies are filled in by the YAML/config work.
public enum ConfigLoader {
    public static let defaultPath = "/etc/interlink/InterLinkConfig.yaml"

    /// `--config` wins, then `INTERLINKCONFIGPATH`, then the default path.
    public static func resolvePath(cliPath: String?, environment: [String: String]) -> String {
        if let p = cliPath, !p.isEmpty { return p }
        if let p = environment["INTERLINKCONFIGPATH"], !p.isEmpty { return p }
        return defaultPath
    }

    /// Reads the file, applies environment overrides (INTERLINKURL, INTERLINKPORT,
    /// SIDECARURL, SIDECARPORT, ...) and validates. The error is one line naming
    /// the file and line.
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> InterLinkConfig {
        throw ConfigError(path: path, line: nil, message: "config loader not implemented yet")
    }
}

/// A configuration that cannot be used. `description` is the one line printed
/// before `interlink` exits with code 2.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String
    public init(path: String, line: Int?, message: String) { self.path = path; self.line = line; self.message = message }
    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}
