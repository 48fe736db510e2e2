import FoundationEssentials
import Testing
import Model
@testable import Reconciler

@Suite struct WorkQueueAndStatusViewTests {
    @Test func aKeyQueuedManyTimesIsTakenOnceInOrder() {
        let q = WorkQueue()
        for k in ["a", "b", "a", "c", "b"] { q.add(k) }
        #expect(q.take(max: 10).keys == ["a", "b", "c"])
        #expect(q.take(max: 10).keys.isEmpty)
    }

    /// 10,000 creates queue 10,000 keys at once; once they are worked off the
    /// queue must not keep room for 10,000 for ever (memory per tracked pod).
    @Test func aDrainedBurstGivesItsStorageBack() {
        let q = WorkQueue()
        for i in 0..<5000 { q.add("pod-\(i)") }
        #expect(q.capacity >= 5000)
        var taken = 0
        while true {
            let k = q.take(max: 256).keys
            if k.isEmpty { break }
            taken += k.count
            if taken == 2560 { for i in 0..<100 { q.add("late-\(i)") } }   // keys arriving while it drains
        }
        #expect(taken == 5100)
        #expect(q.capacity <= 2048, "capacity \(q.capacity) after draining")
    }

    @Test func aDelayedKeyWaitsForItsBackoffUnlessQueuedNow() async throws {
        let q = WorkQueue()
        q.add("slow", after: 0.15)
        let first = q.take(max: 10)
        #expect(first.keys.isEmpty)
        #expect((first.nextIn ?? 0) > 0.05)
        try await Task.sleep(for: .milliseconds(200))
        #expect(q.take(max: 10).keys == ["slow"])
        q.add("x", after: 60)
        q.add("x")                       // an event now beats its backoff
        #expect(q.take(max: 10).keys == ["x"])
        #expect(q.count == 0)
    }

    @Test func statusObserversReceiveOnlyWhatChanged() async throws {
        let view = StatusView()
        let a = PodStatus(name: "a", UID: "ua", namespace: "default")
        view.set("ua", a)
        let stream = view.changes()
        view.update(["ua": a])                                   // unchanged: not published
        var b = a; b.JID = "job-1"
        view.update(["ua": b, "ub": PodStatus(name: "b", UID: "ub", namespace: "default")])
        view.set("ub", nil)
        var it = stream.makeAsyncIterator()
        let first = try #require(await it.next())
        #expect(first.count == 2 && first["ua"] == .some(b))
        let second = try #require(await it.next())
        #expect(second.count == 1 && second["ub"] == .some(nil))
    }
}
