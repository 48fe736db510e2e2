import Foundation
import Model
import Providers
import Testing

/// What a pod's Slurm annotations may and may not do, through the whole product:
/// the real binary over HTTP, a real one-node Slurm, runtime `none`.
@Suite("Slurm annotation policy end to end", .serialized,
       .enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY (make test starts Slurm)"))
struct SlurmPolicyEndToEndTests {
    func withIL(environment: [String: String] = [:], _ body: (InterLinkInstance) async throws -> Void) async throws {
        var env = environment
        env["SLURM_CONF"] = TestEnv.slurmConf ?? ""
        try await InterLinkInstance.with(provider: "slurm", extraConfig: "ContainerRuntime: none", environment: env, body)
    }

    func finished(_ s: PodStatus) -> Bool { s.phase == .succeeded || s.phase == .failed }

    @Test func exportInjectionInTheFlagsAnnotationRunsNothingAndFailsThePod() async throws {
        let canary = "/tmp/il-export-canary-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: canary) }
        try await withIL { il in
            // bash expands BASH_ENV (command substitution included) before it runs the batch script.
            let pod = Pods.make("export-inject", containers: [Pods.shell("main", "echo ran")],
                                annotations: ["slurm-job.vk.io/flags": "--export=ALL,BASH_ENV=$(touch${IFS}\(canary))"])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .failed, "\(s)")
            let t = s.container("main")?.state.terminated
            #expect(t?.reason == "CreateContainerConfigError", "\(s)")
            #expect(t?.message?.contains("--export") == true, "the reason names the option: \(t?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: canary), "the annotation ran code in the batch shell")
        }
    }

    @Test func upstreamAcceptanceSuiteFlagsLetThePodSucceed() async throws {
        try await withIL { il in
            // vk-test-set puts exactly this on every pod; --job-name is InterLink's, so it is overridden, not fatal.
            let pod = Pods.make("upstream-flags", containers: [Pods.shell("main", "echo upstream ok")],
                                annotations: ["slurm-job.vk.io/flags": "--job-name=test-pod-cfg -t 2800"])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "upstream ok\n")
            #expect(il.log().contains("test-pod-cfg"), "the override is logged")
        }
    }

    @Test func interLinksOwnEnvironmentNeverReachesTheJob() async throws {
        try await withIL(environment: ["IL_TEST_SERVER_SECRET": "server-only-value"]) { il in
            let pod = Pods.make("no-env-leak", containers: [Pods.shell("main", "echo \"secret=${IL_TEST_SERVER_SECRET-unset}\"")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "secret=unset\n")
        }
    }

    @Test func aPodWithA253CharacterNameRuns() async throws {
        let name = [String(repeating: "a", count: 63), String(repeating: "b", count: 63),
                    String(repeating: "c", count: 63), String(repeating: "d", count: 61)].joined(separator: ".")
        #expect(name.count == 253)
        try await withIL { il in
            let pod = Pods.make(name, containers: [Pods.shell("main", "echo long name ok")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "long name ok\n")
        }
    }

    @Test(.enabled(if: TestEnv.dockerHost != nil, "runtime docker needs the test dockerd"))
    func aSubPathAnInitContainerTurnedIntoASymlinkToTheHostIsNotMounted() async throws {
        // A file of the host (the compute node) that no pod may read.
        let secret = "/tmp/il-host-secret-\(UUID().uuidString.prefix(8))"
        try "host only".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        try await InterLinkInstance.with(provider: "slurm", extraConfig: """
        ContainerRuntime: docker
        DockerHost: \(TestEnv.dockerHost ?? "")
        """, environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""]) { il in
            var swap = Pods.shell("swap", "rm -rf /work/sub && ln -s / /work/sub")
            swap.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
            var main = Pods.shell("main", "cat /mnt\(secret)")
            main.volumeMounts = [VolumeMount(name: "work", mountPath: "/mnt", subPath: "sub")]
            let pod = Pods.make("subpath-escape", containers: [main], initContainers: [swap],
                                volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .failed, "\(s)")
            let t = s.container("main")?.state.terminated
            #expect(t?.exitCode == 126, "\(s)")
            #expect(t?.reason == "InvalidVolumePath", "\(s)")
            let log = (try? await il.logText(pod, "main")) ?? ""
            #expect(!log.contains("host only"), "the container read a file of the host")
        }
    }
}
