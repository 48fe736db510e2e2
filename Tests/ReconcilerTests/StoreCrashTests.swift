import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at an arbitrary instant: a child process (this test binary, running
/// only `crashWriter`) appends and compacts as fast as it can and records each
/// acknowledged batch; the parent SIGKILLs it and checks that the store loads
/// and holds every acknowledged pod.
@Suite struct StoreCrashTests {
    static let writerEnv = "INTERLINK_CRASH_WRITER_DIR"

    @Test func theStoreSurvivesKill9AtAnyInstantWithEveryAcknowledgedWrite() async throws {
        let dir = Fx.tempDir()
        for round in 0..<3 {
            // The timeout is the kill -9; the process group gets SIGKILL.
            let r = try? await Self.runChildTest("crashWriter", env: [Self.writerEnv: dir], timeout: 2.0 + Double(round) * 0.37)
            #expect(r == nil || r?.signal != nil || r?.exitCode == 0, "writer output: \(r?.stderrText ?? "")")
            let acked = Self.acked(dir)
            let store = try DesiredStore(directory: dir + "/state")
            let all = await store.all()
            await store.close()
            #expect(acked > 0, "the writer never acknowledged a batch in round \(round)")
            let missing = (0..<acked).filter { all[Fx.uid($0)]?.jobID != "job-\($0)" }
            #expect(missing.isEmpty, "acknowledged pods lost after kill -9: \(missing.prefix(5))")
        }
    }

    /// The child side; only runs when the parent sets the environment variable.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[StoreCrashTests.writerEnv] != nil,
                   "runs only as the child of theStoreSurvivesKill9AtAnyInstant"))
    func crashWriter() async throws {
        let dir = ProcessInfo.processInfo.environment[Self.writerEnv]!
        let store = try DesiredStore(directory: dir + "/state", compactAfterRecords: 64)
        var n = Self.acked(dir)
        while true {
            var req = Fx.request(n)
            req.secrets = [Secret(metadata: ObjectMeta(name: "s\(n)", namespace: "default"),
                                  data: ["blob": String(repeating: "QUJD", count: 200)])]
            try await store.apply([(Fx.uid(n), .desired(req)), (Fx.uid(n), .created(attempt: 0, jobID: "job-\(n)"))])
            n += 1
            Self.writeAck(dir, n)
        }
    }

    /// Runs one test of this binary in a child process, with `env` added.
    static func runChildTest(_ name: String, env: [String: String], timeout: Double) async throws -> ProcessResult {
        var buf = [CChar](repeating: 0, count: 4096)
        let len = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = try #require(len > 0 ? String(decoding: buf[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil)
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        return try await ProcessRunner.run(exe, ["--testing-library", "swift-testing", "--filter", name],
                                           environment: environment, timeout: timeout)
    }

    static func acked(_ dir: String) -> Int {
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: dir + "/acked")) else { return 0 }
        return Int(String(decoding: d, as: UTF8.self).trimmed) ?? 0
    }

    /// Written (and fsynced) only after the store's apply returned.
    static func writeAck(_ dir: String, _ n: Int) {
        let fd = open(dir + "/acked", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let t = String(n), s = Array((t + String(repeating: " ", count: max(0, 20 - t.count))).utf8)
        _ = s.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        fsync(fd); close(fd)
    }
}
