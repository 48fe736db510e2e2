import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// A pod as the reconciler hands it to a provider: the create request exactly
/// as the VK sent it (pod, ConfigMaps, Secrets, projected volumes) and which
/// incarnation this is. `attempt` starts at 0 and grows each time the reconciler
/// re-creates the pod after its backend lost it; providers stamp it on what they
/// create so that an old incarnation is never mistaken for the new one.
public struct DesiredPod: Sendable, Equatable, Codable {
    public var request: PodCreateRequests
    public var attempt: Int

    public init(request: PodCreateRequests, attempt: Int = 0) {
        self.request = request; self.attempt = attempt
    }

    public var pod: Pod { request.pod }
    public var uid: String { request.pod.uid }
    public var namespace: String { request.pod.namespace }
    public var name: String { request.pod.name }
}

/// What a provider needs to find, stop or read one backend job. Built from the
/// reconciler's record, or from an observation for orphans (then `pod` is nil).
public struct JobRef: Sendable, Equatable, Codable {
    public var podUID: String
    public var namespace: String
    public var name: String
    /// The backend id (Docker container ids joined by ",", a Slurm job id).
    public var jobID: String
    public var attempt: Int
    /// Seconds to wait between the polite stop and the kill (Kubernetes default 30).
    public var gracePeriodSeconds: Int
    /// The pod, when known (it is not for orphans).
    public var pod: Pod? {
        get { podBox?.value }
        set { podBox = newValue.map(CopyOnWrite.init) }
    }
    /// Out of line: a pod is hundreds of bytes inline, and a resync's actions
    /// (`cancel`, `forget`...) each hold a reference.
    private var podBox: CopyOnWrite<Pod>?

    public init(podUID: String, namespace: String, name: String, jobID: String, attempt: Int = 0,
                gracePeriodSeconds: Int = 30, pod: Pod? = nil) {
        self.podUID = podUID; self.namespace = namespace; self.name = name; self.jobID = jobID
        self.attempt = attempt; self.gracePeriodSeconds = gracePeriodSeconds; self.podBox = pod.map(CopyOnWrite.init)
    }

    private enum CodingKeys: String, CodingKey { case podUID, namespace, name, jobID, attempt, gracePeriodSeconds, pod }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(podUID: try c.decode(String.self, forKey: .podUID), namespace: try c.decode(String.self, forKey: .namespace),
                  name: try c.decode(String.self, forKey: .name), jobID: try c.decode(String.self, forKey: .jobID),
                  attempt: try c.decode(Int.self, forKey: .attempt),
                  gracePeriodSeconds: try c.decode(Int.self, forKey: .gracePeriodSeconds),
                  pod: try c.decodeIfPresent(Pod.self, forKey: .pod))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(podUID, forKey: .podUID); try c.encode(namespace, forKey: .namespace)
        try c.encode(name, forKey: .name); try c.encode(jobID, forKey: .jobID)
        try c.encode(attempt, forKey: .attempt); try c.encode(gracePeriodSeconds, forKey: .gracePeriodSeconds)
        try c.encodeIfPresent(pod, forKey: .pod)
    }
}

/// The backend's coarse view of one job.
public enum JobState: String, Sendable, Equatable, Codable {
    /// Accepted but nothing runs yet (Slurm PENDING, Docker created).
    case pending
    /// At least one container runs.
    case running
    /// Nothing will run any more: every container has a terminated state.
    case finished
}

/// The actual state of one job, as one `observe()` round trip saw it.
public struct JobObservation: Sendable, Equatable, Codable {
    /// The stored fields, behind one reference: the reconciler keeps, groups and
    /// compares an observation of every pod each resync, and a copy then costs one
    /// retain, not one per field (each a cache miss at 10,000 pods). Copy-on-write.
    struct Fields: Sendable, Equatable, Codable {
        var podUID: String
        var namespace: String
        var name: String
        var jobID: String
        var attempt: Int
        var state: JobState
        /// One status per main container of the pod, in spec order when known.
        var containers: [ContainerStatus]
        var initContainers: [ContainerStatus]
        /// What most observations never set (a note, an interruption, containers
        /// to start or restart): one reference, nil while none is, so the fields of
        /// a running job stay small (the reconciler holds one per pod).
        var rare: CopyOnWrite<Rare>?

