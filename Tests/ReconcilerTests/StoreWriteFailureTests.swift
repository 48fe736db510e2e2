import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// A write that fails half way (disk full, here a file size limit) must not
/// leave a broken frame that would make loading drop later, acknowledged
/// batches. The limit is per process, so the writing runs in a child process
/// (this test binary, running only `failingWriter`).
@Suite struct StoreWriteFailureTests {
    static let childEnv = "INTERLINK_FAILING_WRITER_DIR"

    @Test func aFailedWriteIsTakenBackAndLaterBatchesSurviveAReload() async throws {
        let dir = Fx.tempDir()
        let r = try await StoreCrashTests.runChildTest("failingWriter", env: [Self.childEnv: dir], timeout: 120)
        #expect(r.exitCode == 0, "child failed: \(r.stdoutText.suffix(2000)) \(r.stderrText.suffix(2000))")
        #expect(FileManager.default.fileExists(atPath: dir + "/child-done"), "the child did not run to its end")
        // Batches 1 and 3 were acknowledged; 2 failed and must be gone, without taking 3 with it.
        let store = try DesiredStore(directory: dir + "/state")
        #expect(await store.all().keys.sorted() == [Fx.uid(1), Fx.uid(3)])
        await store.close()
    }

    /// The child side; only runs when the parent sets the environment variable.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[StoreWriteFailureTests.childEnv] != nil,
                   "runs only as the child of aFailedWriteIsTakenBackAndLaterBatchesSurviveAReload"))
    func failingWriter() async throws {
        let dir = ProcessInfo.processInfo.environment[Self.childEnv]!
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 1_000_000)
        try await store.apply([(Fx.uid(1), .desired(Fx.request(1)))])
        // Let the next frame only partly fit: the write is cut short, then fails.
        signal(SIGXFSZ, SIG_IGN)
        let resource = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        var old = rlimit()
        getrlimit(resource, &old)
        var tight = rlimit(rlim_cur: rlim_t(Fx.fileSize(dir + "/state/journal") + 16), rlim_max: old.rlim_max)
        setrlimit(resource, &tight)
        var big = Fx.request(2)
        big.secrets = [Secret(metadata: ObjectMeta(name: "s", namespace: "default"), data: ["blob": String(repeating: "QUJD", count: 4096)])]
        await #expect(throws: ReconcilerError.self) { try await store.apply([(Fx.uid(2), .desired(big))]) }
        setrlimit(resource, &old)
        try await store.apply([(Fx.uid(3), .desired(Fx.request(3)))])
        await store.close()
        FileManager.default.createFile(atPath: dir + "/child-done", contents: Data())
    }
}
