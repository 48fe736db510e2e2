// The subset of the Kubernetes Pod API that InterLink reads. Field names keep
// their Kubernetes JSON spelling; unknown fields are ignored when decoding (the
// desired store keeps the request bytes as received, so nothing is lost).

/// Kubernetes `ObjectMeta`, reduced to what InterLink uses.
public struct ObjectMeta: Codable, Sendable, Equatable, Hashable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var resourceVersion: String?

    public init(name: String? = nil, namespace: String? = nil, uid: String? = nil,
                labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name; self.namespace = namespace; self.uid = uid
        self.labels = labels; self.annotations = annotations
    }
}

/// A Kubernetes `Pod` (metadata and spec; InterLink produces status itself).
public struct Pod: Codable, Sendable, Equatable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?

    public init(apiVersion: String? = "v1", kind: String? = "Pod", metadata: ObjectMeta, spec: PodSpec? = nil) {
        self.apiVersion = apiVersion; self.kind = kind; self.metadata = metadata; self.spec = spec
    }

    // A Pod may arrive with `"metadata": null` or none at all from a broken client;
    // decode it as empty so validation can answer a precise 400.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        metadata = try c.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try c.decodeIfPresent(PodSpec.self, forKey: .spec)
    }

    public var name: String { metadata.name ?? "" }
    public var namespace: String { metadata.namespace ?? "" }
    public var uid: String { metadata.uid ?? "" }
    public var annotations: [String: String] { metadata.annotations ?? [:] }
    public var containers: [Container] { spec?.containers ?? [] }
    public var initContainers: [Container] { spec?.initContainers ?? [] }
    public var volumes: [Volume] { spec?.volumes ?? [] }
    /// `Always` when unset, as Kubernetes defaults it.
    public var restartPolicy: RestartPolicy { RestartPolicy(rawValue: spec?.restartPolicy ?? "") ?? .always }
}

public enum RestartPolicy: String, Sendable, Codable {
    case always = "Always", onFailure = "OnFailure", never = "Never"
}

public struct PodSpec: Codable, Sendable, Equatable, Hashable {
    public var containers: [Container]
    public var initContainers: [Container]?
    public var volumes: [Volume]?
    public var restartPolicy: String?
    public var terminationGracePeriodSeconds: Int64?
    public var activeDeadlineSeconds: Int64?
    public var nodeName: String?
    public var securityContext: PodSecurityContext?

    public init(containers: [Container], initContainers: [Container]? = nil, volumes: [Volume]? = nil,
                restartPolicy: String? = nil) {
        self.containers = containers; self.initContainers = initContainers
        self.volumes = volumes; self.restartPolicy = restartPolicy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        containers = try c.decodeIfPresent([Container].self, forKey: .containers) ?? []
        initContainers = try c.decodeIfPresent([Container].self, forKey: .initContainers)
        volumes = try c.decodeIfPresent([Volume].self, forKey: .volumes)
        restartPolicy = try c.decodeIfPresent(String.self, forKey: .restartPolicy)
        terminationGracePeriodSeconds = try c.decodeIfPresent(Int64.self, forKey: .terminationGracePeriodSeconds)
        activeDeadlineSeconds = try c.decodeIfPresent(Int64.self, forKey: .activeDeadlineSeconds)
        nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName)
        securityContext = try c.decodeIfPresent(PodSecurityContext.self, forKey: .securityContext)
    }
}

public struct PodSecurityContext: Codable, Sendable, Equatable, Hashable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var fsGroup: Int64?
    public init(runAsUser: Int64? = nil, runAsGroup: Int64? = nil) { self.runAsUser = runAsUser; self.runAsGroup = runAsGroup }
}

public struct SecurityContext: Codable, Sendable, Equatable, Hashable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var readOnlyRootFilesystem: Bool?
    public var privileged: Bool?
    public init(runAsUser: Int64? = nil, runAsGroup: Int64? = nil, readOnlyRootFilesystem: Bool? = nil) {
        self.runAsUser = runAsUser; self.runAsGroup = runAsGroup; self.readOnlyRootFilesystem = readOnlyRootFilesystem
    }
}

public struct Container: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var image: String
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var env: [EnvVar]?
    public var envFrom: [EnvFromSource]?
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var securityContext: SecurityContext?
    public var imagePullPolicy: String?

    public init(name: String, image: String, command: [String]? = nil, args: [String]? = nil,
                env: [EnvVar]? = nil, resources: ResourceRequirements? = nil, volumeMounts: [VolumeMount]? = nil) {
        self.name = name; self.image = image; self.command = command; self.args = args
        self.env = env; self.resources = resources; self.volumeMounts = volumeMounts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        command = try c.decodeIfPresent([String].self, forKey: .command)
        args = try c.decodeIfPresent([String].self, forKey: .args)
        workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
        env = try c.decodeIfPresent([EnvVar].self, forKey: .env)
        envFrom = try c.decodeIfPresent([EnvFromSource].self, forKey: .envFrom)
        resources = try c.decodeIfPresent(ResourceRequirements.self, forKey: .resources)
        volumeMounts = try c.decodeIfPresent([VolumeMount].self, forKey: .volumeMounts)
        securityContext = try c.decodeIfPresent(SecurityContext.self, forKey: .securityContext)
        imagePullPolicy = try c.decodeIfPresent(String.self, forKey: .imagePullPolicy)
    }
}

