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

    @Test func aSteadyAnswerIsReusedAndAChangedJobIsWrittenIn() {
        var index = ResyncIndex()
        let a = job("a"), b = job("b")
        var r = index.index([a, b])
        #expect(r.first.count == 2 && r.more.isEmpty && index.reused == 0)
        r = index.index([a, b])
        #expect(index.reused == 1)
        #expect(r.first["a"]?.isIdentical(to: a) == true && r.first["b"]?.isIdentical(to: b) == true)

        var changed = a
        changed.message = "now finished"
        r = index.index([changed, b])
        #expect(index.reused == 2)
        #expect(r.first["a"]?.message == "now finished", "the changed observation must be the one the resync sees")
        #expect(r.first["b"]?.isIdentical(to: b) == true)
    }

    @Test func aDifferentShapeIsRebuilt() {
        var index = ResyncIndex()
        let a = job("a"), b = job("b"), c = job("c")
        _ = index.index([a, b])
        // Same count, another pod in b's place: b is gone, c is new.
        var r = index.index([a, c])
        #expect(index.reused == 0)
        #expect(r.first["b"] == nil && r.first["c"]?.isIdentical(to: c) == true)
        // One fewer.
        r = index.index([c])
        #expect(r.first.count == 1 && r.first["a"] == nil)
        // Reordered: still every pod, rebuilt.
        _ = index.index([a, b])
        r = index.index([b, a])
        #expect(r.first.count == 2 && r.first["a"]?.isIdentical(to: a) == true)
    }

    @Test func furtherJobsOfAPodAreReportedEveryResync() {
        var index = ResyncIndex()
        let a = job("a"), older = job("a", attempt: 1)
        for _ in 0..<3 {
            let r = index.index([a, older])
            #expect(r.first["a"]?.isIdentical(to: a) == true)
            #expect(r.more["a"]?.count == 1 && r.more["a"]?.first?.attempt == 1)
        }
        #expect(index.reused == 0)
    }
}
