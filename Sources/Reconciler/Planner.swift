import FoundationEssentials
import Model
import Providers

/// One step toward agreement between desired and observed state.
public enum Action: Sendable, Equatable {
    /// Change the record only (terminal state seen, job adopted, lost, failed).
    case record(uid: String, PodEvent)
    /// Ask the provider to create this attempt of the pod (idempotent per attempt).
    case create(uid: String, attempt: Int)
    /// Stop and remove a backend job that should not exist. The cases that
    /// carry a `JobRef` are out of line (`indirect`): inline they made every
    /// action 105 bytes, and a resync's list holds one per changed pod.
    indirect case cancel(JobRef, reason: CancelReason)
    /// The pod is deleted and gone from the backend: clean up its files, forget it.
    indirect case forget(uid: String, JobRef)
    /// Start the backend containers `ids` of the current attempt (the next init
    /// step, then the main containers), as `JobObservation.dueToStart` asked.
    indirect case advance(JobRef, ids: [String])
    /// Cleanup failed `maxCleanupAttempts` times: record the leaked workspace
    /// (metric and log) and forget the pod, so it does not stay pinned forever.
    indirect case abandon(uid: String, JobRef)

    public var kind: String {
        switch self {
        case .record(_, let e):
            switch e {
            case .finished: return "recordTerminal"
            case .restarted: return "recreate"
            case .failed: return "markFailed"
            case .created: return "adopt"
            case .seen: return "seen"
            default: return "record"
            }
        case .create: return "create"
        case .cancel: return "cancel"
        case .forget: return "forget"
        case .advance: return "advance"
        case .abandon: return "abandon"
        }
    }
}

/// Why a job is cancelled (for logs and metrics).
public enum CancelReason: String, Sendable, Equatable {
    case undesired, orphan, staleAttempt, failed
}

/// The pure heart of the reconciler: desired records + one observation of the
/// backend + the time -> the actions to take. No I/O, no clock; each pod's actions
/// are in a fixed order, pods in dictionary order (sorting would cost O(n log n)).
public enum Planner {
    /// The full plan (the resync): every record against one whole observation.
    /// `orphanDue` says whether a job of an unknown pod may be cancelled now
    /// (the reconciler's grace window and mass-orphan guard); tests pass nothing.
    public static func plan(records: [String: PodRecord], observations: [JobObservation], now: Date,
                            settings: ReconcilerSettings, cancelNotBefore: [String: Date] = [:],
                            advanceNotBefore: [String: Date] = [:],
                            orphanDue: (JobObservation) -> Bool = { _ in true }) -> [Action] {
        var byUID: [String: [JobObservation]] = [:]
        for o in observations { byUID[o.podUID, default: []].append(o) }
        return plan(records: records, jobsByUID: byUID, now: now, settings: settings, cancelNotBefore: cancelNotBefore,
                    advanceNotBefore: advanceNotBefore, orphanDue: orphanDue)
    }

    /// The same, with the observation already grouped by pod UID (the resync has it).
    public static func plan(records: [String: PodRecord], jobsByUID byUID: [String: [JobObservation]], now: Date,
                            settings: ReconcilerSettings, cancelNotBefore: [String: Date] = [:],
                            advanceNotBefore: [String: Date] = [:],
                            orphanDue: (JobObservation) -> Bool = { _ in true }) -> [Action] {
        // Jobs whose pod we do not know at all: orphans (e.g. left by a crash), once due.
        // Dictionary order, not sorted: sorting would make the resync O(n log n).
        var unknown: [JobObservation] = []
        for (uid, jobs) in byUID where records[uid] == nil { unknown += jobs }
        var actions = orphanCancels(unknown, now: now, cancelNotBefore: cancelNotBefore, orphanDue: orphanDue)
        for (uid, rec) in records {
            actions += planRecord(rec, uid: uid, jobs: byUID[uid] ?? [], now: now, settings: settings,
                                  cancelNotBefore: cancelNotBefore, advanceNotBefore: advanceNotBefore,
                                  absenceIsKnown: true)
        }
        return actions
    }

