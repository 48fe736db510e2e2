// Kubernetes volume types, reduced to the sources InterLink materialises
// (configMap, secret, projected, downwardAPI, emptyDir, hostPath). Field names
// keep their Kubernetes JSON spelling.

public struct VolumeMount: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?
    public var subPath: String?
    public init(name: String, mountPath: String, readOnly: Bool? = nil, subPath: String? = nil) {
        self.name = name; self.mountPath = mountPath; self.readOnly = readOnly; self.subPath = subPath
    }
}

public struct KeyToPath: Codable, Sendable, Equatable, Hashable {
    public var key: String
    public var path: String
    public var mode: Int32?
    public init(key: String, path: String, mode: Int32? = nil) { self.key = key; self.path = path; self.mode = mode }
}

public struct ConfigMapVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var name: String?
    public var items: [KeyToPath]?
    public var defaultMode: Int32?
    public var optional: Bool?
    public init(name: String?, items: [KeyToPath]? = nil, defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.name = name; self.items = items; self.defaultMode = defaultMode; self.optional = optional
    }
}

public struct SecretVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var secretName: String?
    /// The Secret's name inside a projected volume (`SecretProjection` says `name`, not `secretName`).
    public var name: String? = nil
    public var items: [KeyToPath]?
    public var defaultMode: Int32?
    public var optional: Bool?
    public init(secretName: String?, items: [KeyToPath]? = nil, defaultMode: Int32? = nil) {
        self.secretName = secretName; self.items = items; self.defaultMode = defaultMode
    }
}

public struct EmptyDirVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var medium: String?
    public var sizeLimit: QuantityString?
    public init() {}
}

public struct HostPathVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var path: String
    public var type: String?
    public init(path: String, type: String? = nil) { self.path = path; self.type = type }
}

/// `resourceFieldRef` of the downward API (env and volume files): a container's
/// `limits.cpu`, `requests.memory`... divided by `divisor` (default 1).
public struct ResourceFieldSelector: Codable, Sendable, Equatable, Hashable {
    /// Required in volumes; in env it defaults to the container itself.
    public var containerName: String?
    public var resource: String
    public var divisor: QuantityString?
    public init(containerName: String? = nil, resource: String, divisor: QuantityString? = nil) {
        self.containerName = containerName; self.resource = resource; self.divisor = divisor
    }
}

/// One file of a downwardAPI volume or projection.
public struct DownwardAPIVolumeFile: Codable, Sendable, Equatable, Hashable {
    public var path: String
    public var fieldRef: FieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public var mode: Int32?
    public init(path: String, fieldRef: FieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, mode: Int32? = nil) {
        self.path = path; self.fieldRef = fieldRef; self.resourceFieldRef = resourceFieldRef; self.mode = mode
    }
}

public struct DownwardAPIVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var items: [DownwardAPIVolumeFile]?
    public var defaultMode: Int32?
    public init(items: [DownwardAPIVolumeFile]? = nil, defaultMode: Int32? = nil) {
        self.items = items; self.defaultMode = defaultMode
    }
}

public struct DownwardAPIProjection: Codable, Sendable, Equatable, Hashable {
    public var items: [DownwardAPIVolumeFile]?
    public init(items: [DownwardAPIVolumeFile]? = nil) { self.items = items }
}

/// The service-account token source admission adds to `kube-api-access-*`.
/// Only the VK can mint the token (TokenRequest API); it arrives resolved in
/// `projectedvolumesmaps`.
public struct ServiceAccountTokenProjection: Codable, Sendable, Equatable, Hashable {
    public var path: String
    public var audience: String?
    public var expirationSeconds: Int64?
    public init(path: String, audience: String? = nil, expirationSeconds: Int64? = nil) {
        self.path = path; self.audience = audience; self.expirationSeconds = expirationSeconds
    }
}

public struct ProjectedVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var sources: [VolumeProjection]?
    public var defaultMode: Int32?
    public init(sources: [VolumeProjection]? = nil, defaultMode: Int32? = nil) {
        self.sources = sources; self.defaultMode = defaultMode
    }
}

public struct VolumeProjection: Codable, Sendable, Equatable, Hashable {
    public var configMap: ConfigMapVolumeSource?
    public var secret: SecretVolumeSource?
    public var downwardAPI: DownwardAPIProjection?
    public var serviceAccountToken: ServiceAccountTokenProjection?
    public init(configMap: ConfigMapVolumeSource? = nil, secret: SecretVolumeSource? = nil,
                downwardAPI: DownwardAPIProjection? = nil, serviceAccountToken: ServiceAccountTokenProjection? = nil) {
        self.configMap = configMap; self.secret = secret
        self.downwardAPI = downwardAPI; self.serviceAccountToken = serviceAccountToken
    }
}

