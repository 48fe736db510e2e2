/// Maps the YAML tree of InterLinkConfig.yaml onto `InterLinkConfig`, one key
/// at a time, with type and range checks that name the offending line. Keys
/// keep the upstream interLink spelling; an empty value (`Key:`) keeps the
/// default.
struct ConfigReader {
    let path: String
    /// `Providers:` is read after every other key, so its entries inherit them whatever the order.
    var providersNode: YAMLNode? = nil

    private typealias Setter = @Sendable (inout ConfigReader, YAMLNode, inout InterLinkConfig) throws(ConfigError) -> Void

    private static let setters: [String: Setter] = [
        "InterlinkAddress": { r, n, c throws(ConfigError) in c.interlinkAddress = try r.string(n, "InterlinkAddress") },
        "InterlinkPort": { r, n, c throws(ConfigError) in c.interlinkPort = try r.port(n, "InterlinkPort") },
        "SidecarURL": { r, n, c throws(ConfigError) in c.sidecarURL = try r.string(n, "SidecarURL") },
        "SidecarPort": { r, n, c throws(ConfigError) in c.sidecarPort = try r.port(n, "SidecarPort") },
        "DataRootFolder": { r, n, c throws(ConfigError) in c.dataRootFolder = try r.string(n, "DataRootFolder") },
        "StateFolder": { r, n, c throws(ConfigError) in c.stateFolder = try r.string(n, "StateFolder", allowEmpty: true) },
        "VerboseLogging": { r, n, c throws(ConfigError) in c.verboseLogging = try r.bool(n, "VerboseLogging") },
        "ErrorsOnlyLogging": { r, n, c throws(ConfigError) in c.errorsOnlyLogging = try r.bool(n, "ErrorsOnlyLogging") },
        "TLS": { r, n, c throws(ConfigError) in try r.tls(n, &c.tls) },
        "VKTokenFile": { r, n, c throws(ConfigError) in c.vkTokenFile = try r.string(n, "VKTokenFile") },
        "ExportPodData": { r, n, c throws(ConfigError) in c.exportPodData = try r.bool(n, "ExportPodData") },
        "SbatchPath": { r, n, c throws(ConfigError) in c.sbatchPath = try r.string(n, "SbatchPath") },
        "ScancelPath": { r, n, c throws(ConfigError) in c.scancelPath = try r.string(n, "ScancelPath") },
        "SqueuePath": { r, n, c throws(ConfigError) in c.squeuePath = try r.string(n, "SqueuePath") },
        "SinfoPath": { r, n, c throws(ConfigError) in c.sinfoPath = try r.string(n, "SinfoPath") },
        "CommandPrefix": { r, n, c throws(ConfigError) in c.commandPrefix = try r.string(n, "CommandPrefix", allowEmpty: true) },
        "Provider": { r, n, c throws(ConfigError) in c.provider = try r.provider(n, "Provider") },
        "SidecarService": { r, n, c throws(ConfigError) in c.provider = try r.provider(n, "SidecarService") },
        "MaxBodyBytes": { r, n, c throws(ConfigError) in c.maxBodyBytes = try r.int(n, "MaxBodyBytes", 1024...(256 << 20)) },
        "ReadTimeoutSeconds": { r, n, c throws(ConfigError) in c.readTimeoutSeconds = try r.seconds(n, "ReadTimeoutSeconds", minimum: 0.001) },
        "MaxConnections": { r, n, c throws(ConfigError) in c.maxConnections = try r.int(n, "MaxConnections", 1...1_000_000) },
        "BodyTimeoutSeconds": { r, n, c throws(ConfigError) in c.bodyTimeoutSeconds = try r.seconds(n, "BodyTimeoutSeconds", minimum: 0.001) },
        "ReconcileIntervalSeconds": { r, n, c throws(ConfigError) in c.reconcileIntervalSeconds = try r.seconds(n, "ReconcileIntervalSeconds", minimum: 0.01) },
        "MaxCreateAttempts": { r, n, c throws(ConfigError) in c.maxCreateAttempts = try r.int(n, "MaxCreateAttempts", 1...1000) },
        "InstanceName": { r, n, c throws(ConfigError) in c.instanceName = try r.instanceName(n) },
        "MaxRestarts": { r, n, c throws(ConfigError) in c.maxRestarts = try r.int(n, "MaxRestarts", 0...1_000_000) },
        "OrphanGraceSeconds": { r, n, c throws(ConfigError) in c.orphanGraceSeconds = try r.seconds(n, "OrphanGraceSeconds", minimum: 0) },
        "MockRunSeconds": { r, n, c throws(ConfigError) in c.mockRunSeconds = try r.seconds(n, "MockRunSeconds", minimum: 0) },
        "DockerPath": { r, n, c throws(ConfigError) in c.dockerPath = try r.string(n, "DockerPath") },
        "DockerHost": { r, n, c throws(ConfigError) in c.dockerHost = try r.string(n, "DockerHost") },
        "DockerNetwork": { r, n, c throws(ConfigError) in c.dockerNetwork = try r.string(n, "DockerNetwork") },
        "DockerProbeHelper": { r, n, c throws(ConfigError) in c.dockerProbeHelper = try r.string(n, "DockerProbeHelper") },
        "DockerRestartBackoffSeconds": { r, n, c throws(ConfigError) in c.dockerRestartBackoffSeconds = try r.int(n, "DockerRestartBackoffSeconds", 1...300) },
        "AllowHostPath": { r, n, c throws(ConfigError) in c.allowHostPath = try r.bool(n, "AllowHostPath") },
        "SubPathPinning": { r, n, c throws(ConfigError) in
            // YAML reads a bare `off` as false.
            if case .scalar(.bool(false)) = n.value { c.subPathPinning = "off"; return }
            c.subPathPinning = try r.oneOf(n, "SubPathPinning", InterLinkConfig.subPathPinningModes)
        },
        "EnableGPU": { r, n, c throws(ConfigError) in c.enableGPU = try r.bool(n, "EnableGPU") },
        "ContainerRuntime": { r, n, c throws(ConfigError) in c.containerRuntime = try r.oneOf(n, "ContainerRuntime", InterLinkConfig.containerRuntimes) },
        "ContainerRuntimePath": { r, n, c throws(ConfigError) in c.containerRuntimePath = try r.string(n, "ContainerRuntimePath") },
        "ImageRoot": { r, n, c throws(ConfigError) in c.imageRoot = try r.string(n, "ImageRoot", allowEmpty: true) },
        "SlurmFlags": { r, n, c throws(ConfigError) in c.slurmFlags = try r.stringList(n, "SlurmFlags") },
        "AllowPreExec": { r, n, c throws(ConfigError) in c.allowPreExec = try r.bool(n, "AllowPreExec") },
        "SlurmAllowedFlags": { r, n, c throws(ConfigError) in c.slurmAllowedFlags = try r.stringList(n, "SlurmAllowedFlags").map { String($0.drop(while: { $0 == "-" })) } },
        "SlurmPodFlagsOverrideSite": { r, n, c throws(ConfigError) in c.slurmPodFlagsOverrideSite = try r.bool(n, "SlurmPodFlagsOverrideSite") },
        "SlurmExportEnvironment": { r, n, c throws(ConfigError) in c.slurmExportEnvironment = try r.envNames(n, "SlurmExportEnvironment") },
        "SingularityAllowedOptions": { r, n, c throws(ConfigError) in c.singularityAllowedOptions = try r.stringList(n, "SingularityAllowedOptions") },
        "SingularityAllowedMounts": { r, n, c throws(ConfigError) in c.singularityAllowedMounts = try r.absolutePaths(n, "SingularityAllowedMounts") },
        "SlurmRestartBackoffSeconds": { r, n, c throws(ConfigError) in c.slurmRestartBackoffSeconds = try r.int(n, "SlurmRestartBackoffSeconds", 1...10) },
        "SlurmFilesystemTimeoutSeconds": { r, n, c throws(ConfigError) in c.slurmFilesystemTimeoutSeconds = try r.seconds(n, "SlurmFilesystemTimeoutSeconds", minimum: 0.1) },
        "Kubernetes": { r, n, c throws(ConfigError) in try r.kubernetes(n, &c.kubernetes) },
        "SidecarTokenFile": { r, n, c throws(ConfigError) in c.sidecarTokenFile = try r.string(n, "SidecarTokenFile") },
        "SidecarTimeoutSeconds": { r, n, c throws(ConfigError) in c.sidecarTimeoutSeconds = try r.seconds(n, "SidecarTimeoutSeconds", minimum: 0.1) },
        "Providers": { r, n, _ throws(ConfigError) in r.providersNode = n },
        "VirtualKubelet": { r, n, c throws(ConfigError) in try r.virtualKubelet(n, &c.virtualKubelet) },
    ]