    /// Cancels of the jobs no record owns that `orphanDue` lets go (outside their cancel backoff).
    public static func orphanCancels(_ unknown: [JobObservation], now: Date, cancelNotBefore: [String: Date],
                                     orphanDue: (JobObservation) -> Bool) -> [Action] {
        var actions: [Action] = []
        for o in unknown where orphanDue(o) {
            if let t = cancelNotBefore[jobKey(o.ref)], t > now { continue }
            actions.append(.cancel(o.ref, reason: .orphan))
        }
        return actions
    }

    /// One record of the resync against every job the whole observation holds for
    /// it (`jobs`: none, one, or the rare several). `uid` is the record's key, so
    /// the pod itself is not read for it.
    public static func planResynced<Jobs: Collection<JobObservation>>(
        _ rec: PodRecord, uid: String, jobs: Jobs, now: Date, settings: ReconcilerSettings,
        cancelNotBefore: [String: Date], advanceNotBefore: [String: Date]) -> [Action] {
        planRecord(rec, uid: uid, jobs: jobs, now: now, settings: settings, cancelNotBefore: cancelNotBefore,
                   advanceNotBefore: advanceNotBefore, absenceIsKnown: true)
    }

    /// The plan of one pod key (the event path: a create, a delete, an outcome),
    /// against the jobs the last resync saw for it. That observation may be
    /// stale, so the absence of a job proves nothing here: losing a job is only
    /// ever concluded by the resync, which has just observed the whole backend.
    public static func planKey(_ rec: PodRecord, jobs: [JobObservation], now: Date, settings: ReconcilerSettings,
                               cancelNotBefore: [String: Date] = [:], advanceNotBefore: [String: Date] = [:]) -> [Action] {
        planRecord(rec, uid: rec.uid, jobs: jobs, now: now, settings: settings, cancelNotBefore: cancelNotBefore,
                   advanceNotBefore: advanceNotBefore, absenceIsKnown: false)
    }

    static func planRecord<Jobs: Collection<JobObservation>>(
        _ rec: PodRecord, uid: String, jobs: Jobs, now: Date, settings: ReconcilerSettings,
        cancelNotBefore: [String: Date], advanceNotBefore: [String: Date], absenceIsKnown: Bool) -> [Action] {
        var actions: [Action] = []
        func cancel(_ o: JobObservation, _ reason: CancelReason) {
            if let t = cancelNotBefore[jobKey(o.ref)], t > now { return }
            // Failed cancels back off durably, in the record.
            if let n = rec.cancelFailures, n > 0, let at = rec.cancelFailedAt,
               now < at.addingTimeInterval(settings.backoff(failures: n)) { return }
            var ref = o.ref; ref.pod = rec.pod
            // The delete's grace period, else the spec's; bounded (see `stopGracePeriodSeconds`).
            ref.gracePeriodSeconds = rec.stopGracePeriodSeconds
            actions.append(.cancel(ref, reason: reason))
        }
        if !rec.desired {
            // A finished job needs no stopping (Slurm keeps reporting it from its
            // status files): once nothing runs, clean up and forget the pod.
            let live = jobs.filter { $0.state != .finished }
            if live.isEmpty && !absenceIsKnown {
                // The event path's view may predate the job: stop it by its recorded id
                // (idempotent), and leave forgetting to the resync, which has looked.
                if !rec.jobID.isEmpty && !jobs.contains(where: { $0.jobID == rec.jobID && $0.attempt == rec.attempt }) {
                    cancel(JobObservation(podUID: uid, namespace: rec.pod.namespace, name: rec.pod.name,
                                          jobID: rec.jobID, attempt: rec.attempt, state: .running), .undesired)
                }
                return actions
            }
            if live.isEmpty {
                let failures = rec.cleanupFailures ?? 0
                if failures >= settings.maxCleanupAttempts {
                    actions.append(.abandon(uid: uid, rec.jobRef))
                } else if failures == 0 || now >= (rec.cleanupFailedAt ?? .distantPast).addingTimeInterval(settings.backoff(failures: failures)) {
                    actions.append(.forget(uid: uid, rec.jobRef))
                }
            }
            for o in live { cancel(o, .undesired) }
            return actions
        }
        // activeDeadlineSeconds, as the kubelet applies it: counted from when the
        // pod reached this node (the first /create, not reset by restarts), on
        // every provider. The pod fails DeadlineExceeded and, being failed, has
        // its job stopped on the next plan. (Slurm also gets it as `--time`.)
        if rec.failed == nil && rec.terminal == nil, let limit = rec.pod.spec?.activeDeadlineSeconds, limit > 0,
           now >= rec.receivedAt.addingTimeInterval(Double(limit)) {
            return [.record(uid: uid, .failed(reason: "DeadlineExceeded",
                message: "Pod was active on the node longer than the specified deadline (activeDeadlineSeconds \(limit))"))]
        }
        // Two jobs of the current attempt (a create that timed out yet went
        // through, then a retry): keep the one whose id the VK was told.
        // (A loop, not two filters: no array per pod on every resync.)
        var current: JobObservation?
        for o in jobs where o.attempt == rec.attempt {
            if o.jobID == rec.jobID { current = o; break }
            if current == nil { current = o }
        }
        for o in jobs where o.attempt != rec.attempt || o.jobID != current?.jobID {
            cancel(o, .staleAttempt)
        }
        if let o = current {
            if rec.failed != nil { cancel(o, .failed); return actions }
            actions += observed(rec, o, uid: uid, now: now, settings: settings, advanceNotBefore: advanceNotBefore,
                                fresh: absenceIsKnown)
        } else if rec.failed == nil && rec.terminal == nil {
            if absenceIsKnown || rec.jobID.isEmpty { actions += missing(rec, now: now, settings: settings) }
        }
        return actions
    }

