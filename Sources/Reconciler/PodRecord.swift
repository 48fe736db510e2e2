import FoundationEssentials
import Model
import Providers

/// Everything the reconciler remembers about one pod UID, durable across
/// restarts: the create request as received, whether the pod should exist,
/// which incarnation (`attempt`) is current, and what is known of how it ended.
/// Changed only by applying `PodEvent`s, so the journal can replay them.
public struct PodRecord: Codable, Sendable, Equatable {
    /// Out of line (`Boxed`): the pod is most of a record's size.
    @Boxed public var request: PodCreateRequests
    public var desired: Bool
    /// Incarnation; grows when the pod is re-created after the backend lost it.
    public var attempt: Int
    /// Backend job id of the current attempt; empty until create answered.
    public var jobID: String
    public var restartCount: Int
    /// Per container name: how the previous incarnation ended.
    public var lastState: [String: ContainerState]
    /// The attempt last seen alive by `observe`, and its containers then.
    public var seenAttempt: Int?
    public var seenRunning: Bool
    public var seenContainers: [ContainerStatus]
    /// How the current attempt ended, recorded the first tick it was seen finished.
    public var terminal: TerminalRecord?
    /// Failed creates of the current attempt, and the last error.
    public var createFailures: Int
    public var lastError: CreateFailure?
    /// Set once the reconciler gave up on the pod: it will not be created again.
    public var failed: Failure?
    public var receivedAt: Date
    public var jobCreatedAt: Date?
    public var deletedAt: Date?
    public var updatedAt: Date
    /// Failed cancels of this pod's jobs, and when the last one failed: the
    /// retry backoff is durable, so a restart does not hammer a stuck backend.
    /// Optional so snapshots written before these fields still load.
    public var cancelFailures: Int?
    public var cancelFailedAt: Date?
    /// Failed cleanups of the pod's workspace (durable backoff; after
    /// `maxCleanupAttempts` the leak is recorded and the pod forgotten).
    public var cleanupFailures: Int?
    public var cleanupFailedAt: Date?
    public var lastCleanupError: String?
    /// The delete's own grace period, when it came with one (bounded); else
    /// the spec's applies. Optional so records written before it still load.
    public var deletionGracePeriodSeconds: Int64?

    public init(request: PodCreateRequests, at now: Date) {
        _request = Boxed(wrappedValue: request); desired = true; attempt = 0; jobID = ""; restartCount = 0
        lastState = [:]; seenAttempt = nil; seenRunning = false; seenContainers = []
        terminal = nil; createFailures = 0; lastError = nil; failed = nil
        receivedAt = now; jobCreatedAt = nil; deletedAt = nil; updatedAt = now
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
    case desired(PodCreateRequests)
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