public struct Volume: Codable, Sendable, Equatable, Hashable {
    public var name: String
    /// The sources behind one reference (a volume has one, and each inline made
    /// every volume over 200 bytes). Nil when all are, so equal volumes stay equal.
    private var sources: CopyOnWrite<Sources>?

    struct Sources: OptionalFieldGroup, Hashable {
        var configMap: ConfigMapVolumeSource?
        var secret: SecretVolumeSource?
        var emptyDir: EmptyDirVolumeSource?
        var hostPath: HostPathVolumeSource?
        var projected: ProjectedVolumeSource?
        var downwardAPI: DownwardAPIVolumeSource?
        var isEmpty: Bool {
            configMap == nil && secret == nil && emptyDir == nil && hostPath == nil && projected == nil && downwardAPI == nil
        }
    }

    public var configMap: ConfigMapVolumeSource? { get { sources?.value.configMap } set { sources.set(\.configMap, newValue) } }
    public var secret: SecretVolumeSource? { get { sources?.value.secret } set { sources.set(\.secret, newValue) } }
    public var emptyDir: EmptyDirVolumeSource? { get { sources?.value.emptyDir } set { sources.set(\.emptyDir, newValue) } }
    public var hostPath: HostPathVolumeSource? { get { sources?.value.hostPath } set { sources.set(\.hostPath, newValue) } }
    public var projected: ProjectedVolumeSource? { get { sources?.value.projected } set { sources.set(\.projected, newValue) } }
    public var downwardAPI: DownwardAPIVolumeSource? { get { sources?.value.downwardAPI } set { sources.set(\.downwardAPI, newValue) } }
    /// The JSON key of a volume source InterLink does not model (`persistentVolumeClaim`,
    /// `nfs`...), kept so the error can name it. Never encoded.
    public var unsupportedType: String? = nil
    public init(name: String, configMap: ConfigMapVolumeSource? = nil, secret: SecretVolumeSource? = nil,
                emptyDir: EmptyDirVolumeSource? = nil, hostPath: HostPathVolumeSource? = nil,
                projected: ProjectedVolumeSource? = nil, downwardAPI: DownwardAPIVolumeSource? = nil) {
        self.name = name; self.configMap = configMap; self.secret = secret
        self.emptyDir = emptyDir; self.hostPath = hostPath
        self.projected = projected; self.downwardAPI = downwardAPI
    }

    enum CodingKeys: String, CodingKey { case name, configMap, secret, emptyDir, hostPath, projected, downwardAPI }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let found = Sources(configMap: try c.decodeIfPresent(ConfigMapVolumeSource.self, forKey: .configMap),
                            secret: try c.decodeIfPresent(SecretVolumeSource.self, forKey: .secret),
                            emptyDir: try c.decodeIfPresent(EmptyDirVolumeSource.self, forKey: .emptyDir),
                            hostPath: try c.decodeIfPresent(HostPathVolumeSource.self, forKey: .hostPath),
                            projected: try c.decodeIfPresent(ProjectedVolumeSource.self, forKey: .projected),
                            downwardAPI: try c.decodeIfPresent(DownwardAPIVolumeSource.self, forKey: .downwardAPI))
        sources = .init(nonEmpty: found)
        let all = try decoder.container(keyedBy: AnyKey.self)
        unsupportedType = all.allKeys.map(\.stringValue)
            .filter { CodingKeys(rawValue: $0) == nil }.sorted().first
    }

    /// Encodes the unsupported source's key too (as `{}`: its content is not
    /// modelled), so a pod read back from the journal still names it. Without it
    /// the volume came back with no source at all (found by the json-create
    /// fuzz target's encode/decode round trip).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(name, forKey: AnyKey(stringValue: CodingKeys.name.rawValue))
        try c.encodeIfPresent(configMap, forKey: AnyKey(stringValue: CodingKeys.configMap.rawValue))
        try c.encodeIfPresent(secret, forKey: AnyKey(stringValue: CodingKeys.secret.rawValue))
        try c.encodeIfPresent(emptyDir, forKey: AnyKey(stringValue: CodingKeys.emptyDir.rawValue))
        try c.encodeIfPresent(hostPath, forKey: AnyKey(stringValue: CodingKeys.hostPath.rawValue))
        try c.encodeIfPresent(projected, forKey: AnyKey(stringValue: CodingKeys.projected.rawValue))
        try c.encodeIfPresent(downwardAPI, forKey: AnyKey(stringValue: CodingKeys.downwardAPI.rawValue))
        if let t = unsupportedType { try c.encode([String: String](), forKey: AnyKey(stringValue: t)) }
    }
}
