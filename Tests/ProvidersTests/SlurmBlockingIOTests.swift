import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// A hung shared filesystem cannot stall the server: the provider's file work
/// runs on its own threads and gives up after `SlurmFilesystemTimeoutSeconds`.
/// A FIFO without a writer stands in for a hung NFS file: `open` blocks in the
/// kernel until someone opens the other end.
@Suite(.serialized) struct SlurmBlockingIOTests {
    func fifo(_ dir: String, _ name: String) throws -> String {
        let path = "\(dir)/\(name)"
        try FileManager.default.createDirectory(atPath: String(path[..<path.lastIndex(of: "/")!]), withIntermediateDirectories: true)
        #expect(mkfifo(path, 0o600) == 0)
        return path
    }

    /// Lets every reader blocked on the FIFO go (they see end of file).
    func release(_ path: String) {
        for _ in 0..<50 {
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            usleep(20_000)
        }
    }

    @Test func aHungReadFailsWithAClearErrorWhileOtherTasksGoOn() async throws {
        let dir = SlurmFixtures.tempDir("hung")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try fifo(dir, "status/c.exit")
        let io = SlurmBlockingIO(timeout: 0.3)
        let hung = Task { try await io.run("reading \(path)") { try SlurmFiles.read(path) } }
        // The cooperative pool is free: ordinary work finishes while the read hangs.
        var ticks = 0
        for _ in 0..<5 { try await Task.sleep(nanoseconds: 10_000_000); ticks += 1 }
        #expect(ticks == 5)
        await #expect {
            _ = try await hung.value
        } throws: { error in
            guard case .unavailable(let m) = error as? ProviderError else { return false }
            return m.contains(path) && m.contains("SlurmFilesystemTimeoutSeconds")
        }
        #expect(io.stuckCount == 1)
        release(path)
        for _ in 0..<100 where io.stuckCount > 0 { try await Task.sleep(nanoseconds: 20_000_000) }
        #expect(io.stuckCount == 0, "the thread came back once the filesystem answered")
    }

    @Test func hungThreadsDoNotPileUp() async throws {
        let dir = SlurmFixtures.tempDir("pile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try fifo(dir, "index.json")
        let io = SlurmBlockingIO(timeout: 0.1)
        for _ in 0..<SlurmBlockingIO.maxStuck {
            _ = try? await io.run("reading") { try SlurmFiles.read(path) }
        }
        #expect(io.stuckCount == SlurmBlockingIO.maxStuck)
        // Refused at once, without starting another thread that would hang too.
        await #expect {
            _ = try await io.run("reading") { () throws -> Int in 1 }
        } throws: { error in "\(error)".contains("still hung") }
        release(path)
        for _ in 0..<100 where io.stuckCount > 0 { try await Task.sleep(nanoseconds: 20_000_000) }
        #expect(try await io.run("answer") { 42 } == 42)
    }

    @Test func createOnAHungIndexFailsRetryablyInsteadOfSubmittingAgain() async throws {
        let root = SlurmFixtures.tempDir("hungidx")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var config = SlurmFixtures.config(runtime: "none", dataRoot: root)
        config.slurmFilesystemTimeoutSeconds = 0.2
        config.sbatchPath = "/nonexistent/sbatch"   // must not be reached
        let desired = DesiredPod(request: PodCreateRequests(pod: Pod(
            metadata: ObjectMeta(name: "p", namespace: "ns", uid: "11111111-2222-3333-4444-555555555555"),
            spec: PodSpec(containers: [Container(name: "c", image: "x", command: ["true"])]))))
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: desired.uid, attempt: 0)
        let path = try fifo(String(layout.indexFile.dropLast("/index.json".count)), "index.json")
        let p = SlurmProvider(config: config)
        await #expect {
            _ = try await p.create(desired)
        } throws: { error in
            guard let e = error as? ProviderError else { return false }
            return e.isRetryable && e.description.contains("index.json")
        }
        #expect(p.commandCount == 0)
        release(path)
    }
}
