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
    /// What the API server knew when the VK sent the pod (only `podIP`/`hostIP`
    /// are read, for the downward API); InterLink reports status through `/status`.
    public var status: PodStatusFields?

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
        status = try c.decodeIfPresent(PodStatusFields.self, forKey: .status)
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

/// The part of a Kubernetes `PodStatus` InterLink reads from what the VK sends.
public struct PodStatusFields: Codable, Sendable, Equatable, Hashable {
    public var phase: String?
    public var podIP: String?
    public var hostIP: String?
    public init(phase: String? = nil, podIP: String? = nil, hostIP: String? = nil) {
        self.phase = phase; self.podIP = podIP; self.hostIP = hostIP
    }
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
    public var serviceAccountName: String?
    public var hostname: String?
    public var securityContext: PodSecurityContext?
    /// Kept so a routing rule (`Providers[].NodeSelector`) can use it; journaled with the pod.
    public var nodeSelector: [String: String]?

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
        serviceAccountName = try c.decodeIfPresent(String.self, forKey: .serviceAccountName)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        securityContext = try c.decodeIfPresent(PodSecurityContext.self, forKey: .securityContext)
        nodeSelector = try c.decodeIfPresent([String: String].self, forKey: .nodeSelector)
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
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var privileged: Bool?
    public var allowPrivilegeEscalation: Bool?
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
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var imagePullPolicy: String?
    /// Where the container writes its termination message (Kubernetes default `/dev/termination-log`).
    public var terminationMessagePath: String?
    /// `File` (default) or `FallbackToLogsOnError`.
    public var terminationMessagePolicy: String?
    /// The fields many pods leave unset (probes, hooks, security context, ports,
    /// envFrom), behind one optional reference: inline they made every
    /// container over a kilobyte, for each of thousands of pods kept in memory.
    /// Nil whenever all of them are, so equal containers stay equal.
    private var rare: CopyOnWrite<Rare>?

    struct Rare: OptionalFieldGroup, Hashable {
        var envFrom: [EnvFromSource]?
        var securityContext: SecurityContext?
        var ports: [ContainerPort]?
        var startupProbe: Probe?
        var livenessProbe: Probe?
        var readinessProbe: Probe?
        var lifecycle: Lifecycle?
        var isEmpty: Bool {
            envFrom == nil && securityContext == nil && ports == nil && startupProbe == nil && livenessProbe == nil
                && readinessProbe == nil && lifecycle == nil
        }
    }

    public var envFrom: [EnvFromSource]? { get { rare?.value.envFrom } set { rare.set(\.envFrom, newValue) } }
    public var securityContext: SecurityContext? { get { rare?.value.securityContext } set { rare.set(\.securityContext, newValue) } }
    public var ports: [ContainerPort]? { get { rare?.value.ports } set { rare.set(\.ports, newValue) } }
    public var startupProbe: Probe? { get { rare?.value.startupProbe } set { rare.set(\.startupProbe, newValue) } }
    public var livenessProbe: Probe? { get { rare?.value.livenessProbe } set { rare.set(\.livenessProbe, newValue) } }
    public var readinessProbe: Probe? { get { rare?.value.readinessProbe } set { rare.set(\.readinessProbe, newValue) } }
    public var lifecycle: Lifecycle? { get { rare?.value.lifecycle } set { rare.set(\.lifecycle, newValue) } }

    public init(name: String, image: String, command: [String]? = nil, args: [String]? = nil,
                env: [EnvVar]? = nil, resources: ResourceRequirements? = nil, volumeMounts: [VolumeMount]? = nil) {
        self.name = name; self.image = image; self.command = command; self.args = args
        self.env = env; self.resources = resources; self.volumeMounts = volumeMounts
    }

