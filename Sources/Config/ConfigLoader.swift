import FoundationEssentials
import Model
import Support

/// Finds, reads and validates InterLinkConfig.yaml. Precedence, lowest first:
/// the defaults in `InterLinkConfig`, the file, the environment overrides.
/// Every failure is a `ConfigError` naming the file and, when it comes from
/// the file, the line.
public enum ConfigLoader {
    public static let defaultPath = "/etc/interlink/InterLinkConfig.yaml"

    /// `--config` wins, then `INTERLINKCONFIGPATH`, then the default path.
    public static func resolvePath(cliPath: String?, environment: [String: String]) -> String {
        if let p = cliPath, !p.isEmpty { return p }
        if let p = environment["INTERLINKCONFIGPATH"], !p.isEmpty { return p }
        return defaultPath
    }

    /// Reads the file, applies environment overrides (INTERLINKURL, INTERLINKPORT,
    /// SIDECARURL, SIDECARPORT, INTERLINK_PROVIDER, INTERLINK_DATA_ROOT) and
    /// validates. Unknown keys are logged as a warning, not rejected (upstream
    /// configs carry keys this server does not use). The error is one line
    /// naming the file and line.
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> InterLinkConfig {
        let text = try readFile(path)
        let (config, unknown) = try decode(text: text, path: path, environment: environment)
        if !unknown.isEmpty {
            Log.warn("ignoring unknown configuration keys", ["path": path, "keys": unknown.joined(separator: ", ")])
        }
        return config
    }

    static func readFile(_ path: String) throws(ConfigError) -> String {
        var isDir: Bool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ConfigError(path: path, line: nil, message: "no such file (set --config or INTERLINKCONFIGPATH)")
        }
        if isDir { throw ConfigError(path: path, line: nil, message: "is a directory, not a configuration file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, line: nil, message: "cannot be read (check its permissions)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ConfigError(path: path, line: nil, message: "is not valid UTF-8 text")
        }
        return text
    }

    /// The pure part of `load`: text -> config (with env overrides) and the
    /// unknown top-level keys, in file order.
    static func decode(text: String, path: String, environment: [String: String]) throws(ConfigError) -> (InterLinkConfig, [String]) {
        let docs: [YAMLNode]
        do { docs = try YAML.documents(text) } catch {
            throw ConfigError(path: path, line: error.line, message: error.message)
        }
        var config = InterLinkConfig()
        var unknown: [String] = []
        if docs.count > 1 {
            throw ConfigError(path: path, line: docs[1].line, message: "holds \(docs.count) YAML documents; a configuration is one")
        }
        if let root = docs.first {
            var reader = ConfigReader(path: path)
            unknown = try reader.apply(root, to: &config)
            if let n = reader.providersNode { config.providers = try reader.backends(n, base: config) }
        }
        try EnvironmentOverrides.apply(environment, to: &config, path: path)
        try ConfigReader.validate(config, path: path)
        return (config, unknown)
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
