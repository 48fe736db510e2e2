import Dispatch
import FoundationEssentials
import Testing
import Model
@testable import Reconciler
#if canImport(Glibc)
import Glibc
#endif

@Suite struct StoreTests {
    @Test func recordsSurviveReopening() async throws {
        let dir = Fx.tempDir()
        let s1 = try DesiredStore(directory: dir + "/state")
        try await s1.apply([(Fx.uid(1), .desired(Fx.request(1))), (Fx.uid(2), .desired(Fx.request(2)))])
        try await s1.apply([(Fx.uid(1), .created(attempt: 0, jobID: "j1")), (Fx.uid(2), .undesired)])
        await s1.close()
        let s2 = try DesiredStore(directory: dir + "/state")
        let all = await s2.all()
        #expect(all.count == 2)
        #expect(all[Fx.uid(1)]?.jobID == "j1")
        #expect(all[Fx.uid(2)]?.desired == false)
        #expect(all[Fx.uid(1)]?.request == Fx.request(1))
    }

    @Test func aSecondStoreOnAnOpenDirectoryIsRefusedWithOneClearLine() async throws {
        let dir = Fx.tempDir()
        let s1 = try DesiredStore(directory: dir + "/state")
        do {
            _ = try DesiredStore(directory: dir + "/state")
            Issue.record("a second writer opened the same state directory")
        } catch {
            #expect("\(error)".contains("another InterLink process is using this state directory"), "\(error)")
        }
        await s1.close()
        #expect(throws: Never.self) { _ = try DesiredStore(directory: dir + "/state") }
    }

    @Test func aHolderThatLetsGoShortlyAfterIsWaitedFor() async throws {
        // As a previous server still exiting, or a child spawned at the moment of
        // close (it shares the lock's open file description until its exec).
        let dir = Fx.tempDir()
        try DurableFile.makeDirectory(dir + "/state")
        let holder = open(dir + "/state/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.4) { _ = Glibc.close(holder) }
        let s = try DesiredStore(directory: dir + "/state")
        #expect(await s.all().isEmpty)
        await s.close()
    }

    @Test func aTornLastRecordIsDroppedAndTheRestKept() async throws {
        let dir = Fx.tempDir()
        let s1 = try DesiredStore(directory: dir + "/state")
        try await s1.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        try await s1.apply([(Fx.uid(2), .desired(Fx.request(2)))])
        await s1.close()
        // Cut the last frame in half, as a kill -9 during write would.
        let path = dir + "/state/journal"
        let size = Fx.fileSize(path)
        #expect(truncate(path, off_t(size - 20)) == 0)
        let s2 = try DesiredStore(directory: dir + "/state")
        #expect(await s2.all().keys.sorted() == [Fx.uid(1)])
        // The torn bytes are gone, so new records append cleanly after the good ones.
        try await s2.apply([(Fx.uid(3), .desired(Fx.request(3)))])
        await s2.close()
        #expect(try await DesiredStore(directory: dir + "/state").all().keys.sorted() == [Fx.uid(1), Fx.uid(3)])
    }

    @Test func aFlippedByteInTheLastRecordIsDetectedByItsChecksum() async throws {
        let dir = Fx.tempDir()
        let s1 = try DesiredStore(directory: dir + "/state")
        try await s1.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        try await s1.apply([(Fx.uid(2), .desired(Fx.request(2)))])
        await s1.close()
        let path = dir + "/state/journal"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try await DesiredStore(directory: dir + "/state").all().keys.sorted() == [Fx.uid(1)])
    }

