import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

@Suite struct ReconcilerBehaviourTests {
    func make(_ p: FaultInjectingProvider, _ dir: String = Fx.tempDir()) async throws -> Reconciler {
        try await Reconciler(provider: p, settings: Fx.settings(dir))
    }

    @Test func observeIsCalledOncePerTickWhateverTheNumberOfPods() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        for n in 0..<100 { _ = try await r.create(Fx.request(n)) }
        await r.tickOnce()
        #expect(p.observeCalls == 1)
        #expect(p.mock.jobs.count == 100)
        let before = p.commandCount
        await r.tickOnce(); await r.tickOnce()
        #expect(p.observeCalls == 3)
        // At steady state a tick is one backend command, not one per pod.
        await r.tickOnce()
        #expect(p.commandCount - before <= 2 + 1)
    }

    @Test func aPodNeverCreatedHasIdentityAndNoContainers() async throws {
        let r = try await make(FaultInjectingProvider())
        let s = await r.status([Fx.pod(5)])
        #expect(s == [PodStatus(name: "pod-5", UID: Fx.uid(5), namespace: "default")])
    }

    @Test func aNewPodShowsContainerCreatingBeforeItIsObserved() async throws {
        let r = try await make(FaultInjectingProvider())
        let created = try await r.create(Fx.request(1))
        #expect(created.PodUID == Fx.uid(1))
        let c = await r.status([Fx.pod(1)])[0].containers
        #expect(c.map(\.name) == ["main"])
        #expect(c.first?.state.waiting?.reason == "ContainerCreating")
    }

    @Test func statusAnswersWhileATickIsStuckOnTheBackend() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        _ = try await r.create(Fx.request(1))
        p.holdObserve(true)
        let tick = Task { await r.tickOnce() }
        while !p.isHoldingObserve { await Task.yield() }
        // The backend hangs; the API must still answer and accept new intent.
        #expect(await r.status([Fx.pod(1)])[0].containers.first?.state.waiting != nil)
        _ = try await r.create(Fx.request(2))
        #expect(await r.status([Fx.pod(2)])[0].containers.count == 1)
        p.holdObserve(false)
        await tick.value
    }

    @Test func aSlowCreateDoesNotHoldUpOtherPodsAndIsNotStartedTwice() async throws {
        let p = FaultInjectingProvider()
        var settings = Fx.settings(Fx.tempDir())
        settings.actionWaitSeconds = 0
        let r = try await Reconciler(provider: p, settings: settings)
        p.holdCreates(of: Fx.uid(1))
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()                       // returns although pod 1's create hangs
        while !p.isHoldingCreate { await Task.yield() }
        _ = try await r.create(Fx.request(2))
        await r.tickOnce(); await r.tickOnce()
        while await r.status([Fx.pod(2)])[0].JID.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(p.createCalls(of: Fx.uid(1)) == 1, "a create still running is not started again")
        p.releaseCreates()
        while await r.status([Fx.pod(1)])[0].JID.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        await r.tickOnce()
        #expect(await r.status([Fx.pod(1)])[0].containers.first?.state.running != nil)
        #expect(p.mock.jobs.count == 2)
    }

    @Test func logsOfAnUnknownPodOrContainerAreNotFound() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        await #expect(throws: PodAPIError.notFound("no pod with UID \(Fx.uid(9)) is known to this InterLink")) {
            _ = try await r.logs(LogStruct(Namespace: "default", PodUID: Fx.uid(9), PodName: "pod-9", ContainerName: "main"))
        }
        do {
            _ = try await r.logs(LogStruct(Namespace: "default", PodUID: Fx.uid(1), PodName: "pod-1", ContainerName: "nope"))
            Issue.record("unknown container accepted")
        } catch { #expect(error.httpStatus == 404) }
        var text = ""
        for try await chunk in try await r.logs(LogStruct(Namespace: "default", PodUID: Fx.uid(1), PodName: "pod-1", ContainerName: "main")) {
            text += String(decoding: chunk, as: UTF8.self)
        }
        #expect(text.contains("hello from main (busybox)"))
    }

    @Test func metricsReportPhasesTicksCommandsAndActions() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce(); await r.tickOnce()
        let m = await r.metrics()
        #expect(m.contains("interlink_pods{phase=\"Running\"} 1"))
        #expect(m.contains("interlink_reconcile_tick_seconds_count 2"))
        #expect(m.contains("interlink_backend_commands_total{provider=\"faulty-mock\",command=\"observe\"} 2"))
        #expect(m.contains("interlink_actions_total{action=\"create\"} 1"))
    }

    @Test func backendErrorsAreCountedByKind() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        p.failNextCreates(1)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        #expect(await r.metrics().contains("interlink_backend_errors_total{provider=\"faulty-mock\",command=\"create\",kind=\"backend\"} 1"))
    }

    @Test func theLoopActsRightAfterACreateAndStopsWhenAsked() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)   // interval: one hour
        let loop = Task { await r.run() }
        while !(await r.isReady()) { await Task.yield() }
        _ = try await r.create(Fx.request(1))
        // Woken by the create, not by the (hour-long) interval.
        while p.mock.jobs.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        await r.stop()
        await loop.value
        #expect(p.mock.jobs.count == 1)
        await #expect(throws: PodAPIError.self) { _ = try await r.create(Fx.request(2)) }
    }

    @Test func aCreateWithoutUIDIsRejected() async throws {
        let r = try await make(FaultInjectingProvider())
        await #expect(throws: PodAPIError.self) {
            _ = try await r.create(PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: "x", namespace: "default"))))
        }
    }

    @Test func repeatingACreateDoesNotDuplicateTheJob() async throws {
        let p = FaultInjectingProvider(), r = try await make(p)
        _ = try await r.create(Fx.request(1))
        await r.tickOnce()
        let again = try await r.create(Fx.request(1))
        await r.tickOnce()
        #expect(again.PodJID == p.mock.jobs.first?.jobID)
        #expect(p.mock.jobs.count == 1)
        #expect(p.createCalls == 1)
    }
}
