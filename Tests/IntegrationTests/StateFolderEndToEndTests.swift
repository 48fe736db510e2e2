import Foundation
import Model
import Testing

/// `StateFolder` keeps the journal (every pod's request, Secrets included) apart
/// from the pod directories, which Slurm needs on a filesystem the compute nodes
/// share: a job must never be able to read it.
@Suite("StateFolder (real binary, real HTTP)", .serialized, .enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY (make test sets it)"))
struct StateFolderEndToEndTests {
    @Test func theJournalLivesInStateFolderAndNothingOfItUnderDataRootFolder() async throws {
        let state = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("il-state-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 1\nStateFolder: \(state)") { il in
            let secret = "s3cret-\(UUID().uuidString)"
            let pod = Pods.make("apart", containers: [Container(name: "main", image: "busybox",
                                                                env: [EnvVar(name: "TOKEN", value: secret)])])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 30) { $0.phase == .succeeded }
            #expect(await il.stop() == 0)

            // The acknowledged pod is in StateFolder, and survives a restart from there.
            let journal = try FileManager.default.contentsOfDirectory(atPath: state)
            #expect(!journal.isEmpty, "StateFolder holds the journal")
            let attributes = try FileManager.default.attributesOfItem(atPath: state)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0, "StateFolder is private to InterLink's user")
            #expect(!FileManager.default.fileExists(atPath: il.dataRoot + "/state"), "no journal under DataRootFolder")
            let enumerator = FileManager.default.enumerator(atPath: il.dataRoot)
            while let f = enumerator?.nextObject() as? String {
                let data = FileManager.default.contents(atPath: il.dataRoot + "/" + f) ?? Data()
                #expect(!String(decoding: data, as: UTF8.self).contains(secret), "\(f) under DataRootFolder holds the pod's request")
            }
            try await il.start()
            let (final, _) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .succeeded }
            #expect(final.container("main")?.restartCount == 0)
            await il.stop()
        }
    }

    @Test func aStateFolderThatContainsDataRootFolderIsRefusedWithOneLine() async throws {
        let binary = try #require(TestEnv.binary)
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("il-state-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("c.yaml").path
        try "DataRootFolder: \(dir.path)/data\nStateFolder: \(dir.path)\nProvider: mock\n".write(toFile: config, atomically: true, encoding: .utf8)
        let r = try await ProcessRunnerShim.run(binary, ["serve", "--config", config])
        #expect(r.exitCode == 2)
        #expect(r.stderrText.contains("StateFolder"), "\(r.stderrText)")
    }
}
