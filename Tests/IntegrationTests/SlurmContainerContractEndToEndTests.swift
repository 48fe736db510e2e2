import Foundation
import Model
import Providers
import Testing

/// Container fields Kubernetes defines, honoured by the Slurm provider: real
/// binary over HTTP, real one-node Slurm, runtimes `none` and `docker`.
@Suite("Slurm container contract end to end", .serialized,
       .enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY (make test starts Slurm)"))
struct SlurmContainerContractEndToEndTests {
    func withIL(runtime: String, _ body: (InterLinkInstance) async throws -> Void) async throws {
        try await InterLinkInstance.with(provider: "slurm", extraConfig: """
        ContainerRuntime: \(runtime)
        DockerHost: \(TestEnv.dockerHost ?? "")
        """, environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""], body)
    }

    func finished(_ s: PodStatus) -> Bool { s.phase == .succeeded || s.phase == .failed }

    static let runtimes = TestEnv.dockerHost != nil ? ["none", "docker"] : ["none"]

    @Test(arguments: runtimes)
    func workingDirIsWhereTheContainerStarts(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            var main = Pods.shell("main", "pwd")
            main.workingDir = "/tmp"
            let pod = Pods.make("workdir", containers: [main])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "/tmp\n")
        }
    }

    @Test(.enabled(if: TestEnv.dockerHost != nil, "runtime docker needs the test dockerd"))
    func runAsUserAndReadOnlyRootFilesystemHoldInsideADockerJob() async throws {
        try await withIL(runtime: "docker") { il in
            var main = Pods.shell("main", "id -u; id -g; touch /probe 2>/dev/null && echo writable || echo read-only")
            main.securityContext = SecurityContext(runAsUser: 1234, runAsGroup: 4321, readOnlyRootFilesystem: true)
            let pod = Pods.make("security", containers: [main])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "1234\n4321\nread-only\n")
        }
    }

    @Test(.enabled(if: TestEnv.dockerHost != nil, "runtime docker needs the test dockerd"))
    func whatTheContainerWritesToTheTerminationLogBecomesTheTerminatedMessage() async throws {
        try await withIL(runtime: "docker") { il in
            var main = Pods.shell("main", "printf 'disk full on /scratch' > /dev/termination-log; exit 3")
            main.securityContext = SecurityContext(runAsUser: 1234)   // any user may write it, as with kubelet
            let quiet = Pods.shell("quiet", "exit 4")
            let pod = Pods.make("term-msg", containers: [main, quiet])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .failed, "\(s)")
            #expect(s.container("main")?.state.terminated?.exitCode == 3)
            #expect(s.container("main")?.state.terminated?.message == "disk full on /scratch", "\(s)")
            #expect(s.container("quiet")?.state.terminated?.message == nil, "\(s)")
        }
    }

    @Test(.enabled(if: TestEnv.dockerHost != nil, "runtime docker needs the test dockerd"))
    func theImagesEntrypointAndCmdRunWhenThePodGivesNoCommand() async throws {
        let image = "interlink-test/entrypoint-slurm:latest"
        var env = ProcessInfo.processInfo.environment
        env["DOCKER_HOST"] = TestEnv.dockerHost
        let dockerfile = "FROM \(TestEnv.image)\nENTRYPOINT [\"echo\", \"from-entrypoint\"]\nCMD [\"default-cmd\"]\n"
        let built = try await ProcessRunner.run("docker", ["build", "-q", "-t", image, "-"], environment: env,
                                                stdin: Data(dockerfile.utf8), timeout: 120)
        #expect(built.succeeded, "\(built.stderrText)")
        try await withIL(runtime: "docker") { il in
            let plain = Container(name: "plain", image: image)
            let withArgs = Container(name: "args", image: image, args: ["given"])
            let pod = Pods.make("entrypoint", containers: [plain, withArgs])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "plain", "from-entrypoint default-cmd\n")
            try await expectLog(il, pod, "args", "from-entrypoint given\n")
        }
    }
}

/// Slurm counts time limits in minutes and enforces them on a periodic sweep, so
/// this takes 60-120 s; its own suite runs beside the others.
@Suite("Slurm deadline under upstream flags", .enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY"))
struct SlurmDeadlineUnderUpstreamFlagsTests {
    @Test func activeDeadlineSecondsStillEndsAPodWhoseAnnotationAsksForMoreTime() async throws {
        try await InterLinkInstance.with(provider: "slurm", extraConfig: "ContainerRuntime: none",
                                         environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""]) { il in
            var pod = Pods.make("deadline-flags", containers: [Pods.shell("main", "sleep 600")],
                                annotations: ["slurm-job.vk.io/flags": "--job-name=test-pod-cfg -t 2800"])
            pod.spec?.activeDeadlineSeconds = 30
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 240, { $0.phase == .failed || $0.phase == .succeeded })
            #expect(s.phase == .failed)
            #expect(s.container("main")?.state.terminated?.reason == "DeadlineExceeded", "\(s)")
        }
    }
}
