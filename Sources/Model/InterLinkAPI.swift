// The interLink REST shapes, with the exact JSON names the Go virtual kubelet
// puts on the wire (see WIRE.md in the team's shared notes).

/// Body of `POST /create`.
public struct PodCreateRequests: Codable, Sendable, Equatable {
    public var pod: Pod
    public var configmaps: [ConfigMap]?
    public var secrets: [Secret]?
    public var projectedvolumesmaps: [ConfigMap]?
    public var jobscriptURL: String?

    public init(pod: Pod, configmaps: [ConfigMap]? = nil, secrets: [Secret]? = nil,
                projectedvolumesmaps: [ConfigMap]? = nil, jobscriptURL: String? = nil) {
        self.pod = pod; self.configmaps = configmaps; self.secrets = secrets
        self.projectedvolumesmaps = projectedvolumesmaps; self.jobscriptURL = jobscriptURL
    }
}

/// Answer of `/create`.
public struct CreateStruct: Codable, Sendable, Equatable {
    public var PodUID: String
    public var PodJID: String
    public init(PodUID: String, PodJID: String) { self.PodUID = PodUID; self.PodJID = PodJID }
}

/// One entry of the `/status` answer.
public struct PodStatus: Codable, Sendable, Equatable {
    public var name: String
    public var UID: String
    public var namespace: String
    public var JID: String
    public var containers: [ContainerStatus]
    public var initContainers: [ContainerStatus]
    /// Pod-level note (e.g. the backend is unreachable); absent from the JSON when nil.
    public var message: String?

    public init(name: String, UID: String, namespace: String, JID: String = "",
                containers: [ContainerStatus] = [], initContainers: [ContainerStatus] = []) {
        self.name = name; self.UID = UID; self.namespace = namespace; self.JID = JID
        self.containers = containers; self.initContainers = initContainers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        UID = try c.decodeIfPresent(String.self, forKey: .UID) ?? ""
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? ""
        JID = try c.decodeIfPresent(String.self, forKey: .JID) ?? ""
        containers = try c.decodeIfPresent([ContainerStatus].self, forKey: .containers) ?? []
        initContainers = try c.decodeIfPresent([ContainerStatus].self, forKey: .initContainers) ?? []
        message = try c.decodeIfPresent(String.self, forKey: .message)
    }
}

/// Options of `/getLogs` (Go's `ContainerLogOpts`).
public struct LogOpts: Codable, Sendable, Equatable {
    public var Tail: Int
    public var Bytes: Int
    public var Timestamps: Bool
    public var Follow: Bool
    public var Previous: Bool
    public var SinceSeconds: Int
    public var SinceTime: String?

    public init(Tail: Int = 0, Bytes: Int = 0, Timestamps: Bool = false, Follow: Bool = false,
                Previous: Bool = false, SinceSeconds: Int = 0, SinceTime: String? = nil) {
        self.Tail = Tail; self.Bytes = Bytes; self.Timestamps = Timestamps; self.Follow = Follow
        self.Previous = Previous; self.SinceSeconds = SinceSeconds; self.SinceTime = SinceTime
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        Tail = try c.decodeIfPresent(Int.self, forKey: .Tail) ?? 0
        Bytes = try c.decodeIfPresent(Int.self, forKey: .Bytes) ?? 0
        Timestamps = try c.decodeIfPresent(Bool.self, forKey: .Timestamps) ?? false
        Follow = try c.decodeIfPresent(Bool.self, forKey: .Follow) ?? false
        Previous = try c.decodeIfPresent(Bool.self, forKey: .Previous) ?? false
        SinceSeconds = try c.decodeIfPresent(Int.self, forKey: .SinceSeconds) ?? 0
        let since = try c.decodeIfPresent(String.self, forKey: .SinceTime)
        // Go marshals a zero time.Time as "0001-01-01T00:00:00Z": that means "unset".
        SinceTime = (since?.hasPrefix("0001-01-01") ?? true) ? nil : since
    }
}

/// Body of `/getLogs`.
public struct LogStruct: Codable, Sendable, Equatable {
    public var Namespace: String
    public var PodUID: String
    public var PodName: String
    public var ContainerName: String
    public var Opts: LogOpts

    public init(Namespace: String, PodUID: String, PodName: String, ContainerName: String, Opts: LogOpts = LogOpts()) {
        self.Namespace = Namespace; self.PodUID = PodUID; self.PodName = PodName
        self.ContainerName = ContainerName; self.Opts = Opts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        Namespace = try c.decodeIfPresent(String.self, forKey: .Namespace) ?? ""
        PodUID = try c.decodeIfPresent(String.self, forKey: .PodUID) ?? ""
        PodName = try c.decodeIfPresent(String.self, forKey: .PodName) ?? ""
        ContainerName = try c.decodeIfPresent(String.self, forKey: .ContainerName) ?? ""
        Opts = try c.decodeIfPresent(LogOpts.self, forKey: .Opts) ?? LogOpts()
    }
}

/// Optional body of `/pinglink`: node capacity and taints for the VK.
public struct PingResponse: Codable, Sendable, Equatable {
    public struct Accelerator: Codable, Sendable, Equatable {
        public var resourceType: String
        public var available: String
        public init(resourceType: String, available: String) { self.resourceType = resourceType; self.available = available }
    }
    public struct Resources: Codable, Sendable, Equatable {
        public var cpu: String
        public var memory: String
        public var pods: String
        public var accelerators: [Accelerator]?
        public init(cpu: String, memory: String, pods: String, accelerators: [Accelerator]? = nil) {
            self.cpu = cpu; self.memory = memory; self.pods = pods; self.accelerators = accelerators
        }
    }
    public struct Taint: Codable, Sendable, Equatable {
        public var key: String
        public var value: String
        public var effect: String
        public init(key: String, value: String, effect: String) { self.key = key; self.value = value; self.effect = effect }
    }
    public var status: String?
    public var resources: Resources?
    public var taints: [Taint]?
    public init(status: String? = nil, resources: Resources? = nil, taints: [Taint]? = nil) {
        self.status = status; self.resources = resources; self.taints = taints
    }
}

/// The `{"error": "..."}` body of every non-2xx API answer.
public struct APIError: Codable, Sendable, Equatable {
    public var error: String
    public init(_ error: String) { self.error = error }
}