        init(podUID: String, namespace: String = "", name: String = "", jobID: String, attempt: Int = 0,
             state: JobState, containers: [ContainerStatus] = [], initContainers: [ContainerStatus] = [],
             message: String? = nil, interruption: String? = nil, dueToStart: [String] = [],
             restartDue: [String] = []) {
            self.podUID = podUID; self.namespace = namespace; self.name = name; self.jobID = jobID
            self.attempt = attempt; self.state = state; self.containers = containers
            self.initContainers = initContainers
            rare = CopyOnWrite<Rare>?(nonEmpty: Rare(message: message, interruption: interruption,
                                                     dueToStart: dueToStart.isEmpty ? nil : dueToStart,
                                                     restartDue: restartDue.isEmpty ? nil : restartDue))
        }

        /// Coded flat, as before the rare fields moved out of line (the sidecar wire).
        enum CodingKeys: String, CodingKey {
            case podUID, namespace, name, jobID, attempt, state, containers, initContainers
            case message, interruption, dueToStart, restartDue
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(podUID: try c.decode(String.self, forKey: .podUID), namespace: try c.decode(String.self, forKey: .namespace),
                      name: try c.decode(String.self, forKey: .name), jobID: try c.decode(String.self, forKey: .jobID),
                      attempt: try c.decode(Int.self, forKey: .attempt), state: try c.decode(JobState.self, forKey: .state),
                      containers: try c.decode([ContainerStatus].self, forKey: .containers),
                      initContainers: try c.decode([ContainerStatus].self, forKey: .initContainers),
                      message: try c.decodeIfPresent(String.self, forKey: .message),
                      interruption: try c.decodeIfPresent(String.self, forKey: .interruption),
                      dueToStart: try c.decodeIfPresent([String].self, forKey: .dueToStart) ?? [],
                      restartDue: try c.decodeIfPresent([String].self, forKey: .restartDue) ?? [])
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(podUID, forKey: .podUID); try c.encode(namespace, forKey: .namespace)
            try c.encode(name, forKey: .name); try c.encode(jobID, forKey: .jobID)
            try c.encode(attempt, forKey: .attempt); try c.encode(state, forKey: .state)
            try c.encode(containers, forKey: .containers); try c.encode(initContainers, forKey: .initContainers)
            let r = rare?.value
            try c.encodeIfPresent(r?.message, forKey: .message)
            try c.encodeIfPresent(r?.interruption, forKey: .interruption)
            try c.encode(r?.dueToStart ?? [], forKey: .dueToStart)
            try c.encode(r?.restartDue ?? [], forKey: .restartDue)
        }
    }

    /// The fields behind `Fields.rare`.
    struct Rare: OptionalFieldGroup {
        /// A backend-level note (Slurm reason, Docker error), for messages.
        var message: String?
        /// Set when the backend itself ended a finished job (cancelled behind
        /// InterLink's back, node failure, preemption) rather than its containers
        /// exiting: the reconciler then treats it as lost work, per restartPolicy.
        var interruption: String?
        /// Backend container ids that should be started now: the next init step or
        /// the main containers. Filled by `observe` (which only observes), acted on
        /// only by the planner's `.advance` action, so the loop has one place that acts.
        var dueToStart: [String]?
        /// Containers (by Kubernetes name) whose restart is due now, or that must be
        /// killed first (a failed liveness or startup probe, a failed postStart hook):
        /// kubelet-style restarts within the incarnation. The planner answers with a
        /// `.create` of the same attempt, which the provider treats as "make the
        /// incarnation whole again" (idempotent, re-checked against the backend).
        var restartDue: [String]?

        init() {}
        init(message: String?, interruption: String?, dueToStart: [String]?, restartDue: [String]?) {
            self.message = message; self.interruption = interruption; self.dueToStart = dueToStart; self.restartDue = restartDue
        }
        var isEmpty: Bool { message == nil && interruption == nil && dueToStart == nil && restartDue == nil }
    }