    /// Every key this reader understands, for documentation tests.
    static var knownKeys: [String] { setters.keys.sorted() }

    /// Applies the root mapping; returns the unknown keys.
    mutating func apply(_ root: YAMLNode, to config: inout InterLinkConfig) throws(ConfigError) -> [String] {
        guard case .mapping(let entries) = root.value else {
            throw error(root.line, "the configuration must be a mapping of keys to values, not \(root.kindDescription)")
        }
        var unknown: [String] = []
        var providerKey: (String, ProviderKind, Int)? = nil
        for e in entries {
            guard let set = Self.setters[e.key] else { unknown.append(e.key); continue }
            if case .scalar(.null) = e.value.value { continue }
            try set(&self, e.value, &config)
            if e.key == "Provider" || e.key == "SidecarService" {
                if let (other, kind, _) = providerKey, kind != config.provider {
                    throw error(e.keyLine, "\(e.key) (\(config.provider.rawValue)) contradicts \(other) (\(kind.rawValue)); give one")
                }
                providerKey = (e.key, config.provider, e.keyLine)
            }
        }
        return unknown
    }

    // MARK: typed readers

    func error(_ line: Int?, _ message: String) -> ConfigError { ConfigError(path: path, line: line, message: message) }

    func string(_ n: YAMLNode, _ key: String, allowEmpty: Bool = false) throws(ConfigError) -> String {
        guard case .scalar(.string(let s)) = n.value else {
            throw error(n.line, "\(key) must be a string, not \(n.kindDescription) (quote it if it looks like a number or boolean)")
        }
        if !allowEmpty && s.isEmpty { throw error(n.line, "\(key) must not be empty") }
        return s
    }

