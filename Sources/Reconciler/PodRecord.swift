import FoundationEssentials
import Model
import Providers

/// Everything the reconciler remembers about one pod UID, durable across
/// restarts: the create request as received, whether the pod should exist,
/// which incarnation (`attempt`) is current, and what is known of how it ended.
/// Changed only by applying `PodEvent`s, so the journal can replay them.
public struct PodRecord: Codable, Sendable, Equatable {
    /// The stored fields, behind one reference: a resync copies records out of
    /// the store's dictionary (and the planner passes them around) at the cost
    /// of one retain each, not one per field, each a cache miss at 10,000 pods.
    /// Copy-on-write: the first change to a shared record copies its fields.
    struct Fields: Codable, Sendable, Equatable {
        /// Out of line (`Boxed`): the pod is most of a record's size.
        @Boxed var request: PodCreateRequests
        var desired: Bool
        /// Incarnation; grows when the pod is re-created after the backend lost it.
        var attempt: Int
        /// Backend job id of the current attempt; empty until create answered.
        var jobID: String
        var restartCount: Int
        /// Per container name: how the previous incarnation ended.
        var lastState: [String: ContainerState]
        /// The attempt last seen alive by `observe`, and its containers then.
        var seenAttempt: Int?
        var seenRunning: Bool
        var seenContainers: [ContainerStatus]
        /// Failed creates of the current attempt.
        var createFailures: Int
        var receivedAt: Date
        var jobCreatedAt: Date?
        var updatedAt: Date
        /// What most records never set (an end, a failure, a delete, backoffs):
        /// one reference, nil until the first of them is set, so a running pod's
        /// fields stay small (each change to a record copies them).
        var rare: CopyOnWrite<Rare>?

        init(request: PodCreateRequests, at now: Date) {
            _request = Boxed(wrappedValue: request); desired = true; attempt = 0; jobID = ""; restartCount = 0
            lastState = [:]; seenAttempt = nil; seenRunning = false; seenContainers = []
            createFailures = 0; receivedAt = now; jobCreatedAt = nil; updatedAt = now; rare = nil
        }

        /// Coded flat, as before the rare fields moved out of line: the journal
        /// and snapshot formats do not change.
        enum CodingKeys: String, CodingKey {
            case request, desired, attempt, jobID, restartCount, lastState, seenAttempt, seenRunning, seenContainers
            case terminal, createFailures, lastError, failed, receivedAt, jobCreatedAt, deletedAt, updatedAt
            case cancelFailures, cancelFailedAt, cleanupFailures, cleanupFailedAt, lastCleanupError, deletionGracePeriodSeconds
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            _request = try c.decode(Boxed<PodCreateRequests>.self, forKey: .request)
            desired = try c.decode(Bool.self, forKey: .desired)
            attempt = try c.decode(Int.self, forKey: .attempt)
            jobID = try c.decode(String.self, forKey: .jobID)
            restartCount = try c.decode(Int.self, forKey: .restartCount)
            lastState = try c.decode([String: ContainerState].self, forKey: .lastState)
            seenAttempt = try c.decodeIfPresent(Int.self, forKey: .seenAttempt)
            seenRunning = try c.decode(Bool.self, forKey: .seenRunning)
            seenContainers = try c.decode([ContainerStatus].self, forKey: .seenContainers)
            createFailures = try c.decode(Int.self, forKey: .createFailures)
            receivedAt = try c.decode(Date.self, forKey: .receivedAt)
            jobCreatedAt = try c.decodeIfPresent(Date.self, forKey: .jobCreatedAt)
            updatedAt = try c.decode(Date.self, forKey: .updatedAt)
            var r = Rare()
            r.terminal = try c.decodeIfPresent(TerminalRecord.self, forKey: .terminal)
            r.lastError = try c.decodeIfPresent(CreateFailure.self, forKey: .lastError)
            r.failed = try c.decodeIfPresent(Failure.self, forKey: .failed)
            r.deletedAt = try c.decodeIfPresent(Date.self, forKey: .deletedAt)
            r.cancelFailures = try c.decodeIfPresent(Int.self, forKey: .cancelFailures)
            r.cancelFailedAt = try c.decodeIfPresent(Date.self, forKey: .cancelFailedAt)
            r.cleanupFailures = try c.decodeIfPresent(Int.self, forKey: .cleanupFailures)
            r.cleanupFailedAt = try c.decodeIfPresent(Date.self, forKey: .cleanupFailedAt)
            r.lastCleanupError = try c.decodeIfPresent(String.self, forKey: .lastCleanupError)
            r.deletionGracePeriodSeconds = try c.decodeIfPresent(Int64.self, forKey: .deletionGracePeriodSeconds)
            rare = CopyOnWrite<Rare>?(nonEmpty: r)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(_request, forKey: .request)
            try c.encode(desired, forKey: .desired)
            try c.encode(attempt, forKey: .attempt)
            try c.encode(jobID, forKey: .jobID)
            try c.encode(restartCount, forKey: .restartCount)
            try c.encode(lastState, forKey: .lastState)
            try c.encodeIfPresent(seenAttempt, forKey: .seenAttempt)
            try c.encode(seenRunning, forKey: .seenRunning)
            try c.encode(seenContainers, forKey: .seenContainers)
            try c.encode(createFailures, forKey: .createFailures)
            try c.encode(receivedAt, forKey: .receivedAt)
            try c.encodeIfPresent(jobCreatedAt, forKey: .jobCreatedAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            guard let r = rare?.value else { return }
            try c.encodeIfPresent(r.terminal, forKey: .terminal)
            try c.encodeIfPresent(r.lastError, forKey: .lastError)
            try c.encodeIfPresent(r.failed, forKey: .failed)
            try c.encodeIfPresent(r.deletedAt, forKey: .deletedAt)
            try c.encodeIfPresent(r.cancelFailures, forKey: .cancelFailures)
            try c.encodeIfPresent(r.cancelFailedAt, forKey: .cancelFailedAt)
            try c.encodeIfPresent(r.cleanupFailures, forKey: .cleanupFailures)
            try c.encodeIfPresent(r.cleanupFailedAt, forKey: .cleanupFailedAt)
            try c.encodeIfPresent(r.lastCleanupError, forKey: .lastCleanupError)
            try c.encodeIfPresent(r.deletionGracePeriodSeconds, forKey: .deletionGracePeriodSeconds)
        }
    }