public struct EnvVar: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: EnvVarSource?
    public init(name: String, value: String? = nil, valueFrom: EnvVarSource? = nil) {
        self.name = name; self.value = value; self.valueFrom = valueFrom
    }
}

public struct KeySelector: Codable, Sendable, Equatable, Hashable {
    public var name: String?
    public var key: String
    public var optional: Bool?
    public init(name: String?, key: String, optional: Bool? = nil) { self.name = name; self.key = key; self.optional = optional }
}

public struct FieldSelector: Codable, Sendable, Equatable, Hashable {
    public var fieldPath: String
    public var apiVersion: String?
}

public struct EnvVarSource: Codable, Sendable, Equatable, Hashable {
    public var configMapKeyRef: KeySelector?
    public var secretKeyRef: KeySelector?
    public var fieldRef: FieldSelector?
    public init(configMapKeyRef: KeySelector? = nil, secretKeyRef: KeySelector? = nil) {
        self.configMapKeyRef = configMapKeyRef; self.secretKeyRef = secretKeyRef
    }
}

public struct NameReference: Codable, Sendable, Equatable, Hashable {
    public var name: String?
    public var optional: Bool?
    public init(name: String?, optional: Bool? = nil) { self.name = name; self.optional = optional }
}

public struct EnvFromSource: Codable, Sendable, Equatable, Hashable {
    public var prefix: String?
    public var configMapRef: NameReference?
    public var secretRef: NameReference?
    public init(prefix: String? = nil, configMapRef: NameReference? = nil, secretRef: NameReference? = nil) {
        self.prefix = prefix; self.configMapRef = configMapRef; self.secretRef = secretRef
    }
}

public struct ResourceRequirements: Codable, Sendable, Equatable, Hashable {
    public var limits: [String: QuantityString]?
    public var requests: [String: QuantityString]?
    public init(limits: [String: QuantityString]? = nil, requests: [String: QuantityString]? = nil) {
        self.limits = limits; self.requests = requests
    }
}

/// A Kubernetes quantity as written: Go always serialises it as a string, but
/// hand-written manifests often say `cpu: 1`; both decode. Parse with `Quantity`.
public struct QuantityString: Codable, Sendable, Equatable, Hashable, ExpressibleByStringLiteral {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { text = value }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { text = s; return }
        if let i = try? c.decode(Int64.self) { text = String(i); return }
        text = String(try c.decode(Double.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

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
    public init(name: String?, items: [KeyToPath]? = nil, defaultMode: Int32? = nil) {
        self.name = name; self.items = items; self.defaultMode = defaultMode
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

public struct ProjectedVolumeSource: Codable, Sendable, Equatable, Hashable {
    public var sources: [VolumeProjection]?
    public var defaultMode: Int32?
}

public struct VolumeProjection: Codable, Sendable, Equatable, Hashable {
    public var configMap: ConfigMapVolumeSource?
    public var secret: SecretVolumeSource?
}

public struct Volume: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var configMap: ConfigMapVolumeSource?
    public var secret: SecretVolumeSource?
    public var emptyDir: EmptyDirVolumeSource?
    public var hostPath: HostPathVolumeSource?
    public var projected: ProjectedVolumeSource?
    /// The JSON key of a volume source InterLink does not model (`persistentVolumeClaim`,
    /// `nfs`...), kept so the error can name it. Encoded as an empty object.
    public var unsupportedType: String? = nil
    public init(name: String, configMap: ConfigMapVolumeSource? = nil, secret: SecretVolumeSource? = nil,
                emptyDir: EmptyDirVolumeSource? = nil, hostPath: HostPathVolumeSource? = nil) {
        self.name = name; self.configMap = configMap; self.secret = secret
        self.emptyDir = emptyDir; self.hostPath = hostPath
    }

    enum CodingKeys: String, CodingKey { case name, configMap, secret, emptyDir, hostPath, projected }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        configMap = try c.decodeIfPresent(ConfigMapVolumeSource.self, forKey: .configMap)
        secret = try c.decodeIfPresent(SecretVolumeSource.self, forKey: .secret)
        emptyDir = try c.decodeIfPresent(EmptyDirVolumeSource.self, forKey: .emptyDir)
        hostPath = try c.decodeIfPresent(HostPathVolumeSource.self, forKey: .hostPath)
        projected = try c.decodeIfPresent(ProjectedVolumeSource.self, forKey: .projected)
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
        if let t = unsupportedType { try c.encode([String: String](), forKey: AnyKey(stringValue: t)) }
    }
}

/// A Kubernetes ConfigMap as the VK forwards it (`binaryData` values are base64).
public struct ConfigMap: Codable, Sendable, Equatable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var binaryData: [String: String]?
    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.apiVersion = "v1"; self.kind = "ConfigMap"; self.metadata = metadata; self.data = data
    }
}

/// A Kubernetes Secret: `data` values are base64, `stringData` plain (manifests only).
public struct Secret: Codable, Sendable, Equatable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?
    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.apiVersion = "v1"; self.kind = "Secret"; self.metadata = metadata; self.data = data
    }
}