    func bool(_ n: YAMLNode, _ key: String) throws(ConfigError) -> Bool {
        guard case .scalar(.bool(let b)) = n.value else { throw error(n.line, "\(key) must be true or false, not \(n.kindDescription)") }
        return b
    }

    func int(_ n: YAMLNode, _ key: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(.int(let v)) = n.value else { throw error(n.line, "\(key) must be an integer, not \(n.kindDescription)") }
        guard range.contains(Int(v)) else { throw error(n.line, "\(key) is \(v); it must be between \(range.lowerBound) and \(range.upperBound)") }
        return Int(v)
    }

    /// Ports come as integers or, as upstream writes them, as strings.
    func port(_ n: YAMLNode, _ key: String) throws(ConfigError) -> Int {
        if case .scalar(.string(let s)) = n.value {
            guard let v = Int(s), (0...65535).contains(v) else { throw error(n.line, "\(key) '\(s)' is not a port number (0-65535)") }
            return v
        }
        return try int(n, key, 0...65535)
    }

    func seconds(_ n: YAMLNode, _ key: String, minimum: Double) throws(ConfigError) -> Double {
        let v: Double
        switch n.value {
        case .scalar(.int(let i)): v = Double(i)
        case .scalar(.float(let d)): v = d
        default: throw error(n.line, "\(key) must be a number of seconds, not \(n.kindDescription)")
        }
        guard v.isFinite, v >= minimum, v <= 86_400 * 365 else {
            throw error(n.line, "\(key) is \(YAMLScalar.floatText(v)); it must be at least \(minimum) and at most a year")
        }
        return v
    }

