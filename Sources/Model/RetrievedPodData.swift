// The interLink -> plugin ("sidecar") create body, as the upstream interLink
// server builds it (pkg/interlink/types.go, api/func.go getData): the pod, then
// one entry per init container and per container with exactly the ConfigMaps,
// Secrets and projected-volume maps its volumeMounts reference.
//
// Go's encoding/json matches object keys case-insensitively (an exact match
// wins), so a Go plugin accepts `Pod` for `pod` and `configmaps` for
// `configMaps`. These types decode the same way, so anything a Go peer
// accepts is accepted here too.

/// Body of the plugin's `POST /create`.
public struct RetrievedPodData: Codable, Sendable, Equatable {
    public var pod: Pod
    public var container: [RetrievedContainer]
    /// Upstream's `ScriptBuildConfig`; only forwarded by a job-script builder,
    /// which this project does not use, so its content is not kept.
    public var jobScript: String?

    public init(pod: Pod, container: [RetrievedContainer], jobScript: String? = nil) {
        self.pod = pod; self.container = container; self.jobScript = jobScript
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case pod, container, jobScript }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: FoldedKey.self)
        guard let podKey = c.key(for: "pod") else {
            throw DecodingError.keyNotFound(CodingKeys.pod, .init(codingPath: decoder.codingPath, debugDescription: "a plugin create needs \"pod\""))
        }
        pod = try c.decode(Pod.self, forKey: podKey)
        container = try c.key(for: "container").flatMap { try c.decodeIfPresent([RetrievedContainer].self, forKey: $0) } ?? []
        jobScript = try c.key(for: "jobScript").flatMap { try c.decodeIfPresent(String.self, forKey: $0) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pod, forKey: .pod)
        try c.encode(container, forKey: .container)
        try c.encodeIfPresent(jobScript, forKey: .jobScript)
    }
}

/// The volumes one container mounts. Empty lists are sent as `[]` (Go sends
/// `null` for a nil slice; both decode here, and `[]` is safe for plugins in
/// languages that iterate without a nil check).
public struct RetrievedContainer: Codable, Sendable, Equatable {
    public var name: String
    public var configMaps: [ConfigMap]
    public var projectedvolumemaps: [ConfigMap]
    public var secrets: [Secret]
    /// Paths of the emptyDir volumes the container mounts, in upstream's
    /// `<DataRootFolder>/<namespace>-<uid>/emptyDirs/<volume>` spelling; plugins
    /// usually make their own, so this is informative.
    public var emptyDirs: [String]

    public init(name: String, configMaps: [ConfigMap] = [], projectedvolumemaps: [ConfigMap] = [],
                secrets: [Secret] = [], emptyDirs: [String] = []) {
        self.name = name; self.configMaps = configMaps; self.projectedvolumemaps = projectedvolumemaps
        self.secrets = secrets; self.emptyDirs = emptyDirs
    }

    enum CodingKeys: String, CodingKey { case name, configMaps, projectedvolumemaps, secrets, emptyDirs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: FoldedKey.self)
        func opt<T: Decodable>(_ t: T.Type, _ name: String) throws -> T? {
            try c.key(for: name).flatMap { try c.decodeIfPresent(t, forKey: $0) }
        }
        name = try opt(String.self, "name") ?? ""
        configMaps = try opt([ConfigMap].self, "configMaps") ?? []
        projectedvolumemaps = try opt([ConfigMap].self, "projectedvolumemaps") ?? []
        secrets = try opt([Secret].self, "secrets") ?? []
        emptyDirs = try opt([String].self, "emptyDirs") ?? []
    }
}

/// A coding key for any JSON key, so a container's keys can be matched the
/// way Go matches them: exact first, else the first case-insensitive match.
public struct FoldedKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == FoldedKey {
    /// The key present in this object that Go would bind to the field `name`.
    public func key(for name: String) -> FoldedKey? {
        if contains(FoldedKey(stringValue: name)) { return FoldedKey(stringValue: name) }
        let lower = name.lowercased()
        return allKeys.first { $0.stringValue.lowercased() == lower }
    }
}

/// `LogStruct` decoded the way a Go plugin decodes it (keys case-insensitive,
/// `Opts` likewise). Used by the sidecar's `/getLogs`.
public struct FoldedLogStruct: Decodable, Sendable {
    public var value: LogStruct

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: FoldedKey.self)
        func opt<T: Decodable>(_ t: T.Type, _ name: String) throws -> T? {
            try c.key(for: name).flatMap { try c.decodeIfPresent(t, forKey: $0) }
        }
        value = LogStruct(Namespace: try opt(String.self, "Namespace") ?? "", PodUID: try opt(String.self, "PodUID") ?? "",
                          PodName: try opt(String.self, "PodName") ?? "",
                          ContainerName: try opt(String.self, "ContainerName") ?? "",
                          Opts: try opt(FoldedLogOpts.self, "Opts")?.value ?? LogOpts())
    }
}

struct FoldedLogOpts: Decodable {
    var value: LogOpts

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: FoldedKey.self)
        func opt<T: Decodable>(_ t: T.Type, _ name: String) throws -> T? {
            try c.key(for: name).flatMap { try c.decodeIfPresent(t, forKey: $0) }
        }
        let since = try opt(String.self, "SinceTime")
        // Go marshals a zero time.Time as "0001-01-01T00:00:00Z": that means "unset".
        value = LogOpts(Tail: try opt(Int.self, "Tail") ?? 0, Bytes: try opt(Int.self, "Bytes") ?? 0,
                        Timestamps: try opt(Bool.self, "Timestamps") ?? false, Follow: try opt(Bool.self, "Follow") ?? false,
                        Previous: try opt(Bool.self, "Previous") ?? false,
                        SinceSeconds: try opt(Int.self, "SinceSeconds") ?? 0,
                        SinceTime: (since?.hasPrefix("0001-01-01") ?? true) ? nil : since)
    }
}

extension RetrievedPodData {
    /// The same pod as a `PodCreateRequests`: every object the containers
    /// reference, once each (by name), in first-seen order.
    public var createRequest: PodCreateRequests {
        var cms: [ConfigMap] = [], secrets: [Secret] = [], projected: [ConfigMap] = []
        var seenCM = Set<String>(), seenSecret = Set<String>(), seenProjected = Set<String>()
        for c in container {
            for m in c.configMaps where seenCM.insert(m.metadata.name ?? "").inserted { cms.append(m) }
            for s in c.secrets where seenSecret.insert(s.metadata.name ?? "").inserted { secrets.append(s) }
            for p in c.projectedvolumemaps where seenProjected.insert(p.metadata.name ?? "").inserted { projected.append(p) }
        }
        return PodCreateRequests(pod: pod, configmaps: cms, secrets: secrets, projectedvolumesmaps: projected)
    }
}
