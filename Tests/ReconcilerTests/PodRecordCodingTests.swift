import Foundation
import Model
import Testing
@testable import Reconciler

/// The rare fields of a record (an end, failures, a delete, backoffs) live out
/// of line, but journals and snapshots written before keep loading, and what is
/// written now is what an older InterLink reads: the same flat keys.
@Suite struct PodRecordCodingTests {
    /// A snapshot record as InterLink wrote it before the fields moved (flat keys,
    /// Dates as JSONEncoder's default seconds since 2001).
    static let flatRecord = #"""
    {"request":{"pod":{"metadata":{"name":"p","namespace":"ns","uid":"u-1"},"spec":{"containers":[{"name":"main","image":"busybox"}]}}},
     "desired":false,"attempt":2,"jobID":"job-7","restartCount":2,"lastState":{},"seenAttempt":2,"seenRunning":true,
     "seenContainers":[],"terminal":{"attempt":2,"containers":[],"initContainers":[],"at":100},"createFailures":1,
     "lastError":{"reason":"ErrImagePull","message":"no such image","retryable":true,"at":90},
     "failed":{"reason":"BackendLost","message":"gone","at":110},"receivedAt":10,"jobCreatedAt":20,"deletedAt":120,
     "updatedAt":130,"cancelFailures":3,"cancelFailedAt":125,"cleanupFailures":4,"cleanupFailedAt":126,
     "lastCleanupError":"busy","deletionGracePeriodSeconds":30}
    """#

    @Test func aRecordWrittenWithFlatKeysLoadsEveryField() throws {
        let r = try JSONDecoder().decode(PodRecord.self, from: Data(Self.flatRecord.utf8))
        #expect(r.uid == "u-1" && r.attempt == 2 && r.jobID == "job-7" && !r.desired)
        #expect(r.terminal?.attempt == 2)
        #expect(r.lastError?.reason == "ErrImagePull")
        #expect(r.failed?.reason == "BackendLost")
        #expect(r.deletedAt == Date(timeIntervalSinceReferenceDate: 120))
        #expect(r.cancelFailures == 3 && r.cancelFailedAt == Date(timeIntervalSinceReferenceDate: 125))
        #expect(r.cleanupFailures == 4 && r.lastCleanupError == "busy")
        #expect(r.deletionGracePeriodSeconds == 30)
        #expect(r.stopGracePeriodSeconds == 30, "the delete's own grace period applies")
    }

    @Test func whatIsWrittenKeepsTheFlatKeysAndRoundTrips() throws {
        let r = try JSONDecoder().decode(PodRecord.self, from: Data(Self.flatRecord.utf8))
        let data = try JSONEncoder().encode(r)
        let written = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let old = try #require(try JSONSerialization.jsonObject(with: Data(Self.flatRecord.utf8)) as? [String: Any])
        #expect(Set(written.keys) == Set(old.keys), "keys: \(written.keys.sorted())")
        #expect(try JSONDecoder().decode(PodRecord.self, from: data) == r)
    }

    /// A record that set a rare field and cleared it again is the record it was:
    /// equal, and coded without the field.
    @Test func aRareFieldSetAndClearedLeavesNoTrace() throws {
        let req = PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: "p", namespace: "ns", uid: "u-2"),
                                             spec: PodSpec(containers: [Container(name: "main", image: "busybox")])))
        let fresh = PodRecord(request: req, at: Date(timeIntervalSinceReferenceDate: 1))
        var r = fresh
        r.cancelFailures = 1; r.cancelFailedAt = Date()
        #expect(r != fresh)
        r = PodRecord.apply(.cancelSucceeded, to: r, at: fresh.updatedAt)!
        #expect(r == fresh)
        let keys = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]).keys
        #expect(!keys.contains("cancelFailures") && !keys.contains("rare"), "\(keys.sorted())")
    }
}
