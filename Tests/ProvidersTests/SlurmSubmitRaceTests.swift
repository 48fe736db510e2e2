import FoundationEssentials
import Model
import Testing
@testable import Providers

/// observe runs squeue first and reads the pod directories after it. A create
/// that submits a job and writes its index in between leaves an index naming a
/// job squeue's answer does not hold. Seen under load (the sidecar restart test):
/// that job was taken for one squeue had purged, and its pod failed BackendLost
/// the second it was submitted.
@Suite struct SlurmSubmitRaceTests {
    let root = SlurmFixtures.tempDir("race")

    func writeIndex(jobID: String) throws -> SlurmIndex {
        let uid = UUID().uuidString.lowercased()
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: uid, attempt: 0)
        try SlurmFiles.makeDirectory(layout.podDir)
        try SlurmFiles.makeDirectory(layout.metaDir)
        let index = SlurmIndex(instance: "il-race", uid: uid, namespace: "ns", name: "p", attempt: 0, jobID: jobID,
                               initContainers: [], containers: ["main"], images: ["main": "busybox"], supervised: true)
        try SlurmFiles.writeIndex(index, to: layout.indexFile)
        return index
    }

    func observe(squeueAt: Double) throws -> [JobObservation] {
        var cache = SlurmObserveCache()
        return try observe(squeueAt: squeueAt, &cache)
    }

    func observe(squeueAt: Double, _ cache: inout SlurmObserveCache) throws -> [JobObservation] {
        try SlurmProvider.observeFiles(dataRoot: root, instance: "il-race", byJob: [:], ours: [:],
                                      squeueAt: squeueAt, cache: &cache).0
    }

    @Test func aJobSubmittedWhileSqueueRanIsPendingNotLost() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let squeueAt = Date().timeIntervalSince1970
        let index = try writeIndex(jobID: "4242")   // written after squeue was asked
        let o = try #require(try observe(squeueAt: squeueAt).first { $0.podUID == index.uid })
        #expect(o.state == .pending, "\(o)")
        #expect(o.interruption == nil)
        #expect(o.jobID == "4242")
        #expect(o.containers.first?.state.waiting?.reason == "ContainerCreating")
        #expect(o.message?.contains("just submitted") == true, "\(o.message ?? "")")
    }

    @Test func theGraceLastsOneObserveWhateverTheFileClockSays() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try writeIndex(jobID: "4244")
        // As if the file server's clock ran ahead: every squeue looks older than the index.
        let early = Date().timeIntervalSince1970 - 60
        var cache = SlurmObserveCache()
        let first = try #require(try observe(squeueAt: early, &cache).first { $0.podUID == index.uid })
        #expect(first.state == .pending)
        let second = try #require(try observe(squeueAt: early, &cache).first { $0.podUID == index.uid })
        #expect(second.state == .finished)
        #expect(second.interruption == "JobLost", "a job squeue never listed stays lost after one observe: \(second)")
    }

    @Test func aJobThisProcessSubmittedAfterSqueueIsPendingWhateverTheFileClock() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try writeIndex(jobID: "4245")
        // As if the file server's clock ran behind: the index looks older than the squeue.
        let late = Date().timeIntervalSince1970 + 60
        var cache = SlurmObserveCache()
        for _ in 0..<2 {
            let o = try #require(try SlurmProvider.observeFiles(dataRoot: root, instance: "il-race", byJob: [:], ours: [:],
                                                                 squeueAt: late, submittedSince: ["4245"], cache: &cache).0
                .first { $0.podUID == index.uid })
            #expect(o.state == .pending && o.interruption == nil, "\(o)")
        }
    }

    @Test func aJobMissingFromALaterSqueueIsStillLost() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = try writeIndex(jobID: "4243")
        // squeue asked well after the index was written: its silence means the job is gone.
        let o = try #require(try observe(squeueAt: Date().timeIntervalSince1970 + 5).first { $0.podUID == index.uid })
        #expect(o.state == .finished)
        #expect(o.interruption == "JobLost", "\(o)")
    }
}