    @Test func anIntactRecordThatDoesNotDecodeStopsTheLoadInsteadOfDroppingWhatFollows() async throws {
        let dir = Fx.tempDir()
        let s1 = try DesiredStore(directory: dir + "/state")
        try await s1.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        await s1.close()
        // A well-framed record from some other version, followed by a good one.
        let path = dir + "/state/journal"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.append(RecordFrame.encode(Data(#"{"seq": 99, "future": true}"#.utf8)))
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: ReconcilerError.self) { _ = try DesiredStore(directory: dir + "/state") }
        // Nothing was truncated: the file is as it was, for a human to look at.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func theSnapshotIsOneFramePerRecordSoNoFrameGrowsWithThePodCount() async throws {
        let dir = Fx.tempDir()
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 1_000_000)
        for i in 0..<30 { try await store.apply([(Fx.uid(i), .desired(Fx.request(i)))]) }
        try await store.compact()
        await store.close()
        let (frames, valid) = RecordFrame.decode(try Data(contentsOf: URL(fileURLWithPath: dir + "/state/snapshot")))
        #expect(frames.count == 31)   // header + 30 records
        #expect(valid == Fx.fileSize(dir + "/state/snapshot"))
        #expect(try await DesiredStore(directory: dir + "/state").all().count == 30)
    }

    @Test func compactionKeepsTheStateAndShrinksTheJournal() async throws {
        let dir = Fx.tempDir()
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 1_000_000)
        for i in 0..<50 { try await store.apply([(Fx.uid(i), .desired(Fx.request(i)))]) }
        for i in 0..<50 { try await store.apply([(Fx.uid(i), .created(attempt: 0, jobID: "j\(i)"))]) }
        for i in 0..<40 { try await store.apply([(Fx.uid(i), .undesired), (Fx.uid(i), .forgotten)]) }
        let before = Fx.fileSize(dir + "/state/journal")
        try await store.compact()
        #expect(Fx.fileSize(dir + "/state/journal") == 0)
        #expect(Fx.fileSize(dir + "/state/snapshot") < before)
        await store.close()
        let again = try await DesiredStore(directory: dir + "/state").all()
        #expect(again.count == 10)
        #expect(again[Fx.uid(45)]?.jobID == "j45")
    }

    @Test func theJournalIsCompactedAutomaticallyAndDoesNotGrowWithoutBound() async throws {
        let dir = Fx.tempDir()
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 20)
        try await store.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        for i in 0..<200 {
            try await store.apply([(Fx.uid(1), .seen(attempt: 0, running: i % 2 == 0, containers: []))])
        }
        #expect(await store.journalRecordCount <= 21)
        await store.close()
        #expect(try await DesiredStore(directory: dir + "/state").all()[Fx.uid(1)]?.seenRunning == false)
    }

    @Test func aCrashBetweenSnapshotAndJournalTruncationDoesNotReplayEventsTwice() async throws {
        let dir = Fx.tempDir()
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 1_000_000)
        try await store.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        try await store.apply([(Fx.uid(1), .createFailed(attempt: 0, reason: "ProviderFailed", message: "x", retryable: true))])
        let journal = try Data(contentsOf: URL(fileURLWithPath: dir + "/state/journal"))
        try await store.compact()
        await store.close()
        // The snapshot was renamed into place but the journal was never truncated.
        try journal.write(to: URL(fileURLWithPath: dir + "/state/journal"))
        let again = try DesiredStore(directory: dir + "/state")
        #expect(await again.record(Fx.uid(1))?.createFailures == 1)
        try await again.apply([(Fx.uid(1), .createFailed(attempt: 0, reason: "ProviderFailed", message: "y", retryable: true))])
        await again.close()
        #expect(try await DesiredStore(directory: dir + "/state").record(Fx.uid(1))?.createFailures == 2)
    }

    @Test func aCorruptSnapshotIsAClearError() async throws {
        let dir = Fx.tempDir()
        let store = try DesiredStore(directory: dir + "/state")
        try await store.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        try await store.compact()
        await store.close()
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/state/snapshot"))
        do {
            _ = try DesiredStore(directory: dir + "/state")
            Issue.record("a corrupt snapshot was accepted")
        } catch {
            guard case .corruptSnapshot = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("snapshot") && error.description.contains("corrupt"))
        }
    }

    @Test func stateFilesHoldingSecretsAreOwnerOnly() async throws {
        let dir = Fx.tempDir()
        var req = Fx.request(1)
        req.secrets = [Secret(metadata: ObjectMeta(name: "s", namespace: "default"), data: ["password": "c2VjcmV0"])]
        let store = try DesiredStore(directory: dir + "/state")
        try await store.apply([(Fx.uid(1), .desired(req))])
        try await store.compact()
        try await store.apply([(Fx.uid(1), .desired(req))])
        #expect(Fx.mode(dir + "/state") == 0o700)
        #expect(Fx.mode(dir + "/state/journal") == 0o600)
        #expect(Fx.mode(dir + "/state/snapshot") == 0o600)
        #expect(await store.record(Fx.uid(1))?.request.secrets == req.secrets)
    }
}

extension Fx {
    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }
}
