import FoundationEssentials
import Model
import Providers

/// What one backend action came to; turned into durable events by the tick.
enum ActionOutcome: Sendable {
    case created(uid: String, attempt: Int, jobID: String)
    case createFailed(uid: String, attempt: Int, error: ProviderError)
    case cancelled(key: String)
    case cancelFailed(key: String)
    case cleanedUp(uid: String)
    case cleanupFailed(uid: String)

    /// The in-flight key of the action this is the outcome of (see `Action.flightKey`).
    var flightKey: String {
        switch self {
        case .created(let uid, _, _), .createFailed(let uid, _, _): return "create:" + uid
        case .cancelled(let k), .cancelFailed(let k): return "cancel:" + k
        case .cleanedUp(let uid), .cleanupFailed(let uid): return "forget:" + uid
        }
    }
}

extension Action {
    /// Identifies a backend action while it runs, so a later tick does not start it again.
    var flightKey: String? {
        switch self {
        case .create(let uid, _): return "create:" + uid
        case .cancel(let ref, _): return "cancel:" + Planner.jobKey(ref)
        case .forget(let uid, _): return "forget:" + uid
        case .record: return nil
        }
    }
}

extension Reconciler {
    /// The body of `tickOnce`: observe once, plan, record, act, refresh statuses.
    func tick() async {
        let clock = ContinuousClock(), start = clock.now
        defer {
            let d = clock.now - start
            metricsRegistry.observeTick(seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        if isStopping { return }
        metricsRegistry.backendCommand("observe")
        let observations: [JobObservation]
        do { observations = try await provider.observe() } catch {
            // Without an observation every pod would look lost: do nothing this tick.
            metricsRegistry.backendError("observe", error)
            Log.warn("observe failed; skipping this tick", ["provider": provider.name, "error": "\(error)"])
            return
        }
        var records = await store.all()
        let now = Date()
        var current: [String: JobObservation] = [:]
        for o in observations where records[o.podUID]?.attempt == o.attempt { current[o.podUID] = o }
        observed = current

        let actions = Planner.plan(records: records, observations: observations, now: now, settings: settings,
                                   cancelNotBefore: cancelBackoff.mapValues(\.notBefore))
        var events: [(uid: String, event: PodEvent)] = []
        var work: [Action] = []
        for a in actions {
            if case .record(let uid, let e) = a { events.append((uid, e)); continue }
            guard let key = a.flightKey, !inFlight.contains(key) else { continue }
            // A pod deleted while its create still runs is forgotten after that create ends.
            if case .forget(let uid, _) = a, inFlight.contains("create:" + uid) { continue }
            work.append(a)
        }
        // Terminal states, adoptions and restarts are durable before anything else happens.
        if !events.isEmpty {
            guard let touched = try? await persist(events) else { return }
            for (uid, r) in touched { records[uid] = r }
            for e in events { note(e.event.actionKind, records[e.uid]?.pod, e.uid, detail(e.event)) }
        }
        let outcomes = await launch(work, records: records)
        let forgotten = await complete(outcomes)
        await refreshStatuses(forgotten: forgotten)
    }

    /// Starts the backend actions and waits for them up to `actionWaitSeconds`;
    /// answers the outcomes that arrived by then. Slower actions keep running
    /// (still marked in flight) and record their outcome themselves when done,
    /// so one slow backend call (a long image pull) does not hold up the loop.
    func launch(_ work: [Action], records: [String: PodRecord]) async -> [ActionOutcome] {
        // Read again: a /delete may have been recorded while this tick persisted its events.
        let latest = await store.all()
        let runnable = work.filter {
            if case .create(let uid, let attempt) = $0 {
                guard let r = latest[uid], r.attempt == attempt, r.desired else { return false }
            }
            return true
        }
        guard !runnable.isEmpty else { return [] }
        for a in runnable { if let k = a.flightKey { inFlight.insert(k) } }
        let batch = ActionBatch(count: runnable.count)
        Task { await self.perform(runnable, records: records, batch: batch) }
        await batch.done.wait(timeout: settings.actionWaitSeconds)
        return batch.detach()
    }

    /// Applies action outcomes durably; answers the UIDs forgotten.
    @discardableResult
    func complete(_ outcomes: [ActionOutcome]) async -> [String] {
        guard !outcomes.isEmpty else { return [] }
        var followUp: [(uid: String, event: PodEvent)] = []
        var forgotten: [String] = []
        for o in outcomes {
            inFlight.remove(o.flightKey)
            switch o {
            case .created(let uid, let attempt, let jobID):
                followUp.append((uid, .created(attempt: attempt, jobID: jobID)))
            case .createFailed(let uid, let attempt, let e):
                followUp.append((uid, .createFailed(attempt: attempt, reason: e.waitingReason,
                                                    message: e.description, retryable: e.isRetryable)))
            case .cancelled(let key):
                cancelBackoff[key] = nil
            case .cancelFailed(let key):
                let n = (cancelBackoff[key]?.failures ?? 0) + 1
                cancelBackoff[key] = (n, Date().addingTimeInterval(settings.backoff(failures: n)))
            case .cleanedUp(let uid):
                followUp.append((uid, .forgotten)); forgotten.append(uid)
            case .cleanupFailed:
                break // the record stays; the next tick tries again
            }
        }
        if !followUp.isEmpty { _ = try? await persist(followUp) }
        return forgotten
    }

    /// An outcome that arrived after its tick stopped waiting.
    func completeLate(_ outcome: ActionOutcome) async {
        let forgotten = await complete([outcome])
        var changes: [String: PodStatus?] = [:]
        for uid in forgotten { changes[uid] = .some(nil) }
        if case .created(let uid, _, _) = outcome, let r = await store.record(uid) {
            changes[uid] = StatusMapper.status(r, observation: observed[uid])
        }
        if case .createFailed(let uid, _, _) = outcome, let r = await store.record(uid) {
            changes[uid] = StatusMapper.status(r, observation: observed[uid])
        }
        statusView.update(changes)
        wake.signal()
    }

    /// Runs provider calls with at most `maxParallelActions` at a time, handing
    /// each outcome to `batch` (or recording it directly once the tick moved on).
    func perform(_ work: [Action], records: [String: PodRecord], batch: ActionBatch) async {
        let provider = self.provider, metrics = metricsRegistry
        await withTaskGroup(of: ActionOutcome?.self) { group in
            var next = work.makeIterator()
            func add(_ a: Action) {
                switch a {
                case .create(let uid, _):
                    guard let rec = records[uid] else { return }
                    group.addTask { await Self.create(rec, provider, metrics) }
                case .cancel(let ref, let reason):
                    group.addTask { await Self.cancel(ref, reason, provider, metrics) }
                case .forget(let uid, let ref):
                    group.addTask { await Self.cleanup(uid, ref, provider, metrics) }
                case .record:
                    return
                }
            }
            for _ in 0..<settings.maxParallelActions { guard let a = next.next() else { break }; add(a) }
            for await o in group {
                if let o, batch.finish(o) { await self.completeLate(o) }
                if let a = next.next() { add(a) }
            }
        }
    }

    static func create(_ rec: PodRecord, _ provider: any Provider, _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("create"); metrics.action("create")
        var f = logFields(rec.pod, ["action": "create", "attempt": String(rec.attempt)])
        do {
            let jobID = try await provider.create(rec.desiredPod)
            f["jobID"] = jobID
            Log.info("created pod on the backend", f)
            return .created(uid: rec.uid, attempt: rec.attempt, jobID: jobID)
        } catch {
            metrics.backendError("create", error)
            let e = (error as? ProviderError) ?? .backend(command: "create", message: "\(error)", transient: true)
            f["error"] = e.description
            Log.warn("create failed", f)
            return .createFailed(uid: rec.uid, attempt: rec.attempt, error: e)
        }
    }

    static func cancel(_ ref: JobRef, _ reason: CancelReason, _ provider: any Provider,
                       _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("delete"); metrics.action("cancel")
        let f = ["action": "cancel", "reason": reason.rawValue, "namespace": ref.namespace, "name": ref.name,
                 "uid": ref.podUID, "jobID": ref.jobID, "attempt": String(ref.attempt)]
        do {
            try await provider.delete(ref)
            Log.info("cancelled backend job", f)
            return .cancelled(key: Planner.jobKey(ref))
        } catch {
            metrics.backendError("delete", error)
            var g = f; g["error"] = "\(error)"
            Log.warn("cancel failed; will retry with backoff", g)
            return .cancelFailed(key: Planner.jobKey(ref))
        }
    }

    static func cleanup(_ uid: String, _ ref: JobRef, _ provider: any Provider,
                        _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("cleanup"); metrics.action("forget")
        let f = ["action": "forget", "namespace": ref.namespace, "name": ref.name, "uid": uid]
        do {
            try await provider.cleanup(ref)
            Log.info("pod deleted and forgotten", f)
            return .cleanedUp(uid: uid)
        } catch {
            metrics.backendError("cleanup", error)
            var g = f; g["error"] = "\(error)"
            Log.warn("cleanup failed; will retry", g)
            return .cleanupFailed(uid: uid)
        }
    }

    /// Rebuilds the status of every record from the store and the last observation.
    func refreshStatuses(forgotten: [String]) async {
        let records = await store.all()
        var changes: [String: PodStatus?] = [:]
        changes.reserveCapacity(records.count + forgotten.count)
        for uid in forgotten where records[uid] == nil { changes[uid] = .some(nil) }
        for (uid, r) in records { changes[uid] = StatusMapper.status(r, observation: observed[uid]) }
        statusView.update(changes)
    }

    func note(_ kind: String, _ pod: Pod?, _ uid: String, _ extra: [String: String]) {
        metricsRegistry.action(kind)
        guard kind != "seen" else { return }
        var f = extra
        f["action"] = kind; f["uid"] = uid
        if let pod { f["namespace"] = pod.namespace; f["name"] = pod.name }
        Log.info("reconcile action", f)
    }

    func detail(_ e: PodEvent) -> [String: String] {
        switch e {
        case .finished(let a, let cs, _):
            return ["attempt": String(a), "exitCodes": cs.map { String($0.state.terminated?.exitCode ?? -1) }.joined(separator: ",")]
        case .failed(let reason, let message): return ["reason": reason, "message": message]
        case .restarted(let a, _): return ["attempt": String(a)]
        case .created(let a, let j): return ["attempt": String(a), "jobID": j]
        default: return [:]
        }
    }

    static func logFields(_ pod: Pod, _ extra: [String: String]) -> [String: String] {
        var f = extra
        f["namespace"] = pod.namespace; f["name"] = pod.name; f["uid"] = pod.uid
        return f
    }
}

extension PodEvent {
    var actionKind: String { Action.record(uid: "", self).kind }
}
