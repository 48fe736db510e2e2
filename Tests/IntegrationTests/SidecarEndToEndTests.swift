import Foundation
import Model
import Providers
import Testing

/// `interlink serve` with `Provider: remote` driving a real `interlink sidecar`
/// on the real Slurm and Docker: the sidecar is SIGKILLed mid-run while pods
/// keep arriving, then restarted. Every pod must end Succeeded, each must have
/// run exactly once (a ledger file every run appends to, plus the backend's
/// own job/container ids), and the pods created while the sidecar was down
/// must have run after it came back.
@Suite("Sidecar restart end to end", .serialized)
struct SidecarEndToEndTests {
    struct Backend {
        var kind: String
        var sidecarConfig: String
        var environment: [String: String]
        var pods: Int
        /// A pod whose container appends its name to the ledger, then sleeps.
        var pod: (String, RunLedger) -> Pod
    }

    static func slurm() -> Backend {
        Backend(kind: "slurm", sidecarConfig: "ContainerRuntime: none", environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""], pods: 50) { name, ledger in
            Pods.make(name, containers: [Pods.shell("main", "echo \(name) >> \(ledger.file); sleep 3; echo done \(name)")])
        }
    }

    static func docker() -> Backend {
        Backend(kind: "docker", sidecarConfig: "DockerHost: \(TestEnv.dockerHost ?? "")\nAllowHostPath: true",
                environment: [:], pods: 50) { name, ledger in
            var main = Pods.shell("main", "echo \(name) >> /runs/runs; sleep 3; echo done \(name)")
            main.volumeMounts = [VolumeMount(name: "runs", mountPath: "/runs")]
            return Pods.make(name, containers: [main], volumes: [Volume(name: "runs", hostPath: HostPathVolumeSource(path: ledger.dir))])
        }
    }

    func phaseCounts(_ il: InterLinkInstance, _ pods: [Pod]) async throws -> [PodPhase: Int] {
        var out: [PodPhase: Int] = [:]
        for p in pods { out[try await il.status(p).phase, default: 0] += 1 }
        return out
    }

    func run(_ b: Backend, backendJobs: @escaping (Pod) async throws -> [String]) async throws {
        let ledger = try RunLedger()
        let sidecar = try SidecarProcess(kind: b.kind, extraConfig: b.sidecarConfig, environment: b.environment)
        defer { ledger.cleanup() }
        try await sidecar.start()
        do {
            try await InterLinkInstance.with(provider: "remote", extraConfig: "SidecarURL: unix://\(sidecar.socket)\nSidecarTimeoutSeconds: 10") { il in
                let tag = UUID().uuidString.prefix(6).lowercased()
                let pods = (0..<b.pods).map { b.pod("sc-\(tag)-\($0)", ledger) }
                let beforeKill = pods.prefix(b.pods * 3 / 5), whileDown = pods.suffix(from: b.pods * 3 / 5)

                for p in beforeKill { #expect(try await il.create(PodCreateRequests(pod: p)).status == 200) }
                // Mid-run: some pods have run, others have not.
                let deadline = Date().addingTimeInterval(180)
                while Date() < deadline, (try await phaseCounts(il, Array(beforeKill))[.pending] ?? 0) > beforeKill.count * 4 / 5 {
                    try await Task.sleep(nanoseconds: 300_000_000)
                }
                let seenRunning = try await beforeKill.asyncFilter { try await il.status($0).phase == .running }

                await sidecar.kill9()
                let ranBeforeKill = ledger.counts().count
                #expect(ranBeforeKill > 0, "the kill must come mid-run, after some pods ran")
                #expect(try await il.request("POST", "/pinglink", body: nil).status == 503, "a dead sidecar makes the node NotReady")
                for p in whileDown { #expect(try await il.create(PodCreateRequests(pod: p)).status == 200) }
                try await Task.sleep(nanoseconds: 3_000_000_000)
                // Last known state kept: nothing that was running is declared lost or failed.
                for p in seenRunning {
                    let s = try await il.status(p)
                    #expect(s.phase == .running || s.phase == .succeeded, "\(p.name) while the sidecar is down: \(s)")
                    #expect(s.containers.first?.restartCount == 0)
                }
                let ranWhileDown = ledger.counts()
                #expect(whileDown.allSatisfy { ranWhileDown[$0.name] == nil }, "nothing can run while the sidecar is down")

                try await sidecar.start()
                for p in pods {
                    let (s, _) = try await il.waitForStatus(p, timeout: 300) { $0.phase == .succeeded || $0.phase == .failed }
                    #expect(s.phase == .succeeded, "\(p.name): \(s)\nsidecar log of this pod:\n\(sidecar.logs(of: p.uid))")
                    #expect(s.containers.first?.restartCount == 0, "\(p.name) was never re-created")
                }
                let runs = ledger.counts()
                for p in pods { #expect(runs[p.name] == 1, "\(p.name) ran \(runs[p.name] ?? 0) times") }
                #expect(runs.count == pods.count)
                print("sidecar restart (\(b.kind)): \(pods.count) pods, \(ranBeforeKill) had run at the kill, \(seenRunning.count) seen running, \(whileDown.count) created while down")
                for p in pods.prefix(3) + whileDown.prefix(3) {
                    #expect(try await il.logText(p, "main") == "done \(p.name)\n")
                }
                for p in pods {
                    let jobs = try await backendJobs(p)
                    #expect(jobs.count <= 1, "\(p.name) has \(jobs.count) backend jobs: \(jobs)")
                    // The job id the VK sees is the backend's own (Slurm job id, Docker container id).
                    let jid = try await il.status(p).JID
                    #expect(!jid.isEmpty && jid != p.uid, "\(p.name): JID \(jid)")
                    if let only = jobs.first { #expect(jid.hasPrefix(only) || only.hasPrefix(jid), "\(p.name): JID \(jid), backend \(only)") }
                }
                #expect(try await il.request("POST", "/pinglink", body: nil).status == 200)
                for p in pods { #expect(try await il.delete(p).status == 200) }
                for p in pods { _ = try await il.waitForStatus(p, timeout: 120) { $0.containers.isEmpty } }
            }
        } catch {
            await sidecar.stop()
            if ProcessInfo.processInfo.environment["INTERLINK_KEEP_TEST_DIRS"] == nil { sidecar.cleanup() }
            throw error
        }
        await sidecar.stop()
        if ProcessInfo.processInfo.environment["INTERLINK_KEEP_TEST_DIRS"] == nil { sidecar.cleanup() }
    }

    @Test(.enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY"))
    func slurmSidecarKilledMidRunLosesNothingAndRunsNothingTwice() async throws {
        try await run(Self.slurm()) { pod in try await SlurmCLI.jobs(ofPod: pod.uid) }
    }

    @Test(.enabled(if: TestEnv.hasDocker, "needs INTERLINK_TEST_DOCKER_HOST and INTERLINK_TEST_BINARY"))
    func dockerSidecarKilledMidRunLosesNothingAndRunsNothingTwice() async throws {
        try await run(Self.docker()) { pod in try await DockerCLI.containers(ofPod: pod.uid) }
    }
}

extension Sequence where Element: Sendable {
    func asyncFilter(_ keep: (Element) async throws -> Bool) async rethrows -> [Element] {
        var out: [Element] = []
        for e in self where try await keep(e) { out.append(e) }
        return out
    }
}