    func provider(_ n: YAMLNode, _ key: String) throws(ConfigError) -> ProviderKind {
        let s = try string(n, key)
        guard let p = ProviderKind(rawValue: s.lowercased()) else {
            throw error(n.line, "\(key) '\(s)' is not a provider; use one of \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return p
    }

    func oneOf(_ n: YAMLNode, _ key: String, _ allowed: [String]) throws(ConfigError) -> String {
        let s = try string(n, key)
        guard allowed.contains(s) else { throw error(n.line, "\(key) '\(s)' is not one of \(allowed.joined(separator: ", "))") }
        return s
    }

    func instanceName(_ n: YAMLNode) throws(ConfigError) -> String {
        let s = try string(n, "InstanceName")
        guard InterLinkConfig.isValidInstanceName(s) else {
            throw error(n.line, "InstanceName '\(s)' must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")
        }
        return s
    }

    func stringList(_ n: YAMLNode, _ key: String) throws(ConfigError) -> [String] {
        guard case .sequence(let items) = n.value else { throw error(n.line, "\(key) must be a sequence of strings, not \(n.kindDescription)") }
        var out: [String] = []
        for item in items { out.append(try string(item, "each entry of \(key)")) }
        return out
    }

    /// Environment variable names (letters, digits, `_`, not starting with a digit).
    func envNames(_ n: YAMLNode, _ key: String) throws(ConfigError) -> [String] {
        let names = try stringList(n, key)
        for name in names {
            let u = Array(name.utf8)
            let ok = !u.isEmpty && !(u[0] >= 48 && u[0] <= 57)
                && u.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            if !ok { throw error(n.line, "\(key): \"\(name)\" is not an environment variable name (letters, digits and _)") }
        }
        return names
    }

    /// Absolute paths without `..` elements.
    func absolutePaths(_ n: YAMLNode, _ key: String) throws(ConfigError) -> [String] {
        let paths = try stringList(n, key)
        for p in paths where !p.hasPrefix("/") || p.split(separator: "/").contains("..") {
            throw error(n.line, "\(key): \"\(p)\" must be an absolute path without ..")
        }
        return paths
    }

    mutating func tls(_ n: YAMLNode, _ tls: inout TLSConfig) throws(ConfigError) {
        guard case .mapping(let entries) = n.value else { throw error(n.line, "TLS must be a mapping (Enabled, CertFile, KeyFile, CACertFile), not \(n.kindDescription)") }
        for e in entries {
            if case .scalar(.null) = e.value.value { continue }
            switch e.key {
            case "Enabled": tls.enabled = try bool(e.value, "TLS.Enabled")
            case "CertFile": tls.certFile = try string(e.value, "TLS.CertFile", allowEmpty: true)
            case "KeyFile": tls.keyFile = try string(e.value, "TLS.KeyFile", allowEmpty: true)
            case "CACertFile": tls.caCertFile = try string(e.value, "TLS.CACertFile", allowEmpty: true)
            default: throw error(e.keyLine, "TLS has no key '\(e.key)'; use Enabled, CertFile, KeyFile, CACertFile")
            }
        }
    }

    // MARK: whole-config checks (after the environment overrides)

    static func validate(_ c: InterLinkConfig, path: String) throws(ConfigError) {
        func fail(_ m: String) -> ConfigError { ConfigError(path: path, line: nil, message: m) }
        for (key, value) in [("InterlinkAddress", c.interlinkAddress), ("SidecarURL", c.sidecarURL)] {
            guard value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("unix:///") else {
                throw fail("\(key) '\(value)' must start with http://, https:// or unix:///")
            }
        }
        if c.dataRootFolder.isEmpty { throw fail("DataRootFolder must not be empty") }
        if !c.stateFolder.isEmpty {
            func normal(_ p: String) -> String { p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p }
            let state = normal(c.stateFolder), root = normal(c.dataRootFolder)
            if state == root || root.hasPrefix(state + "/") {
                throw fail("StateFolder '\(c.stateFolder)' must not be DataRootFolder or contain it: pod directories would then sit inside the journal's directory")
            }
        }
        if c.tls.enabled && (c.tls.certFile.isEmpty || c.tls.keyFile.isEmpty) {
            throw fail("TLS.Enabled is true but TLS.CertFile or TLS.KeyFile is empty")
        }
    }
}
