import FoundationEssentials
import Model
import Providers
import Support
import CShims

extension ReconcileLoop {
    /// The body of `tickOnce`, the resync: observe once, plan every record,
    /// record, act; statuses are rebuilt only where the observation changed.
    /// The only O(n) pass.
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
            statusView.setUnreachable(StatusMapper.unreachable(error, provider: provider, since: &unreachableSince))
            return
        }
        unreachableSince = [:]
        statusView.setUnreachable([:])
        let actions = await planResync(observations, now: Date(), clock: clock.now)
        let outcomes = await execute(actions, wait: settings.actionWaitSeconds)
        await complete(outcomes)
        progress.markObserved()  // statuses now reflect the backend, not only the journal
        // A resync that changed thousands of pods (the first after a start or a burst)
        // freed as much as it allocated, and so does a large observe (Slurm's squeue
        // output and its parse, megabytes every tick): the free pages go back to the
        // kernel instead of staying in the resident size (spread over the threads'
        // malloc arenas, they add up to several times the live heap). Measured by
        // `make bench`: well under a millisecond at 10,000 mock pods.
        if changedInLastResync >= 1024 || observations.count >= 1024 { cshims_release_free_heap() }
    }

    /// The resync's O(n) part, one pass over the records in slot order: each
    /// record is matched with its jobs in the observation, its status brought up
    /// to date when its observation changed, and it is planned. Orphans are judged
    /// from the jobs no record matched. A pod whose record and observation are the
    /// very ones of the last resync, whose plan was empty, costs three reads from
    /// arrays in order and two pointer comparisons: the per-pod cost stays flat as
    /// pods accumulate. `records` shares the store's storage, so it lives only in
    /// here: a store write (`execute`) while it is held would copy every record.
    private func planResync(_ observations: [JobObservation], now: Date, clock: ContinuousClock.Instant) async -> [Action] {
        let records = await store.table()
        recordsVisited += records.count
        let index = resyncIndex.index(observations, records: records)
        let more = index.more
        // Becomes the current job of each known pod (what `observed` keeps for the event path).
        var current = index.first
        var others: [String: [JobObservation]] = [:]
        var changes: [String: PodStatus?] = [:]
        var actions: [Action] = []
        var skipped = 0, changedStatuses = 0
        let cancelNotBefore = cancelBackoff.mapValues(\.notBefore)
        let advanceNotBefore = advanceBackoff.mapValues(\.notBefore)
        var memos = lastResync
        lastResync = []   // so the entries below are changed in place, not copied
        let slotCount = records.slots.count
        if memos.count > slotCount { memos.removeLast(memos.count - slotCount) }
        if memos.count < slotCount { memos.append(contentsOf: repeatElement(ResyncMemo(), count: slotCount - memos.count)) }
        for s in 0..<slotCount {
            guard let rec = records.slots[s].record else {
                if memos[s].record != nil { memos[s] = ResyncMemo() }   // the pod was forgotten
                continue
            }
            let o = index.bySlot[s]
            // The very record and observation of the last resync, whose plan was
            // empty whatever the time (`Planner.isQuiet`): planning again would
            // give the same nothing, so it is skipped (most pods, most resyncs).
            // Pointers only: neither the record nor the observation is read.
            if memos[s].quiet, more.isEmpty, let o, let last = memos[s].observation, o.isIdentical(to: last),
               let r = memos[s].record, r.isIdentical(to: rec) {
                skipped += 1
                continue
            }
            let uid = records.slots[s].uid
            let extra = more.isEmpty ? nil : more[uid]
            var mine: JobObservation? = o
            if let o, o.attempt != rec.attempt || extra != nil {
                // Rare: several jobs, or not the current attempt's first.
                let all = [o] + (extra ?? [])
                mine = all.first { $0.attempt == rec.attempt && $0.jobID == rec.jobID }
                    ?? all.first { $0.attempt == rec.attempt }
                current[uid] = mine
                others[uid] = all.filter { $0 != mine }
            }
            func visit(_ memo: inout ResyncMemo) {
                // A pod's status is a function of its record and its observation; every
                // record change updates its status where it is applied, so only a changed
                // observation needs a new one here.
                if memo.observation != mine { changes[uid] = .some(StatusMapper.status(rec, observation: mine)) }
                // Stored only when not the very same: storing the same again would
                // retain and release it, a cache miss per pod for nothing.
                if !(memo.record.map { $0.isIdentical(to: rec) } ?? false) { memo.record = rec }
                switch (memo.observation, mine) {
                case (let a?, let b?) where a.isIdentical(to: b): break
                case (nil, nil): break
                default: memo.observation = mine
                }
                let planned: [Action]
                if let extra, let o {
                    planned = Planner.planResynced(rec, uid: uid, jobs: [o] + extra, now: now, settings: settings,
                                                   cancelNotBefore: cancelNotBefore, advanceNotBefore: advanceNotBefore)
                } else if let o {
                    planned = Planner.planResynced(rec, uid: uid, jobs: CollectionOfOne(o), now: now, settings: settings,
                                                   cancelNotBefore: cancelNotBefore, advanceNotBefore: advanceNotBefore)
                } else {
                    planned = Planner.planResynced(rec, uid: uid, jobs: EmptyCollection(), now: now, settings: settings,
                                                   cancelNotBefore: cancelNotBefore, advanceNotBefore: advanceNotBefore)
                }
                memo.quiet = planned.isEmpty && extra == nil && o.map { Planner.isQuiet(rec, $0) } == true
                actions += planned
            }
            visit(&memos[s])
            // Statuses go to the view in slices: a resync that changes every pod
            // (the first after a start) does not build a map of 10,000 of them first.
            if changes.count >= 1024 {
                changedStatuses += changes.count
                statusView.update(changes)
                changes.removeAll(keepingCapacity: true)
            }
        }
        lastResync = memos
        quietSkipped = skipped
        // Jobs no record matched: their pods are unknown (orphans, judged below).
        let unknown = index.unknown
        for o in unknown { current[o.podUID] = nil }
        let matched = observations.count - unknown.count
        otherJobs = others
        observed.replaceAll(current)
        changedStatuses += changes.count
        recordsVisited += changedStatuses
        changedInLastResync = changedStatuses + actions.count
        statusView.update(changes)

        let verdict = orphans.update(orphans: unknown, knownJobs: matched, now: clock,
                                     grace: settings.orphanGraceSeconds, massThreshold: settings.massOrphanThreshold,
                                     storeClean: storeClean)
        report(verdict)
        return Planner.orphanCancels(unknown, now: now, cancelNotBefore: cancelNotBefore,
                                     orphanDue: { verdict.due.contains(Planner.jobKey($0.ref)) }) + actions
    }

    /// The event path: reconciles one pod key against the last resync's view of
    /// its jobs, in O(1). Backend actions start but are not waited for; their
    /// outcomes come back through `complete` and re-enqueue the key.
    func reconcileKey(_ uid: String) async {
        guard !isStopping, let rec = await store.record(uid) else { return }
        recordsVisited += 1
        var advance: [String: Date] = [:]
        if let b = advanceBackoff[uid] { advance[uid] = b.notBefore }
        let jobs = (observed[uid].map { [$0] } ?? []) + (otherJobs[uid] ?? [])
        let actions = Planner.planKey(rec, jobs: jobs, now: Date(), settings: settings,
                                      advanceNotBefore: advance)
        let early = await execute(actions, wait: 0)
        await complete(early)
    }

    /// Orphans: one log line per newly seen job, a loud error when collection
    /// is refused, and the gauges.
    func report(_ v: OrphanTracker.Verdict) {
        for o in v.newlySeen {
            Log.warn("backend job of a pod this instance does not know; left alone until the orphan grace window ends",
                     ["uid": o.podUID, "namespace": o.namespace, "name": o.name, "jobID": o.jobID,
                      "attempt": String(o.attempt), "graceSeconds": String(settings.orphanGraceSeconds)])
        }
        if let r = v.refusal, orphanRefusal == nil {
            Log.error("refusing to collect orphan jobs: nothing is cancelled until this is resolved (restore the state directory, or recreate the pods)",
                      ["reason": r, "pending": String(v.pending), "dir": settings.stateDirectory])
        } else if v.refusal == nil, orphanRefusal != nil {
            Log.info("orphan collection resumed", ["pending": String(v.pending)])
        }
        orphanRefusal = v.refusal
        metricsRegistry.setOrphans(pending: v.pending, refused: v.refusal != nil)
    }

    /// Record events are made durable first (terminal states, adoptions,
    /// restarts), then the backend actions not already running start, each in
    /// its own task behind `slots`. Answers the outcomes that arrived within
    /// `wait` seconds; later ones complete themselves (`completeLate`).
    func execute(_ actions: [Action], wait: Double) async -> [ActionOutcome] {
        var events: [(uid: String, event: PodEvent)] = []
        var abandoned: [(uid: String, ref: JobRef)] = []
        var work: [Action] = []
        for a in actions {
            switch a {
            case .record(let uid, let e):
                events.append((uid, e))
            case .abandon(let uid, let ref):
                if inFlight.contains("forget:" + uid) { continue }
                abandoned.append((uid, ref)); events.append((uid, .forgotten))
            default:
                guard let key = a.flightKey, !inFlight.contains(key) else { continue }
                // A pod deleted while its create still runs is forgotten after that create ends.
                if case .forget(let uid, _) = a, inFlight.contains("create:" + uid) { continue }
                work.append(a)
            }
        }
        if !events.isEmpty {
            var lastErrors: [String: String] = [:]
            for a in abandoned { lastErrors[a.uid] = await store.record(a.uid)?.lastCleanupError ?? "" }
            // Batches of at most 1,024 events: still one fsync per batch, but a resync
            // that sees every pod change at once does not build one journal buffer
            // (nor one result map, nor one map of new statuses) the size of every pod.
            for start in stride(from: 0, to: events.count, by: 1024) {
                let batch = events[start..<min(events.count, start + 1024)]
                guard let touched = try? await persist(Array(batch)) else { return [] }
                for e in batch { note(e.event.actionKind, (touched[e.uid] ?? nil)?.pod, e.uid, detail(e.event)) }
                updateStatuses(touched)
            }
            for a in abandoned {
                metricsRegistry.workspaceLeaked()
                Log.error("the pod's files could not be removed; recording the leak and forgetting the pod",
                          PodLogFields.of(a.ref.pod ?? Pod(metadata: ObjectMeta(name: a.ref.name, namespace: a.ref.namespace, uid: a.uid)),
                                         ["action": "abandon", "tries": String(settings.maxCleanupAttempts),
                                          "error": lastErrors[a.uid] ?? ""]))
                dropCaches(a.uid)
            }
        }
        guard !work.isEmpty else { return [] }
        for a in work { if let k = a.flightKey { inFlight.insert(k) } }
        let batch = ActionBatch(count: work.count)
        for a in work { Task { await self.perform(a, batch: batch) } }
        if wait > 0 { await batch.done.wait(timeout: wait) }
        return batch.detach()
    }

    /// Runs one backend action once a slot is free. After `actionWaitSeconds`
    /// it gives its slot back while it keeps running, so one slow action (a
    /// delete waiting out a long grace period) does not hold up other pods'.
    nonisolated func perform(_ a: Action, batch: ActionBatch) async {
        let id = await slots.acquire()
        let o = await run(a)
        slots.release(id)
        if batch.finish(o) { await completeLate(o) }
    }

    nonisolated func run(_ a: Action) async -> ActionOutcome {
        let provider = self.provider, metrics = metricsRegistry
        switch a {
        case .create(let uid, let attempt):
            // Read again: a /delete may have been recorded since the plan.
            guard let rec = await store.record(uid), rec.attempt == attempt, rec.desired, rec.failed == nil else {
                return .skipped(key: "create:" + uid)
            }
            return await Self.create(rec, provider, metrics)
        case .cancel(let ref, let reason):
            return await Self.cancel(ref, reason, provider, metrics)
        case .forget(let uid, let ref):
            return await Self.cleanup(uid, ref, provider, metrics)
        case .advance(let ref, let ids):
            return await Self.advance(ref, ids, provider, metrics)
        case .record(let uid, _), .abandon(let uid, _):
            return .skipped(key: "record:" + uid)
        }
    }

    /// Applies action outcomes durably, updates the statuses they touch, and
    /// re-enqueues their keys (after the backoff when they failed).
    func complete(_ outcomes: [ActionOutcome]) async {
        guard !outcomes.isEmpty else { return }
        var followUp: [(uid: String, event: PodEvent)] = []
        var requeue: [String] = []
        var failedCreates: [String] = []
        var delayed: [(String, Double)] = []
        let now = Date()
        for o in outcomes {
            inFlight.remove(o.flightKey)
            switch o {
            case .created(let uid, let attempt, let jobID):
                followUp.append((uid, .created(attempt: attempt, jobID: jobID))); requeue.append(uid)
            case .createFailed(let uid, _, .resourcesExhausted(_)):
                // The server ran out of descriptors or memory: not the pod's failure, so it is
                // not recorded (nor counted against MaxCreateAttempts); the create is tried again.
                delayed.append((uid, settings.backoff(failures: 1)))
            case .createFailed(let uid, let attempt, let e):
                followUp.append((uid, .createFailed(attempt: attempt, reason: e.waitingReason,
                                                    message: e.description, retryable: e.isRetryable)))
                failedCreates.append(uid)
            case .cancelled(let ref):
                cancelBackoff[Planner.jobKey(ref)] = nil
                if let r = await store.record(ref.podUID), (r.cancelFailures ?? 0) > 0 {
                    followUp.append((ref.podUID, .cancelSucceeded))
                }
            case .cancelFailed(let ref, let message):
                if let r = await store.record(ref.podUID) {
                    // The backoff of a known pod is durable, in its record.
                    followUp.append((ref.podUID, .cancelFailed(message: message)))
                    delayed.append((ref.podUID, settings.backoff(failures: (r.cancelFailures ?? 0) + 1)))
                } else {
                    let key = Planner.jobKey(ref)
                    let n = (cancelBackoff[key]?.failures ?? 0) + 1
                    cancelBackoff[key] = (n, now.addingTimeInterval(settings.backoff(failures: n)))
                }
            case .cleanedUp(let uid):
                followUp.append((uid, .forgotten))
                dropCaches(uid)
            case .cleanupFailed(let uid, let message):
                // Retried by the resync once the (durable) backoff has passed.
                followUp.append((uid, .cleanupFailed(message: message)))
            case .advanced(let uid, let ids):
                advanceBackoff[uid] = nil
                clearDue(uid, ids)
            case .advanceFailed(let uid):
                let n = (advanceBackoff[uid]?.failures ?? 0) + 1
                let delay = settings.backoff(failures: n)
                advanceBackoff[uid] = (n, now.addingTimeInterval(delay))
                delayed.append((uid, delay))
            case .skipped:
                break
            }
        }
        if !followUp.isEmpty, let touched = try? await persist(followUp) {
            updateStatuses(touched)
            for uid in failedCreates {
                if let r = touched[uid] ?? nil { delayed.append((uid, settings.backoff(failures: r.createFailures))) }
            }
        }
        for uid in requeue { queue.add(uid) }
        for (uid, d) in delayed { queue.add(uid, after: d) }
        // A burst of actions (10,000 creates) does not keep its capacity once done.
        if inFlight.isEmpty && inFlight.capacity > 1024 { inFlight = [] }
    }

    /// An outcome that arrived after its tick (or key) stopped waiting.
    func completeLate(_ outcome: ActionOutcome) async {
        await complete([outcome])
    }

    /// New statuses for the records `touched` (nil: forgotten).
    func updateStatuses(_ touched: [String: PodRecord?]) {
        var changes: [String: PodStatus?] = [:]
        recordsVisited += touched.count
        observed.withMap { obs in
            for (uid, r) in touched { changes[uid] = .some(r.map { StatusMapper.status($0, observation: obs[uid]) }) }
        }
        statusView.update(changes)
    }

    func dropCaches(_ uid: String) {
        observed.set(uid, nil); otherJobs[uid] = nil; advanceBackoff[uid] = nil
    }

    /// The containers just started are no longer due (the next resync says what is).
    func clearDue(_ uid: String, _ ids: [String]) {
        let started = Set(ids)
        observed.modify(uid) { $0.dueToStart.removeAll { started.contains($0) } }
        if var jobs = otherJobs[uid] {
            for i in jobs.indices { jobs[i].dueToStart.removeAll { started.contains($0) } }
            otherJobs[uid] = jobs
        }
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
}

