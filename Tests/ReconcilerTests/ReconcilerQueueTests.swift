import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

/// The event path (keyed work queue), the orphan gate, slow actions, cleanup
/// leaks and the advance action, through the real reconciler.
@Suite struct ReconcilerQueueTests {
    func make(_ p: FaultInjectingProvider, _ dir: String = Fx.tempDir(),
              _ tweak: (inout ReconcilerSettings) -> Void = { _ in }) async throws -> Reconciler {
        var s = Fx.settings(dir)
        tweak(&s)
        return try await Reconciler(provider: p, settings: s)
    }

    @Test func aCreateReconcilesItsOwnKeyAndVisitsNoOtherRecord() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        try await r.seed((0..<1000).map { Fx.request($0) })
        await r.tickOnce()                     // the resync: visits every record
        #expect(await r.recordsVisited >= 1000)
        _ = r.queue.take(max: 100_000)          // drop the seeded keys (the resync covered them)
        try await eventually { await r.inFlightCount == 0 }
        _ = r.queue.take(max: 100_000)          // and those the creates' outcomes re-enqueued
        let before = await r.recordsVisited
        _ = try await r.create(Fx.request(5000))
        let (keys, _) = r.queue.take(max: 10)
        #expect(keys == [Fx.uid(5000)], "the create enqueued its key only")
        for k in keys { await r.reconcileKey(k) }
        try await eventually { await !r.status([Fx.pod(5000)])[0].JID.isEmpty }
        #expect(p.mock.jobs.count == 1001)
        let visited = await r.recordsVisited - before
        // The create's status, its plan and its outcome's status: a constant, not 1,000.
        #expect(visited <= 4, "a create visited \(visited) records")
        #expect(p.createCalls(of: Fx.uid(5000)) == 1)
    }

    /// The resync plans every record once; statuses are rebuilt only for pods
    /// whose observation changed (a steady backend rebuilds none), and only the
    /// pod that changed is published to the status view's subscribers.
    @Test func aSteadyResyncPlansEachRecordOnceAndRebuildsOnlyChangedStatuses() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        try await r.seed((0..<200).map { Fx.request($0) })
        await r.tickOnce()                      // creates
        try await eventually { await r.inFlightCount == 0 && p.mock.jobs.count == 200 }
        await r.tickOnce(); await r.tickOnce()  // observed running, recorded as seen
        var before = await r.recordsVisited
        await r.tickOnce()
        #expect(await r.recordsVisited - before == 200, "a steady resync: one plan per record, no status rebuilt")
        // Each record is the very one of the last resync, against the very same
        // observation, with a plan that was empty whatever the time: none is planned again.
        #expect(await r.loop.quietSkipped == 200)

        let changes = r.statusView.changes()
        try await p.mock.delete(JobRef(podUID: Fx.uid(7), namespace: "default", name: "pod-7", jobID: "", attempt: 0))
        before = await r.recordsVisited
        await r.tickOnce()                      // pod 7's job is gone: re-created (restartPolicy Always)
        #expect(await r.recordsVisited - before <= 200 + 4, "the plan, and pod 7's statuses only")
        #expect(await r.loop.quietSkipped == 199, "pod 7, whose job vanished, is planned again")
        #expect(p.createCalls(of: Fx.uid(7)) == 2)
        var it = changes.makeAsyncIterator()
        let first = await it.next()
        #expect(first.map { Set($0.keys) } == [Fx.uid(7)])
    }

    /// Issue 16: the VK's delete carries the pod's deletionGracePeriodSeconds;
    /// the backend stop uses it (bounded), not the spec's 120 s; without one, the spec's.
    @Test(arguments: [(Int64?.some(5), 5), (.some(1 << 40), Int(PodBounds.maxGracePeriodSeconds)), (.some(-3), 0), (nil, 120)])
    func aDeleteWithItsOwnGracePeriodStopsTheJobWithIt(grace: Int64?, expected: Int) async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        var req = Fx.request(1)
        req.pod.spec?.terminationGracePeriodSeconds = 120
        _ = try await r.create(req)
        await r.tickOnce()                      // creates
        try await eventually { await r.inFlightCount == 0 && p.mock.jobs.count == 1 }
        await r.tickOnce()                      // observes it running
        try await r.delete(req.pod, gracePeriodSeconds: grace)
        await r.tickOnce()                      // cancels it
        try await eventually { !p.deleted.isEmpty }
        #expect(p.deleted.first?.gracePeriodSeconds == expected)
        if grace != nil {
            await r.stop()
            let again = try await make(p, r.settings.dataRoot)   // durable: journaled with the delete
            #expect(await again.store.record(Fx.uid(1))?.stopGracePeriodSeconds == expected)
        }
    }

    @Test func theWorkerCreatesAndDeletesWithoutWaitingForAResync() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)   // interval: one hour
        let loop = Task { await r.run() }
        try await eventually { r.metricsRegistry.tickCount >= 1 }
        _ = try await r.create(Fx.request(1))
        try await eventually { await !r.status([Fx.pod(1)])[0].JID.isEmpty }
        try await r.delete(Fx.pod(1))
        try await eventually { !p.deleted.isEmpty }
        #expect(p.mock.jobs.isEmpty)
        #expect(p.observeCalls == 1, "no resync ran: the keys were reconciled on their own")
        await r.stop(); await loop.value
    }

    @Test func anUnknownJobIsReportedButNotCancelledWithinTheGraceWindow() async throws {
        let p = FaultInjectingProvider()
        let r = try await make(p) { $0.orphanGraceSeconds = 3600 }
        p.injectOrphan(uid: Fx.uid(77))
        await r.tickOnce(); await r.tickOnce()
        #expect(p.deleted.isEmpty)
        #expect(r.metricsRegistry.orphansPending == 1)
        #expect(await r.metrics().contains("interlink_orphans_pending 1"))
    }

    @Test func anOrphanIsCancelledOnceItStayedUnknownForTheGraceWindow() async throws {
        let p = FaultInjectingProvider()
        let r = try await make(p) { $0.orphanGraceSeconds = 0.2 }
        p.injectOrphan(uid: Fx.uid(77))
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        #expect(p.deleted.isEmpty, "first sight starts the window")
        try await Task.sleep(for: .milliseconds(250))
        await r.tickOnce()
        #expect(p.deleted.map(\.jobID) == ["orphan-job"])
        #expect(r.metricsRegistry.orphansPending == 0)
    }

    @Test func manyUnknownJobsAndFewKnownOnesAreARefusalNotAPurge() async throws {
        let p = FaultInjectingProvider()
        let r = try await make(p) { $0.orphanGraceSeconds = 0 }
        for n in 100..<112 { p.injectOrphan(uid: Fx.uid(n)) }
        _ = try await r.create(Fx.request(1))
        await r.tickOnce(); await r.tickOnce()
        #expect(p.deleted.isEmpty, "12 unknown jobs against 1 known one look like a lost state directory")
        #expect(r.metricsRegistry.orphanCollectionRefused)
        #expect(await r.metrics().contains("interlink_orphan_collection_refused 1"))
        #expect(r.metricsRegistry.orphansPending == 12)
    }

    @Test func aSlowDeleteDoesNotHoldASlotWhileOtherPodsAreCreated() async throws {
        let p = FaultInjectingProvider()
        let r = try await make(p) { $0.maxParallelActions = 1; $0.actionWaitSeconds = 0.05 }
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        p.holdDeletes(of: Fx.uid(1))
        try await r.delete(Fx.pod(1))
        await r.tickOnce()                      // the cancel starts and hangs (a long grace period)
        try await eventually { p.isHoldingDelete }
        _ = try await r.create(Fx.request(2))
        await r.tickOnce()                      // one slot, held by the hanging delete: the create still runs
        try await eventually { !p.mock.jobs.filter({ $0.podUID == Fx.uid(2) }).isEmpty }
        #expect(p.isHoldingDelete)
        p.releaseDeletes()
    }

    @Test func aWorkspaceThatCannotBeRemovedIsRecordedAsALeakAndThePodForgotten() async throws {
        let p = FaultInjectingProvider(), dir = Fx.tempDir()
        let r = try await make(p, dir) { $0.maxCleanupAttempts = 3 }
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        p.failCleanups("rm: cannot remove 'out/root-owned': Permission denied")
        try await r.delete(Fx.pod(1))
        for _ in 0..<8 { await r.tickOnce() }
        #expect(p.cleanupCalls == 3, "cleanup was tried maxCleanupAttempts times, not forever")
        #expect(await r.store.record(Fx.uid(1)) == nil, "the pod is not pinned")
        #expect(await r.status([Fx.pod(1)])[0].containers.isEmpty)
        #expect(await r.metrics().contains("interlink_workspace_leaks_total 1"))
        await r.stop()
        #expect(try await make(p, dir).store.count == 0, "forgotten durably")
    }

    @Test func cleanupFailuresAreCountedInTheRecordAndSurviveARestart() async throws {
        let p = FaultInjectingProvider(), dir = Fx.tempDir()
        let r = try await make(p, dir) { $0.maxCleanupAttempts = 5 }
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        p.failCleanups("busy")
        try await r.delete(Fx.pod(1))
        await r.tickOnce(); await r.tickOnce(); await r.tickOnce()
        await r.stop()
        let again = try await make(p, dir) { $0.maxCleanupAttempts = 5 }
        #expect(await again.store.record(Fx.uid(1))?.cleanupFailures == p.cleanupCalls)
        #expect(p.cleanupCalls >= 2)
    }

    @Test func dueContainersAreStartedByTheAdvanceActionAndAFailureIsRetriedWithoutFailingThePod() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        p.setDue(Fx.uid(1), ["ctr-main"])
        p.failNextAdvances(1)
        await r.tickOnce()                      // the advance fails
        #expect(p.advanced.isEmpty)
        #expect(await r.store.record(Fx.uid(1))?.failed == nil)
        await r.tickOnce()                      // retried (backoff 0 in these settings)
        #expect(p.advanced.map(\.1) == [["ctr-main"]])
        await r.tickOnce()
        #expect(p.advanced.count == 1, "nothing due any more: not started again")
        #expect(r.metricsRegistry.actionCount("advance") == 2)
    }

    /// Polls `condition` (every 5 ms) and fails the test after `timeout` seconds instead of hanging.
    func eventually(_ timeout: Double = 20, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while !(await condition()) {
            guard ContinuousClock.now < deadline else { Issue.record("condition not met in \(timeout) s"); throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
