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
        // The patcher's stream hears of it too, once, not on every failing tick, even
        // when the next failing tick falls in a later second (the mark's time is the
        // outage's start: a fresh one per tick republished every pod).
        let second = Date().timeIntervalSince1970.rounded(.down)
        while Date().timeIntervalSince1970 < second + 1 { try await Task.sleep(for: .milliseconds(20)) }
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

    /// The mark says when the failures began: a failing tick in a later second
    /// must not change it (every pod would be republished, and patched, each second).
    @Test func theMarkKeepsWhenTheFailuresBeganWhileTheyLast() {
        let p = FaultInjectingProvider()
        struct Down: Error, CustomStringConvertible { var description: String { "connection refused" } }
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var since: [String: Date] = [:]
        let first = StatusMapper.unreachable(Down(), provider: p, since: &since, now: t0)
        let later = StatusMapper.unreachable(Down(), provider: p, since: &since, now: t0 + 7)
        #expect(first == later, "the mark changed while the backend stayed down: \(first) then \(later)")
        #expect(first[""]?.contains(RFC3339.string(t0)) == true, "\(first)")
        // Reachable again, then down again: a new outage, a new time.
        since = [:]
        let again = StatusMapper.unreachable(Down(), provider: p, since: &since, now: t0 + 60)
        #expect(again[""]?.contains(RFC3339.string(t0 + 60)) == true, "\(again)")
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