extension PodEvent {
    var actionKind: String { Action.record(uid: "", self).kind }
}

/// What one resync saw of a record and concluded: the record and its current
/// job's observation (kept, so "the very same" is a pointer check that cannot
/// be fooled by a reused address), and whether their plan was empty whatever
/// the time. Loop-private; rebuilt by the first resync after a start.
struct ResyncMemo {
    var record: PodRecord?
    var observation: JobObservation?
    var quiet = false
}

/// Each pod's first job in one observe, by record slot and by pod UID, the
/// rare further ones, and the jobs of pods with no record. Built afresh only
/// when the provider's answer or the store's slots changed shape: when the
/// provider lists the same pods in the same order as the last resync (a steady
/// backend; providers report an unchanged job with the very same observation)
/// and no record came or went, the last index is reused, with only the changed
/// observations written in. Building it costs a hash or two per pod; reusing
/// it costs a pointer comparison per pod, read in order.
struct ResyncIndex {
    struct Index {
        /// The first job of the pod in each record slot (nil: none), as `RecordTable.slots`.
        var bySlot: ContiguousArray<JobObservation?>
        var first: [String: JobObservation]
        var more: [String: [JobObservation]]
        /// Jobs whose pod has no record (orphans, judged by the caller).
        var unknown: [JobObservation]
    }