    /// The current attempt is in the backend: adopt its id, note it alive or finished.
    static func observed(_ rec: PodRecord, _ o: JobObservation, uid: String, now: Date, settings: ReconcilerSettings,
                         advanceNotBefore: [String: Date] = [:], fresh: Bool = true) -> [Action] {
        var out: [Action] = []
        if rec.jobID != o.jobID { out.append(.record(uid: uid, .created(attempt: o.attempt, jobID: o.jobID))) }
        switch o.state {
        case .finished where o.interruption != nil && rec.terminal == nil:
            // Cancelled by an administrator, a node failure, a preemption: the pod
            // did not end by itself, so it is lost work and restartPolicy decides.
            let what = "job \(o.jobID) of pod \(rec.pod.namespace)/\(rec.pod.name) was ended by the backend (\(o.interruption!))"
            out += lost(rec, what, now: now, settings: settings)
        case .finished:
            if rec.terminal == nil {
                out.append(.record(uid: uid, .finished(attempt: o.attempt, containers: o.containers,
                                                            initContainers: o.initContainers)))
            }
        case .running, .pending:
            let running = o.state == .running
            if rec.seenAttempt != o.attempt || (running && !rec.seenRunning) {
                out.append(.record(uid: uid, .seen(attempt: o.attempt, running: running, containers: o.containers)))
            }
            // The backend has containers waiting for their turn: start them (the
            // one place that acts; observe only reported it). Never fails the pod.
            if !o.dueToStart.isEmpty && rec.terminal == nil
                && (advanceNotBefore[uid].map { $0 <= now } ?? true) {
                var ref = rec.jobRef
                ref.jobID = o.jobID
                out.append(.advance(ref, ids: o.dueToStart))
            }
            // A container restart is due within the incarnation (kubelet-style, the
            // provider decided it from the backend): `create` of the same attempt
            // makes the incarnation whole again. Only on a fresh observation (the
            // resync): the event path's may predate the restart it would repeat.
            if fresh && !o.restartDue.isEmpty && rec.terminal == nil {
                let backedOff = rec.createFailures > 0 && rec.lastError.map {
                    now < $0.at.addingTimeInterval(settings.backoff(failures: rec.createFailures))
                } ?? false
                if !backedOff { out.append(.create(uid: uid, attempt: rec.attempt)) }
            }
        }
        return out
    }

