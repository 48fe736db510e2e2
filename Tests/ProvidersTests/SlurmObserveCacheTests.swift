import FoundationEssentials
import Model
import Testing
@testable import Providers

/// The observe cache (issue 14): a steady pod costs two `stat`s and no read; a
/// change is seen by the next observe; a re-read that finds nothing new keeps the
/// very same observation. Driven through `observeFiles`, with squeue's answer
/// given and `now` set past the settle window of the files just written.
@Suite struct SlurmObserveCacheTests {
    let root = SlurmFixtures.tempDir("observe-cache")
    let instance = "il-cache"

    func writeIndex(jobID: String, podDir: String? = nil, uid: String = UUID().uuidString.lowercased()) throws -> (SlurmIndex, SlurmLayout) {
        let layout = podDir.map { SlurmLayout(podDir: $0, attempt: 0) }
            ?? SlurmLayout(dataRoot: root, namespace: "ns", uid: uid, attempt: 0)
        try SlurmFiles.makeDirectory(layout.podDir)
        try SlurmFiles.makeDirectory(layout.metaDir)
        let index = SlurmIndex(instance: instance, uid: uid, namespace: "ns", name: "p", attempt: 0, jobID: jobID,
                               initContainers: [], containers: ["main"], images: ["main": "busybox"], supervised: true)
        try SlurmFiles.writeIndex(index, to: layout.indexFile)
        return (index, layout)
    }

    func record(_ index: SlurmIndex, _ state: String) -> SqueueRecord {
        SqueueRecord(jobID: index.jobID, name: SlurmJobName.make(instance: instance, uid: index.uid, attempt: 0), state: state,
                     reason: "None", comment: SlurmJobMark.make(instance: instance, uid: index.uid, attempt: 0))
    }

    func observe(_ records: [SqueueRecord], _ cache: inout SlurmObserveCache, now: Double) throws -> [JobObservation] {
        let byJob = Dictionary(records.map { ($0.jobID, $0) }, uniquingKeysWith: { a, _ in a })
        return try SlurmProvider.observeFiles(dataRoot: root, instance: instance, byJob: byJob, ours: [:],
                                              squeueAt: now - 10, cache: &cache, now: now).0
    }

    @Test func aSteadyPodIsReportedWithTheSameObservationWithoutReadingItsFiles() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (index, layout) = try writeIndex(jobID: "501")
        try SlurmFiles.makeDirectory(layout.statusDirectory)
        let later = Date().timeIntervalSince1970 + 5
        var cache = SlurmObserveCache()
        let first = try #require(try observe([record(index, "RUNNING")], &cache, now: later).first)
        #expect(cache.lastReads == 1)
        let second = try #require(try observe([record(index, "RUNNING")], &cache, now: later + 1).first)
        #expect(cache.lastReads == 0, "an unchanged pod's files were read again")
        #expect(second.isIdentical(to: first))
        // A container's start, written into the status directory, is seen by the next observe.
        try SlurmFiles.write(Data("2026-12-03T10:00:00Z\n".utf8), to: layout.startFile("main"), mode: 0o644)
        let third = try #require(try observe([record(index, "RUNNING")], &cache, now: Date().timeIntervalSince1970 + 2).first)
        #expect(cache.lastReads == 1)
        #expect(third.containers.first?.state.running != nil, "\(third)")
    }

    @Test func aReReadThatFindsNothingNewKeepsTheVerySameObservation() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (index, _) = try writeIndex(jobID: "502")
        let later = Date().timeIntervalSince1970 + 5
        // Entries expire at once: every observe reads the pod's files again (as the NFS refresh does).
        var cache = SlurmObserveCache(maxAgeSeconds: 0)
        let first = try #require(try observe([record(index, "RUNNING")], &cache, now: later).first)
        let second = try #require(try observe([record(index, "RUNNING")], &cache, now: later + 1).first)
        #expect(cache.lastReads == 1, "the expired entry was read again")
        #expect(second.isIdentical(to: first), "an equal observation was reported as a new value")
        // A changed squeue line is a new observation.
        var pending = record(index, "PENDING")
        pending.reason = "Resources"
        let third = try #require(try observe([pending], &cache, now: later + 2).first)
        #expect(!third.isIdentical(to: first) && third.state == .pending)
        #expect(third.message?.contains("Resources") == true)
    }

    @Test func aTerminalStateIsWrittenToTheIndexEvenWhenTheFilesAreUnchanged() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (index, layout) = try writeIndex(jobID: "503")
        let later = Date().timeIntervalSince1970 + 5
        var cache = SlurmObserveCache()
        _ = try observe([record(index, "RUNNING")], &cache, now: later)
        let ended = try #require(try observe([record(index, "TIMEOUT")], &cache, now: later + 1).first)
        #expect(ended.state == .finished)
        #expect(try SlurmFiles.readIndex(layout.indexFile)?.finalState == "TIMEOUT")
        // squeue has forgotten the job: the state kept in the index still decides.
        let purged = try #require(try observe([], &cache, now: Date().timeIntervalSince1970 + 3).first)
        #expect(purged.containers.first?.state.terminated?.reason == "DeadlineExceeded", "\(purged)")
    }

    @Test func aDirectoryNotNamedAfterItsPodIsObservedRightEveryTime() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Entries are found by the directory's name: one that is not `<namespace>-<uid>` is
        // never kept (it could be taken for another's), so it is read each time, and right.
        let (index, _) = try writeIndex(jobID: "504", podDir: "\(root)/renamed")
        let later = Date().timeIntervalSince1970 + 5
        var cache = SlurmObserveCache()
        for step in 0..<2 {
            let o = try #require(try observe([record(index, "RUNNING")], &cache, now: later + Double(step)).first)
            #expect(o.podUID == index.uid && o.state == .running)
            #expect(cache.lastReads == 1)
            #expect(cache.count == 0)
        }
    }

    @Test func thePodDirectoryNameMatchIsExact() {
        let o = JobObservation(podUID: "u-1", namespace: "ns", jobID: "1", state: .running)
        #expect(SlurmObserveCache.names("ns-u-1", o))
        #expect(!SlurmObserveCache.names("ns-u-10", o))
        #expect(!SlurmObserveCache.names("nsxu-1", o))
        #expect(!SlurmObserveCache.names("ns-u-", o))
        #expect(!SlurmObserveCache.names("", o))
    }
}
