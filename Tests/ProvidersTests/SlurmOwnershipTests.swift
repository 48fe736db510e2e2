import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers

private let slurmConf = ProcessInfo.processInfo.environment["INTERLINK_TEST_SLURM_CONF"]

/// Which jobs the provider takes for its own, and what it does when it cannot
/// read a job's files, against the real one-node Slurm (runtime none).
@Suite(.serialized, .enabled(if: slurmConf != nil, "INTERLINK_TEST_SLURM_CONF is not set (run scripts/slurm.sh start)"))
final class SlurmOwnershipTests {
    let root = SlurmFixtures.tempDir("own")
    let instance = "il-own-\(UUID().uuidString.lowercased().prefix(6))"
    deinit { try? FileManager.default.removeItem(atPath: root) }

    func provider() -> SlurmProvider {
        var c = InterLinkConfig()
        c.containerRuntime = "none"
        c.dataRootFolder = root
        c.instanceName = instance
        return SlurmProvider(config: c, environment: ["SLURM_CONF": slurmConf ?? ""])
    }

    func cli(_ tool: String, _ args: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(tool, args, environment: ["SLURM_CONF": slurmConf ?? "", "PATH": "/usr/bin:/bin"])
    }

    /// Never: these jobs end on their own (under Always the in-job supervisor would restart them).
    func pod(_ script: String, restartPolicy: String = "Never") -> DesiredPod {
        let uid = UUID().uuidString.lowercased()
        return DesiredPod(request: PodCreateRequests(pod: Pod(
            metadata: ObjectMeta(name: "p-\(uid.prefix(8))", namespace: "ns", uid: uid),
            spec: PodSpec(containers: [Container(name: "c", image: "none", command: ["sh", "-c", script])], restartPolicy: restartPolicy))))
    }

    func waitUntilPurged(_ id: String) async throws -> Bool {
        for _ in 0..<240 {
            if try await cli("squeue", ["-h", "--states=all", "-j", id, "-o", "%i"]).stdoutText.trimmed.isEmpty { return true }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        return false
    }

    @Test func aJobNamedLikeOursButWithoutOurMarkIsNeitherAdoptedNorAnOrphan() async throws {
        let uid = UUID().uuidString.lowercased()
        // Anyone can name a job like InterLink's; only InterLink's --comment marks it as ours.
        let r = try await cli("sbatch", ["--parsable", "--job-name=\(instance).\(uid).0", "--output=/dev/null",
                                         "--chdir=\(root)", "--wrap", "sleep 30"])
        #expect(r.succeeded, "\(r.stderrText)")
        let foreign = r.stdoutText.trimmed
        let seen = try await provider().observe()
        #expect(!seen.contains { $0.jobID == foreign || $0.podUID == uid }, "a foreign job was taken for ours: \(seen)")
        _ = try await cli("scancel", [foreign])
    }

    @Test func ourJobsCarryInstanceUIDAndAttemptInTheirComment() async throws {
        let p = provider()
        let d = pod("sleep 5")
        let id = try await p.create(d)
        let r = try await cli("squeue", ["-h", "--states=all", "-j", id, "-o", "%k"])
        #expect(r.stdoutText.trimmed == SlurmJobMark.make(instance: instance, uid: d.uid, attempt: 0))
        _ = try await cli("scancel", [id])
    }

    @Test func anOverriddenJobNameIsReportedInTheObservationAndTheJobKeepsOurs() async throws {
        let p = provider()
        var d = pod("exit 0")
        d.request.pod.metadata.annotations = ["slurm-job.vk.io/flags": "--job-name=test-pod-cfg -t 5"]
        let id = try await p.create(d)
        let r = try await cli("squeue", ["-h", "--states=all", "-j", id, "-o", "%j|%k"])
        #expect(r.stdoutText.trimmed == "\(instance).\(d.uid).0|\(SlurmJobMark.make(instance: instance, uid: d.uid, attempt: 0))")
        let o = try #require(try await p.observe().first { $0.podUID == d.uid })
        #expect(o.message?.contains("--job-name=test-pod-cfg ignored, InterLink sets --job-name itself") == true, "\(o.message ?? "")")
    }

    @Test func anUnreadableExitFileOfAPurgedJobIsAnErrorNotALostJob() async throws {
        let p = provider()
        let d = pod("exit 0")
        let id = try await p.create(d)
        // Nobody observes while the job runs and ends, so the index holds no final state.
        #expect(try await waitUntilPurged(id), "slurmctld did not purge job \(id)")
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: d.uid, attempt: 0)
        #expect(FileManager.default.fileExists(atPath: layout.exitFile("c")))
        try FileManager.default.removeItem(atPath: layout.exitFile("c"))
        try FileManager.default.createDirectory(atPath: layout.exitFile("c"), withIntermediateDirectories: false)

        let restarted = provider()
        let o = try #require(try await restarted.observe().first { $0.podUID == d.uid })
        // A finished job with a JobLost interruption would be re-run for restartPolicy Always.
        #expect(o.state != .finished, "\(o)")
        #expect(o.interruption == nil, "\(o)")
        #expect(o.containers.first?.state.waiting?.reason == "StatusUnreadable", "\(o)")
        #expect(o.message?.contains(layout.exitFile("c")) == true, "\(o.message ?? "")")
        #expect(try await restarted.create(d) == id)   // the same job, nothing resubmitted

        // Once the file can be read again the job's own result counts.
        try FileManager.default.removeItem(atPath: layout.exitFile("c"))
        try Data("0 2026-01-01T00:00:00Z\n\n\n".utf8).write(to: URL(fileURLWithPath: layout.exitFile("c")))
        let healed = try #require(try await restarted.observe().first { $0.podUID == d.uid })
        #expect(healed.state == .finished)
        #expect(healed.containers.first?.state.terminated?.exitCode == 0)
    }

    @Test func anUnreadableIndexStopsObservationInsteadOfLosingThePod() async throws {
        let p = provider()
        let d = pod("sleep 20")
        let id = try await p.create(d)
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: d.uid, attempt: 0)
        try FileManager.default.removeItem(atPath: layout.indexFile)
        try FileManager.default.createDirectory(atPath: layout.indexFile, withIntermediateDirectories: false)
        // Without its index the running job would look like an orphan and the pod like a lost one.
        await #expect {
            _ = try await p.observe()
        } throws: { error in
            "\(error)".contains(layout.indexFile)
        }
        _ = try await cli("scancel", [id])
    }
}