    private var last: [JobObservation] = []
    private var first: [String: JobObservation] = [:]
    private var bySlot: ContiguousArray<JobObservation?> = []
    /// The record slot of each of `last` (-1: no record), and where those without one are.
    private var slotOfLast: [Int32] = []
    private var unknownAt: [Int] = []
    private var layout: UInt64?
    private var lastHadMore = true
    /// Resyncs that reused the last index (for tests).
    private(set) var reused = 0

    mutating func index(_ observations: [JobObservation], records: RecordTable) -> Index {
        if !lastHadMore, layout == records.layout, observations.count == last.count,
           zip(observations, last).allSatisfy({ $0.isIdentical(to: $1) || $0.podUID == $1.podUID }) {
            for i in observations.indices where !observations[i].isIdentical(to: last[i]) {
                let o = observations[i]
                first[o.podUID] = o
                if slotOfLast[i] >= 0 { bySlot[Int(slotOfLast[i])] = o }
            }
            last = observations
            reused += 1
            return Index(bySlot: bySlot, first: first, more: [:], unknown: unknownAt.map { observations[$0] })
        }
        var map: [String: JobObservation] = [:]
        map.reserveCapacity(observations.count)
        var more: [String: [JobObservation]] = [:]
        var slots = ContiguousArray<JobObservation?>(repeating: nil, count: records.slots.count)
        slotOfLast = []
        slotOfLast.reserveCapacity(observations.count)
        unknownAt = []
        for (i, o) in observations.enumerated() {
            if let earlier = map.updateValue(o, forKey: o.podUID) {
                map[o.podUID] = earlier
                more[o.podUID, default: []].append(o)
            }
            if let s = records.slot(of: o.podUID) {
                slotOfLast.append(Int32(s))
                if slots[s] == nil { slots[s] = o }
            } else {
                slotOfLast.append(-1)
                unknownAt.append(i)
            }
        }
        last = observations
        first = map
        bySlot = slots
        layout = records.layout
        lastHadMore = !more.isEmpty
        return Index(bySlot: slots, first: map, more: more, unknown: unknownAt.map { observations[$0] })
    }
}