    /// The JSON keys, in the order they are written (as Kubernetes' own field order).
    enum CodingKeys: String, CodingKey {
        case name, image, command, args, workingDir, env, envFrom, resources, volumeMounts, securityContext,
             imagePullPolicy, ports, startupProbe, livenessProbe, readinessProbe, lifecycle,
             terminationMessagePath, terminationMessagePolicy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        command = try c.decodeIfPresent([String].self, forKey: .command)
        args = try c.decodeIfPresent([String].self, forKey: .args)
        workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
        env = try c.decodeIfPresent([EnvVar].self, forKey: .env)
        resources = try c.decodeIfPresent(ResourceRequirements.self, forKey: .resources)
        volumeMounts = try c.decodeIfPresent([VolumeMount].self, forKey: .volumeMounts)
        imagePullPolicy = try c.decodeIfPresent(String.self, forKey: .imagePullPolicy)
        terminationMessagePath = try c.decodeIfPresent(String.self, forKey: .terminationMessagePath)
        terminationMessagePolicy = try c.decodeIfPresent(String.self, forKey: .terminationMessagePolicy)
        let r = Rare(envFrom: try c.decodeIfPresent([EnvFromSource].self, forKey: .envFrom),
                     securityContext: try c.decodeIfPresent(SecurityContext.self, forKey: .securityContext),
                     ports: try c.decodeIfPresent([ContainerPort].self, forKey: .ports),
                     startupProbe: try c.decodeIfPresent(Probe.self, forKey: .startupProbe),
                     livenessProbe: try c.decodeIfPresent(Probe.self, forKey: .livenessProbe),
                     readinessProbe: try c.decodeIfPresent(Probe.self, forKey: .readinessProbe),
                     lifecycle: try c.decodeIfPresent(Lifecycle.self, forKey: .lifecycle))
        rare = .init(nonEmpty: r)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(image, forKey: .image)
        try c.encodeIfPresent(command, forKey: .command)
        try c.encodeIfPresent(args, forKey: .args)
        try c.encodeIfPresent(workingDir, forKey: .workingDir)
        try c.encodeIfPresent(env, forKey: .env)
        try c.encodeIfPresent(envFrom, forKey: .envFrom)
        try c.encodeIfPresent(resources, forKey: .resources)
        try c.encodeIfPresent(volumeMounts, forKey: .volumeMounts)
        try c.encodeIfPresent(securityContext, forKey: .securityContext)
        try c.encodeIfPresent(imagePullPolicy, forKey: .imagePullPolicy)
        try c.encodeIfPresent(ports, forKey: .ports)
        try c.encodeIfPresent(startupProbe, forKey: .startupProbe)
        try c.encodeIfPresent(livenessProbe, forKey: .livenessProbe)
        try c.encodeIfPresent(readinessProbe, forKey: .readinessProbe)
        try c.encodeIfPresent(lifecycle, forKey: .lifecycle)
        try c.encodeIfPresent(terminationMessagePath, forKey: .terminationMessagePath)
        try c.encodeIfPresent(terminationMessagePolicy, forKey: .terminationMessagePolicy)
    }
}

public struct EnvVar: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var value: String?
    /// Behind one reference: most variables are plain values, and the source
    /// inline made every variable 192 bytes.
    private var source: CopyOnWrite<EnvVarSource>?
    public var valueFrom: EnvVarSource? {
        get { source?.value }
        set { source = newValue.map(CopyOnWrite.init) }
    }
    public init(name: String, value: String? = nil, valueFrom: EnvVarSource? = nil) {
        self.name = name; self.value = value; self.valueFrom = valueFrom
    }

    enum CodingKeys: String, CodingKey { case name, value, valueFrom }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        value = try c.decodeIfPresent(String.self, forKey: .value)
        source = try c.decodeIfPresent(EnvVarSource.self, forKey: .valueFrom).map(CopyOnWrite.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(valueFrom, forKey: .valueFrom)
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
    public init(fieldPath: String, apiVersion: String? = nil) { self.fieldPath = fieldPath; self.apiVersion = apiVersion }
}

public struct EnvVarSource: Codable, Sendable, Equatable, Hashable {
    public var configMapKeyRef: KeySelector?
    public var secretKeyRef: KeySelector?
    public var fieldRef: FieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public init(configMapKeyRef: KeySelector? = nil, secretKeyRef: KeySelector? = nil,
                fieldRef: FieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil) {
        self.configMapKeyRef = configMapKeyRef; self.secretKeyRef = secretKeyRef
        self.fieldRef = fieldRef; self.resourceFieldRef = resourceFieldRef
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
