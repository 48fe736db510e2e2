import FoundationEssentials
import Model
import Providers
import Testing
@testable import Reconciler

/// The resync's map of each pod's first job, reused while the backend answers
/// the same pods in the same order: what the resync sees must always be this
/// observe's answer, reused or rebuilt.
@Suite struct ResyncIndexTests {
    func job(_ uid: String, attempt: Int = 0) -> JobObservation {
        JobObservation(podUID: uid, jobID: "j-\(uid)-\(attempt)", attempt: attempt, state: .running)
    }

    func table(_ uids: String...) -> RecordTable {
        var t = RecordTable()
        for u in uids { t[u] = record(u) }
        return t
    }

    func record(_ uid: String) -> PodRecord {
        PodRecord(request: PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: uid, namespace: "ns", uid: uid))), at: Date())
    }

    @Test func aSteadyAnswerIsReusedAndAChangedJobIsWrittenIn() {
        var index = ResyncIndex()
        let records = table("a", "b")
        let a = job("a"), b = job("b")
        var r = index.index([a, b], records: records)
        #expect(r.first.count == 2 && r.more.isEmpty && index.reused == 0)
        r = index.index([a, b], records: records)
        #expect(index.reused == 1)
        #expect(r.first["a"]?.isIdentical(to: a) == true && r.first["b"]?.isIdentical(to: b) == true)

        var changed = a
        changed.message = "now finished"
        r = index.index([changed, b], records: records)
        #expect(index.reused == 2)
        #expect(r.first["a"]?.message == "now finished", "the changed observation must be the one the resync sees")
        #expect(r.bySlot[records.slot(of: "a")!]?.message == "now finished")
        #expect(r.bySlot[records.slot(of: "b")!]?.isIdentical(to: b) == true)
        #expect(r.first["b"]?.isIdentical(to: b) == true)
    }

    @Test func aDifferentShapeIsRebuilt() {
        var index = ResyncIndex()
        let records = table("a", "b", "c")
        let a = job("a"), b = job("b"), c = job("c")
        _ = index.index([a, b], records: records)
        // Same count, another pod in b's place: b is gone, c is new.
        var r = index.index([a, c], records: records)
        #expect(index.reused == 0)
        #expect(r.first["b"] == nil && r.first["c"]?.isIdentical(to: c) == true)
        // One fewer.
        #expect(r.bySlot[records.slot(of: "b")!] == nil && r.bySlot[records.slot(of: "c")!]?.isIdentical(to: c) == true)
        r = index.index([c], records: records)
        #expect(r.first.count == 1 && r.first["a"] == nil && r.bySlot[records.slot(of: "a")!] == nil)
        // Reordered: still every pod, rebuilt.
        _ = index.index([a, b], records: records)
        r = index.index([b, a], records: records)
        #expect(r.first.count == 2 && r.first["a"]?.isIdentical(to: a) == true)
    }

    @Test func furtherJobsOfAPodAreReportedEveryResync() {
        var index = ResyncIndex()
        let records = table("a")
        let a = job("a"), older = job("a", attempt: 1)
        for _ in 0..<3 {
            let r = index.index([a, older], records: records)
            #expect(r.bySlot[records.slot(of: "a")!]?.isIdentical(to: a) == true)
            #expect(r.first["a"]?.isIdentical(to: a) == true)
            #expect(r.more["a"]?.count == 1 && r.more["a"]?.first?.attempt == 1)
        }
        #expect(index.reused == 0)
    }

    /// The same answer from the backend while a record arrives: the job it
    /// names must now count as that pod's (were it still "unknown", the resync
    /// would create a second job for the pod, and judge the first an orphan).
    @Test func aRecordThatArrivesOrGoesRebuildsTheIndex() {
        var index = ResyncIndex()
        var records = table("a")
        let a = job("a"), b = job("b")
        var r = index.index([a, b], records: records)
        #expect(r.unknown.map(\.podUID) == ["b"])
        records["b"] = record("b")
        r = index.index([a, b], records: records)
        #expect(index.reused == 0, "a record came: the slots changed")
        #expect(r.unknown.isEmpty && r.bySlot[records.slot(of: "b")!]?.isIdentical(to: b) == true)
        r = index.index([a, b], records: records)
        #expect(index.reused == 1 && r.unknown.isEmpty)
        // b's record goes and c takes its slot: b's job is unknown again, c has none.
        records["b"] = nil
        records["c"] = record("c")
        #expect(records.slot(of: "c") != nil)
        r = index.index([a, b], records: records)
        #expect(index.reused == 1)
        #expect(r.unknown.map(\.podUID) == ["b"] && r.bySlot[records.slot(of: "c")!] == nil)
    }
}

/// The store's records in slots: a UID keeps its slot while its record lives,
/// a freed slot is reused, and every change of who holds a slot is seen.
@Suite struct RecordTableTests {
    func record(_ uid: String, attempt: Int = 0) -> PodRecord {
        var r = PodRecord(request: PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: uid, namespace: "ns", uid: uid))), at: Date())
        r.attempt = attempt
        return r
    }

    @Test func slotsAreKeptUpdatedInPlaceAndReused() {
        var t = RecordTable()
        t["a"] = record("a"); t["b"] = record("b")
        let a = t.slot(of: "a"), layout = t.layout
        t["a"] = record("a", attempt: 2)
        #expect(t.slot(of: "a") == a && t.layout == layout, "an update keeps the slot and the layout")
        #expect(t["a"]?.attempt == 2 && t.count == 2)
        t["a"] = nil
        #expect(t["a"] == nil && t.count == 1 && t.layout != layout)
        #expect(t.slots[a!].record == nil)
        t["c"] = record("c")
        #expect(t.slot(of: "c") == a, "the freed slot is reused")
        #expect(t.slots.count == 2)
        #expect(Set(t.entries.map(\.uid)) == ["b", "c"] && t.entries.allSatisfy { $0.uid == $0.record.uid })
        t["missing"] = nil
        #expect(t.count == 2)
    }
}