    /// The fields most records never set, behind `Fields.rare`.
    struct Rare: OptionalFieldGroup {
        /// How the current attempt ended, recorded the first tick it was seen finished.
        var terminal: TerminalRecord?
        /// The last create error of the current attempt.
        var lastError: CreateFailure?
        /// Set once the reconciler gave up on the pod: it will not be created again.
        var failed: Failure?
        var deletedAt: Date?
        /// Failed cancels of this pod's jobs, and when the last one failed: the
        /// retry backoff is durable, so a restart does not hammer a stuck backend.
        var cancelFailures: Int?
        var cancelFailedAt: Date?
        /// Failed cleanups of the pod's workspace (durable backoff; after
        /// `maxCleanupAttempts` the leak is recorded and the pod forgotten).
        var cleanupFailures: Int?
        var cleanupFailedAt: Date?
        var lastCleanupError: String?
        /// The delete's own grace period, when it came with one (bounded); else the spec's applies.
        var deletionGracePeriodSeconds: Int64?

        var isEmpty: Bool {
            terminal == nil && lastError == nil && failed == nil && deletedAt == nil && cancelFailures == nil
                && cancelFailedAt == nil && cleanupFailures == nil && cleanupFailedAt == nil
                && lastCleanupError == nil && deletionGracePeriodSeconds == nil
        }
    }

    /// One reference (`CopyOnWrite`); equality compares the pointer first.
    private var fields: CopyOnWrite<Fields>

    /// Whether `other` is this very record, not only an equal one: no change was
    /// applied to it in between (a change always makes a new one). A pointer check.
    func isIdentical(to other: PodRecord) -> Bool { fields.isIdentical(to: other.fields) }

