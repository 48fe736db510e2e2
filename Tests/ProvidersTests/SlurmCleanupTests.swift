import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// A pod directory the server cannot remove is a clear, retryable error naming
/// the directory (the reconciler decides when to give up), never a silent success.
@Suite(.enabled(if: getuid() == 0, "needs root to mount a filesystem inside the pod directory"))
struct SlurmCleanupTests {
    @Test func aPodDirectoryThatCannotBeRemovedIsAClearError() async throws {
        let root = SlurmFixtures.tempDir("cleanup")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = SlurmFixtures.config(runtime: "none", dataRoot: root)
        let uid = "33333333-4444-5555-6666-777777777777"
        let podDir = PodWorkspace(dataRoot: root, namespace: "ns", uid: uid).root
        let busy = "\(podDir)/volumes/left-behind"
        try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
        // A mount point in use cannot be removed, whoever asks: like files a root container left behind.
        let mounted = try await ProcessRunner.run("mount", ["-t", "tmpfs", "tmpfs", busy])
        try #require(mounted.succeeded, "mount: \(mounted.stderrText)")
        defer { _ = umount2(busy, Int32(MNT_DETACH)) }
        let p = SlurmProvider(config: config)
        let ref = JobRef(podUID: uid, namespace: "ns", name: "stuck", jobID: "1")
        await #expect {
            try await p.cleanup(ref)
        } throws: { error in
            guard let e = error as? ProviderError, case .backend(let command, let message, let transient) = e else { return false }
            return command == "cleanup" && transient && message.contains(podDir) && message.contains("ns/stuck")
        }
        _ = umount2(busy, Int32(MNT_DETACH))
        try await p.cleanup(ref)
        #expect(!FileManager.default.fileExists(atPath: podDir))
    }
}