    /// One reference (`CopyOnWrite`); equality compares the pointer first.
    private var fields: CopyOnWrite<Fields>

    /// Whether `other` is this very value (a provider reporting an unchanged job
    /// with the same value it reported before), not only an equal one. A pointer check.
    public func isIdentical(to other: JobObservation) -> Bool { fields.isIdentical(to: other.fields) }

    public var podUID: String {
        get { fields.value.podUID }
        _modify { yield &fields.value.podUID }
        set { fields.value.podUID = newValue }
    }
    public var namespace: String {
        get { fields.value.namespace }
        _modify { yield &fields.value.namespace }
        set { fields.value.namespace = newValue }
    }
    public var name: String {
        get { fields.value.name }
        _modify { yield &fields.value.name }
        set { fields.value.name = newValue }
    }
    public var jobID: String {
        get { fields.value.jobID }
        _modify { yield &fields.value.jobID }
        set { fields.value.jobID = newValue }
    }
    public var attempt: Int {
        get { fields.value.attempt }
        _modify { yield &fields.value.attempt }
        set { fields.value.attempt = newValue }
    }
    public var state: JobState {
        get { fields.value.state }
        _modify { yield &fields.value.state }
        set { fields.value.state = newValue }
    }
    public var containers: [ContainerStatus] {
        get { fields.value.containers }
        _modify { yield &fields.value.containers }
        set { fields.value.containers = newValue }
    }
    public var initContainers: [ContainerStatus] {
        get { fields.value.initContainers }
        _modify { yield &fields.value.initContainers }
        set { fields.value.initContainers = newValue }
    }
    public var message: String? {
        get { fields.value.rare?.value.message }
        set { fields.value.rare.set(\.message, newValue) }
    }
    public var interruption: String? {
        get { fields.value.rare?.value.interruption }
        set { fields.value.rare.set(\.interruption, newValue) }
    }
    public var dueToStart: [String] {
        get { fields.value.rare?.value.dueToStart ?? [] }
        set { fields.value.rare.set(\.dueToStart, newValue.isEmpty ? nil : newValue) }
    }
    public var restartDue: [String] {
        get { fields.value.rare?.value.restartDue ?? [] }
        set { fields.value.rare.set(\.restartDue, newValue.isEmpty ? nil : newValue) }
    }

    public init(podUID: String, namespace: String = "", name: String = "", jobID: String, attempt: Int = 0,
                state: JobState, containers: [ContainerStatus] = [], initContainers: [ContainerStatus] = [],
                message: String? = nil, interruption: String? = nil, dueToStart: [String] = [],
                restartDue: [String] = []) {
        fields = CopyOnWrite(Fields(podUID: podUID, namespace: namespace, name: name, jobID: jobID, attempt: attempt,
                                 state: state, containers: containers, initContainers: initContainers, message: message,
                                 interruption: interruption, dueToStart: dueToStart, restartDue: restartDue))
    }

    /// Coded as its fields (the sidecar protocol's format is unchanged).
    public init(from decoder: any Decoder) throws { fields = try CopyOnWrite(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }

    public var ref: JobRef {
        JobRef(podUID: podUID, namespace: namespace, name: name, jobID: jobID, attempt: attempt)
    }
}

/// Errors every provider reports; each reads as a sentence a user can act on.
public enum ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pod cannot run as specified (bad quantity, unsupported volume...). Not retried.
    case invalidPod(String)
    /// The image does not exist and cannot be pulled. Retried a bounded number of times.
    case imageNotFound(image: String, message: String)
    /// A backend command failed; `transient` ones are retried with backoff.
    case backend(command: String, message: String, transient: Bool)
    /// Logs of a pod or container the backend does not know.
    case notFound(String)
    /// The provider lacks a tool or setting it needs.
    case unavailable(String)
    /// This server (or the machine) ran out of descriptors, processes or memory
    /// while acting for the pod. Retried, and never counted against the pod's
    /// `MaxCreateAttempts`: it is not the pod's failure and it passes.
    case resourcesExhausted(String)