    public var request: PodCreateRequests {
        get { fields.value.request }
        _modify { yield &fields.value.request }
        set { fields.value.request = newValue }
    }
    public var desired: Bool {
        get { fields.value.desired }
        _modify { yield &fields.value.desired }
        set { fields.value.desired = newValue }
    }
    public var attempt: Int {
        get { fields.value.attempt }
        _modify { yield &fields.value.attempt }
        set { fields.value.attempt = newValue }
    }
    public var jobID: String {
        get { fields.value.jobID }
        _modify { yield &fields.value.jobID }
        set { fields.value.jobID = newValue }
    }
    public var restartCount: Int {
        get { fields.value.restartCount }
        _modify { yield &fields.value.restartCount }
        set { fields.value.restartCount = newValue }
    }
    public var lastState: [String: ContainerState] {
        get { fields.value.lastState }
        _modify { yield &fields.value.lastState }
        set { fields.value.lastState = newValue }
    }
    public var seenAttempt: Int? {
        get { fields.value.seenAttempt }
        _modify { yield &fields.value.seenAttempt }
        set { fields.value.seenAttempt = newValue }
    }
    public var seenRunning: Bool {
        get { fields.value.seenRunning }
        _modify { yield &fields.value.seenRunning }
        set { fields.value.seenRunning = newValue }
    }
    public var seenContainers: [ContainerStatus] {
        get { fields.value.seenContainers }
        _modify { yield &fields.value.seenContainers }
        set { fields.value.seenContainers = newValue }
    }
    public var terminal: TerminalRecord? {
        get { fields.value.rare?.value.terminal }
        set { fields.value.rare.set(\.terminal, newValue) }
    }
    public var createFailures: Int {
        get { fields.value.createFailures }
        _modify { yield &fields.value.createFailures }
        set { fields.value.createFailures = newValue }
    }
    public var lastError: CreateFailure? {
        get { fields.value.rare?.value.lastError }
        set { fields.value.rare.set(\.lastError, newValue) }
    }
    public var failed: Failure? {
        get { fields.value.rare?.value.failed }
        set { fields.value.rare.set(\.failed, newValue) }
    }
    public var receivedAt: Date {
        get { fields.value.receivedAt }
        _modify { yield &fields.value.receivedAt }
        set { fields.value.receivedAt = newValue }
    }
    public var jobCreatedAt: Date? {
        get { fields.value.jobCreatedAt }
        _modify { yield &fields.value.jobCreatedAt }
        set { fields.value.jobCreatedAt = newValue }
    }
    public var deletedAt: Date? {
        get { fields.value.rare?.value.deletedAt }
        set { fields.value.rare.set(\.deletedAt, newValue) }
    }
    public var updatedAt: Date {
        get { fields.value.updatedAt }
        _modify { yield &fields.value.updatedAt }
        set { fields.value.updatedAt = newValue }
    }
    public var cancelFailures: Int? {
        get { fields.value.rare?.value.cancelFailures }
        set { fields.value.rare.set(\.cancelFailures, newValue) }
    }
    public var cancelFailedAt: Date? {
        get { fields.value.rare?.value.cancelFailedAt }
        set { fields.value.rare.set(\.cancelFailedAt, newValue) }
    }
    public var cleanupFailures: Int? {
        get { fields.value.rare?.value.cleanupFailures }
        set { fields.value.rare.set(\.cleanupFailures, newValue) }
    }
    public var cleanupFailedAt: Date? {
        get { fields.value.rare?.value.cleanupFailedAt }
        set { fields.value.rare.set(\.cleanupFailedAt, newValue) }
    }
    public var lastCleanupError: String? {
        get { fields.value.rare?.value.lastCleanupError }
        set { fields.value.rare.set(\.lastCleanupError, newValue) }
    }
    public var deletionGracePeriodSeconds: Int64? {
        get { fields.value.rare?.value.deletionGracePeriodSeconds }
        set { fields.value.rare.set(\.deletionGracePeriodSeconds, newValue) }
    }

    /// Coded as its fields, so the journal and snapshot formats do not change.
    public init(from decoder: any Decoder) throws { fields = try CopyOnWrite(from: decoder) }

    public func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }

    public init(request: PodCreateRequests, at now: Date) {
        fields = CopyOnWrite(Fields(request: request, at: now))
    }

    public var uid: String { request.pod.uid }
    public var pod: Pod { request.pod }

    /// The reference providers need to stop or read the current job.
    public var jobRef: JobRef {
        JobRef(podUID: uid, namespace: pod.namespace, name: pod.name, jobID: jobID, attempt: attempt,
               gracePeriodSeconds: stopGracePeriodSeconds, pod: pod)
    }

    /// Seconds a stop of this pod's job may take: the delete's own grace period
    /// once the pod is deleted with one, else the spec's, both bounded again (a
    /// record from an older journal was written before the API bounded them).
    public var stopGracePeriodSeconds: Int {
        if !desired, let g = deletionGracePeriodSeconds { return Int(clamping: PodBounds.bounded(gracePeriodSeconds: g)) }
        return Int(clamping: PodBounds.gracePeriodSeconds(of: pod.spec))
    }

    public var desiredPod: DesiredPod { DesiredPod(request: request, attempt: attempt) }
}

/// The container statuses of a finished attempt.
public struct TerminalRecord: Codable, Sendable, Equatable {
    public var attempt: Int
    public var containers: [ContainerStatus]
    public var initContainers: [ContainerStatus]
    public var at: Date
}

/// Why the last create failed, as the pod's waiting state shows it.
public struct CreateFailure: Codable, Sendable, Equatable {
    /// Kubernetes waiting reason (`ErrImagePull`, `ProviderFailed`...).
    public var reason: String
    public var message: String
    public var retryable: Bool
    public var at: Date
}

