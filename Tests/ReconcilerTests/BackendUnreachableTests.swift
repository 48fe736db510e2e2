import FoundationEssentials
import Model
import Providers
@testable import Reconciler
import Testing

/// While the backend cannot be observed, /status keeps the last known state and says so.
@Suite struct BackendUnreachableTests {
    @Test func statusKeepsTheLastStateAndSaysTheBackendIsUnreachableUntilItAnswersAgain() async throws {
        let p = FaultInjectingProvider()
        let r = try await Reconciler(provider: p, settings: Fx.settings(Fx.tempDir()))
        _ = try await r.create(Fx.request(1))
        await r.tickOnce(); await r.tickOnce()
        let before = await r.status([Fx.pod(1)])[0]
        let started = try #require(before.containers.first?.state.running, "\(before)")
        #expect(before.message == nil)
        let changes = r.statusView.changes()

        p.failObserves("connection refused by sidecar")
        await r.tickOnce()
        let down = await r.status([Fx.pod(1)])[0]
        #expect(down.containers.first?.state.running == started, "last known state kept: \(down)")
        #expect(down.containers.first?.ready == false)
        let message = try #require(down.message)
        #expect(message.contains("unreachable") && message.contains("connection refused by sidecar"), "\(message)")
        // The patcher's stream hears of it too, once, not on every failing tick.
        await r.tickOnce()
        var it = changes.makeAsyncIterator()
        let published = try #require(await it.next())
        #expect(published[Fx.uid(1)]??.message == message)

        p.failObserves(nil)
        await r.tickOnce()
        let back = await r.status([Fx.pod(1)])[0]
        #expect(back.message == nil, "mark cleared on the next successful observe: \(back)")
        #expect(back.containers.first?.state.running != nil)
        let cleared = try #require(await it.next())
        #expect(cleared[Fx.uid(1)]??.message == nil)
    }

    @Test func withSeveralBackendsOnlyThePodsOfTheFailingOneAreMarked() {
        func st(_ jid: String) -> PodStatus {
            PodStatus(name: "p", UID: jid, namespace: "default", JID: jid,
                      containers: [ContainerStatus(name: "main", ready: true, state: .running(since: nil))])
        }
        let marks = ["slurm/": "backend slurm unreachable"]
        #expect(StatusMapper.marked(st("slurm/42"), marks).message == "backend slurm unreachable")
        #expect(StatusMapper.marked(st("docker/abc"), marks) == st("docker/abc"))
        #expect(StatusMapper.marked(st("docker/abc"), ["": "backend x unreachable"]).message != nil)
    }
}
