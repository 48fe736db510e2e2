import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

/// The self-healing cases of the issue, end to end through the reconciler and a
/// fault-injecting mock backend. Ticks are driven by hand (`tickOnce`).
@Suite struct ReconcilerHealingTests {
    func make(_ p: FaultInjectingProvider, _ dir: String, maxCreateAttempts: Int = 5) async throws -> Reconciler {
        try await Reconciler(provider: p, settings: Fx.settings(dir, maxCreateAttempts: maxCreateAttempts))
    }

    func status(_ r: Reconciler, _ n: Int) async -> PodStatus { await r.status([Fx.pod(n)])[0] }

    func jobs(_ p: FaultInjectingProvider, _ n: Int) -> [MockJob] { p.mock.jobs.filter { $0.podUID == Fx.uid(n) } }

    @Test func aBackendThatForgetsEverythingGetsItsPodsBackPerRestartPolicy() async throws {
        let p = FaultInjectingProvider(), r = try await make(p, Fx.tempDir())
        _ = try await r.create(Fx.request(1, restart: .always))
        _ = try await r.create(Fx.request(2, restart: .onFailure))
        _ = try await r.create(Fx.request(3, restart: .never))
        await r.tickOnce()   // creates
        await r.tickOnce()   // sees them running
        #expect(await status(r, 1).containers.first?.state.running != nil)

        p.forgetAll()        // the sidecar restarted and lost every job
        await r.tickOnce()
        await r.tickOnce()

        for n in [1, 2] {
            #expect(jobs(p, n).count == 1, "exactly one job, no duplicate")
            #expect(jobs(p, n).first?.attempt == 1)
            let c = try #require(await status(r, n).containers.first)
            #expect(c.state.running != nil)
            #expect(c.restartCount == 1)
            #expect(c.lastState.terminated?.reason == "BackendLost")
        }
        #expect(jobs(p, 3).isEmpty)
        let never = try #require(await status(r, 3).containers.first?.state.terminated)
        #expect(never.reason == "BackendLost")
        #expect(never.exitCode != 0)
        #expect(PodPhase.derive(from: await status(r, 3).containers) == .failed)
    }

    @Test func aRestartedInterLinkAdoptsTheJobsItFindsInsteadOfDuplicatingThem() async throws {
        let dir = Fx.tempDir(), p = FaultInjectingProvider()
        let r1 = try await make(p, dir)
        for n in 1...3 { _ = try await r1.create(Fx.request(n)) }
        await r1.tickOnce(); await r1.tickOnce()
        await r1.stop()   // (a kill -9 would leave the same journal: every write is fsynced)
        let creates = p.createCalls

        let r2 = try await make(p, dir)
        #expect(await status(r2, 2).containers.first?.state.running != nil, "status is known before any tick")
        await r2.tickOnce(); await r2.tickOnce()
        #expect(p.createCalls == creates)
        #expect(p.mock.jobs.count == 3)
        #expect(await status(r2, 2).JID == jobs(p, 2).first?.jobID)
    }

    @Test func aJobCarryingOurLabelsThatNobodyWantsIsCancelled() async throws {
        let p = FaultInjectingProvider(), r = try await make(p, Fx.tempDir())
        p.injectOrphan(uid: Fx.uid(77))
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        #expect(p.deleted.map(\.jobID) == ["orphan-job"])
        #expect(jobs(p, 77).isEmpty)
        #expect(jobs(p, 1).count == 1)
    }

    @Test func aFinishedJobThatVanishesStillReportsItsExitCode() async throws {
        let p = FaultInjectingProvider(runSeconds: 0), r = try await make(p, Fx.tempDir())
        _ = try await r.create(Fx.request(1, restart: .always, annotations: [MockProvider.exitCodeAnnotation: "3"]))
        await r.tickOnce()   // create
        await r.tickOnce()   // sees it finished, records it
        p.vanish(Fx.uid(1))
        await r.tickOnce(); await r.tickOnce()
        let t = try #require(await status(r, 1).containers.first?.state.terminated)
        #expect(t.exitCode == 3)
        #expect(t.finishedAt != nil)
        #expect(p.createCalls == 1, "a finished pod is not re-created")
    }

    @Test func aCreateThatFailsThreeTimesThenSucceedsEndsRunning() async throws {
        let p = FaultInjectingProvider(), r = try await make(p, Fx.tempDir(), maxCreateAttempts: 5)
        p.failNextCreates(3, message: "slurmctld not responding")
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        let waiting = try #require(await status(r, 1).containers.first?.state.waiting)
        #expect(waiting.reason == "ProviderFailed")
        #expect(waiting.message?.contains("slurmctld not responding") == true)
        for _ in 0..<4 { await r.tickOnce() }
        #expect(p.createCalls == 4)
        #expect(await status(r, 1).containers.first?.state.running != nil)
        #expect(jobs(p, 1).count == 1)
    }

    @Test func aCreateThatAlwaysFailsEndsFailedWithTheBackendMessage() async throws {
        let p = FaultInjectingProvider(), r = try await make(p, Fx.tempDir(), maxCreateAttempts: 3)
        p.alwaysFailCreates("partition gpu does not exist")
        _ = try await r.create(Fx.request(1))
        for _ in 0..<6 { await r.tickOnce() }
        #expect(p.createCalls == 3)
        let s = await status(r, 1)
        let t = try #require(s.containers.first?.state.terminated)
        #expect(t.reason == "ProviderFailed")
        #expect(t.message?.contains("partition gpu does not exist") == true)
        #expect(PodPhase.derive(from: s.containers) == .failed)
    }

    @Test func aDeletedPodIsCancelledThenForgotten() async throws {
        let dir = Fx.tempDir(), p = FaultInjectingProvider(), r = try await make(p, dir)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        #expect(jobs(p, 1).count == 1)
        try await r.delete(Fx.pod(1))
        await r.tickOnce()
        #expect(jobs(p, 1).isEmpty)
        #expect(p.deleted.count == 1)
        await r.tickOnce()
        #expect(await r.store.record(Fx.uid(1)) == nil)
        #expect(await status(r, 1).containers.isEmpty)
        await r.stop()
        #expect(try await make(p, dir).store.count == 0, "forgotten durably")
    }

    @Test func deletingAnUnknownPodIsFine() async throws {
        let r = try await make(FaultInjectingProvider(), Fx.tempDir())
        try await r.delete(Fx.pod(42))
        try await r.delete(Pod(metadata: ObjectMeta()))
    }
}