    /// The current attempt is not in the backend and did not finish: create it,
    /// wait for the backoff, give up, or treat it as lost.
    static func missing(_ rec: PodRecord, now: Date, settings: ReconcilerSettings) -> [Action] {
        let uid = rec.uid
        if rec.jobID.isEmpty {
            if let e = rec.lastError, rec.createFailures > 0 {
                if !e.retryable || rec.createFailures >= settings.maxCreateAttempts {
                    let tries = rec.createFailures == 1 ? "1 try" : "\(rec.createFailures) tries"
                    return [.record(uid: uid, .failed(reason: e.reason, message: "\(e.message) (gave up after \(tries))"))]
                }
                if now < e.at.addingTimeInterval(settings.backoff(failures: rec.createFailures)) { return [] }
            }
            return [.create(uid: uid, attempt: rec.attempt)]
        }
        let since = rec.jobCreatedAt ?? rec.receivedAt
        guard rec.seenAttempt == rec.attempt || now.timeIntervalSince(since) >= settings.unseenGraceSeconds else {
            return [] // just created; the backend may not list it yet
        }
        let what = "the backend lost job \(rec.jobID) of pod \(rec.pod.namespace)/\(rec.pod.name) before it finished"
        return lost(rec, what, now: now, settings: settings)
    }

    /// The current attempt is gone without finishing by itself: re-create it per
    /// restartPolicy (Always and OnFailure count this as a failure), or give up.
    static func lost(_ rec: PodRecord, _ what: String, now: Date, settings: ReconcilerSettings) -> [Action] {
        let uid = rec.uid
        if rec.pod.restartPolicy == .never {
            return [.record(uid: uid, .failed(reason: "BackendLost", message: what + "; restartPolicy is Never, so it is not re-created"))]
        }
        if rec.restartCount >= settings.maxRestarts {
            return [.record(uid: uid, .failed(reason: "BackendLost", message: what + "; gave up after \(rec.restartCount) restarts"))]
        }
        return [.record(uid: uid, .restarted(newAttempt: rec.attempt + 1, lastState: lostStates(rec, what, now))),
                .create(uid: uid, attempt: rec.attempt + 1)]
    }

    /// `lastState` for each container of a lost attempt: terminated, BackendLost.
    static func lostStates(_ rec: PodRecord, _ message: String, _ now: Date) -> [String: ContainerState] {
        var out: [String: ContainerState] = [:]
        for c in rec.pod.containers {
            let seen = rec.seenContainers.first { $0.name == c.name }
            out[c.name] = .terminated(ContainerStateTerminated(
                exitCode: 137, reason: "BackendLost", message: message,
                startedAt: seen?.state.running?.startedAt, finishedAt: RFC3339.string(now)))
        }
        return out
    }

    /// Whether the plan of `rec` against its one job `o` is empty whatever the
    /// time: the current attempt runs (or waits to) as recorded, with nothing due
    /// to start or restart, no deadline and nothing failed. Every condition of
    /// `planRecord` that reads the clock or a backoff is behind one of these, so
    /// the resync may skip planning a record it finds identical to the last one,
    /// against an identical observation, when this held then.
    static func isQuiet(_ rec: PodRecord, _ o: JobObservation) -> Bool {
        guard rec.desired, rec.failed == nil, rec.terminal == nil, o.attempt == rec.attempt, o.jobID == rec.jobID,
              o.state == .running || o.state == .pending, o.interruption == nil,
              o.dueToStart.isEmpty, o.restartDue.isEmpty,
              rec.seenAttempt == o.attempt, o.state != .running || rec.seenRunning else { return false }
        return (rec.pod.spec?.activeDeadlineSeconds ?? 0) <= 0
    }

    /// Key of a job in the per-job cancel backoff map.
    public static func jobKey(_ ref: JobRef) -> String { "\(ref.podUID)/\(ref.attempt)/\(ref.jobID)" }
}