/// Why the reconciler gave up on a pod.
public struct Failure: Codable, Sendable, Equatable {
    public var reason: String
    public var message: String
    public var at: Date
}

/// One durable change to a pod record. The journal stores events, not whole
/// records, so a slow action finishing late cannot overwrite a newer intent
/// (e.g. a create result arriving after the pod was deleted).
public enum PodEvent: Codable, Sendable, Equatable {
    /// `/create`: the pod should exist (a new UID, or the same one again).
    /// Out of line (`indirect`): the request is most of a kilobyte inline, and
    /// every event and action (`Action.record`) would be that size, a resync's
    /// list of 10,000 `seen` events ten times larger than its content.
    indirect case desired(PodCreateRequests)
    /// `/delete`: the pod should not exist any more.
    case undesired
    /// A delete that carries its own grace period (the VK's pod watch): as
    /// `undesired`, and the stop uses these seconds (already bounded).
    case undesiredWithin(gracePeriodSeconds: Int64)
    /// The backend accepted (or already had) the job of `attempt`.
    case created(attempt: Int, jobID: String)
    case createFailed(attempt: Int, reason: String, message: String, retryable: Bool)
    /// `observe` saw the attempt alive.
    case seen(attempt: Int, running: Bool, containers: [ContainerStatus])
    case finished(attempt: Int, containers: [ContainerStatus], initContainers: [ContainerStatus])
    /// The backend lost the job; the next attempt starts with these last states.
    case restarted(newAttempt: Int, lastState: [String: ContainerState])
    case failed(reason: String, message: String)
    /// The pod is gone from the backend and from the store.
    case forgotten
    /// Stopping one of the pod's jobs failed (it is retried with backoff).
    case cancelFailed(message: String)
    /// A cancel went through after earlier failures: the backoff starts over.
    case cancelSucceeded
    /// Removing the pod's files failed (retried with backoff, then abandoned).
    case cleanupFailed(message: String)
}

extension PodRecord {
    /// Applies `event` to `record` (nil = no record yet); nil result = forget.
    /// Pure and idempotent for replays: stale attempts are ignored.
    public static func apply(_ event: PodEvent, to record: PodRecord?, at now: Date) -> PodRecord? {
        if case .desired(let req) = event {
            guard var r = record else { return PodRecord(request: req, at: now) }
            r.request = req; r.desired = true; r.deletedAt = nil; r.updatedAt = now
            return r
        }
        guard var r = record else { return nil }
        r.updatedAt = now
        switch event {
        case .desired: break
        case .undesired:
            r.desired = false; if r.deletedAt == nil { r.deletedAt = now }
        case .undesiredWithin(let g):
            r.desired = false; if r.deletedAt == nil { r.deletedAt = now }
            r.deletionGracePeriodSeconds = PodBounds.bounded(gracePeriodSeconds: g)
        case .created(let attempt, let jobID):
            guard attempt == r.attempt else { return r }
            r.jobID = jobID; if r.jobCreatedAt == nil { r.jobCreatedAt = now }
            r.createFailures = 0; r.lastError = nil
        case .createFailed(let attempt, let reason, let message, let retryable):
            guard attempt == r.attempt else { return r }
            r.createFailures += 1
            r.lastError = CreateFailure(reason: reason, message: message, retryable: retryable, at: now)
        case .seen(let attempt, let running, let containers):
            guard attempt == r.attempt else { return r }
            r.seenAttempt = attempt; r.seenRunning = running; r.seenContainers = containers
        case .finished(let attempt, let containers, let inits):
            guard attempt == r.attempt, r.terminal == nil else { return r }
            r.terminal = TerminalRecord(attempt: attempt, containers: containers, initContainers: inits, at: now)
        case .restarted(let newAttempt, let lastState):
            guard newAttempt == r.attempt + 1 else { return r }
            r.attempt = newAttempt; r.restartCount += 1; r.lastState = lastState
            r.jobID = ""; r.jobCreatedAt = nil; r.seenAttempt = nil; r.seenRunning = false
            r.seenContainers = []; r.terminal = nil; r.createFailures = 0; r.lastError = nil
        case .failed(let reason, let message):
            if r.failed == nil { r.failed = Failure(reason: reason, message: message, at: now) }
        case .forgotten:
            return nil
        case .cancelFailed:
            r.cancelFailures = (r.cancelFailures ?? 0) + 1; r.cancelFailedAt = now
        case .cancelSucceeded:
            r.cancelFailures = nil; r.cancelFailedAt = nil
        case .cleanupFailed(let message):
            r.cleanupFailures = (r.cleanupFailures ?? 0) + 1; r.cleanupFailedAt = now; r.lastCleanupError = message
        }
        return r
    }
}