    public var description: String {
        switch self {
        case .invalidPod(let m): return m
        case .imageNotFound(let image, let m): return "image \(image) not found: \(m)"
        case .backend(let cmd, let m, _): return "\(cmd) failed: \(m)"
        case .notFound(let m): return m
        case .unavailable(let m): return m
        case .resourcesExhausted(let m): return m
        }
    }

    /// The Kubernetes waiting reason a create failure shows as.
    public var waitingReason: String {
        switch self {
        case .imageNotFound: return "ErrImagePull"
        case .invalidPod: return "CreateContainerConfigError"
        default: return "ProviderFailed"
        }
    }

    /// Whether trying the same action again may help.
    public var isRetryable: Bool {
        switch self {
        case .invalidPod, .notFound: return false
        case .imageNotFound, .unavailable, .resourcesExhausted: return true
        case .backend(_, _, let transient): return transient
        }
    }

    /// Whether an errno says "out of descriptors, processes or memory".
    public static func isExhaustion(errno e: Int32) -> Bool {
        e == EMFILE || e == ENFILE || e == EAGAIN || e == ENOMEM
    }

    /// `.resourcesExhausted` when a Foundation or POSIX error says this process
    /// ran out of descriptors or memory (a file write that met EMFILE), else nil.
    public static func exhaustion(_ error: any Error, _ what: String) -> ProviderError? {
        let code = (error as? POSIXError)?.code.rawValue ?? ((error as? CocoaError)?.underlying as? POSIXError)?.code.rawValue
        guard let code, isExhaustion(errno: code) else { return nil }
        return .resourcesExhausted("\(what): \(String(cString: strerror(code)))")
    }

    /// An errno's failure of `what`: `.resourcesExhausted` for a shortage, else a
    /// transient backend error.
    public static func posix(_ what: String, errno e: Int32) -> ProviderError {
        let message = "\(what): \(String(cString: strerror(e)))"
        if isExhaustion(errno: e) { return .resourcesExhausted(message) }
        return .backend(command: what, message: String(cString: strerror(e)), transient: true)
    }
}

/// A stream of log bytes; finishes when the log ends (or, with Follow, when the
/// container ends). Cancelling the consumer stops the producer.
public typealias LogStream = AsyncThrowingStream<Data, any Error>

/// A backend that runs pods: Docker, Slurm, the mock, or (later) a remote plugin.
///
/// Contract:
/// - `create` is idempotent per (pod UID, attempt): called again for the same
///   incarnation it adopts what exists instead of duplicating it. It returns the
///   backend job id. It must not block for the pod's run time.
/// - `observe` returns every job this provider owns (including orphans whose pod
///   the reconciler no longer wants) in a number of backend commands that does
///   not grow with the number of pods.
/// - `delete` stops a job (honouring the grace period) and is idempotent;
///   `cleanup` removes what the pod left on disk once the job is gone.
/// - Nothing here knows HTTP or the Kubernetes API server.
public protocol Provider: Sendable {
    /// A short name for logs and metrics ("mock", "docker", "slurm").
    var name: String { get }
    func create(_ pod: DesiredPod) async throws -> String
    func observe() async throws -> [JobObservation]
    func delete(_ job: JobRef) async throws
    func cleanup(_ job: JobRef) async throws
    func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream
    /// Capacity for `/pinglink`, or nil when the provider has none to report.
    func ping() async throws -> PingResponse?
    /// Number of backend commands run so far (for metrics and the per-tick bound).
    var commandCount: Int { get }
    /// Starts the backend containers `ids` of `job` (from `JobObservation.dueToStart`).
    /// Idempotent: starting a container that already runs or ran is not an error.
    func advance(_ job: JobRef, start ids: [String]) async throws
    /// Prometheus text of the provider's own gauges (`# HELP`/`# TYPE` and
    /// samples), appended to `/metrics`; empty when it has none.
    var metricsText: String { get }
}

extension Provider {
    /// Providers whose jobs start by themselves (Slurm, the mock) have nothing to advance.
    public func advance(_ job: JobRef, start ids: [String]) async throws {}

    public var metricsText: String { "" }
}

extension LogStream {
    /// A finished stream with one chunk.
    public static func once(_ data: Data) -> LogStream {
        AsyncThrowingStream { c in c.yield(data); c.finish() }
    }
}
