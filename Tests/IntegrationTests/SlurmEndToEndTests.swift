import Foundation
import Model
import Providers
import Testing

/// Runs the Slurm CLIs against the test cluster.
enum SlurmCLI {
    static func run(_ tool: String, _ args: [String]) async throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CONF"] = TestEnv.slurmConf
        return try await ProcessRunner.run(tool, args, environment: env, timeout: 60)
    }

    /// Job ids in the queue whose name or comment mentions the pod UID.
    static func jobs(ofPod uid: String) async throws -> [String] {
        let r = try await run("squeue", ["-h", "-o", "%i|%j|%k"])
        return r.stdoutText.split(separator: "\n").filter { $0.contains(uid) }.map { String($0.split(separator: "|")[0]) }
    }
}

/// The Slurm provider through the whole product: real `interlink` binary, real
/// HTTP API, a real one-node Slurm (scripts/slurm.sh), runtime `none` and `docker`.
@Suite("End to end on a real Slurm cluster", .serialized,
       .enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY (make test starts Slurm)"))
struct SlurmEndToEndTests {
    func withIL(runtime: String = "none", _ body: (InterLinkInstance) async throws -> Void) async throws {
        try await InterLinkInstance.with(provider: "slurm", extraConfig: """
        ContainerRuntime: \(runtime)
        DockerHost: \(TestEnv.dockerHost ?? "")
        """, environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""], body)
    }

    func finished(_ s: PodStatus) -> Bool { s.phase == .succeeded || s.phase == .failed }

    /// The container runtimes the jobs use: `none` always, `docker` when the test dockerd runs.
    static let runtimes = TestEnv.dockerHost != nil ? ["none", "docker"] : ["none"]

    @Test(arguments: runtimes)
    func helloWorldSucceedsWithItsLogs(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            let pod = Pods.make("hello", containers: [Pods.shell("main", "echo hello from slurm")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            #expect(!s.JID.isEmpty)
            try await expectLog(il, pod, "main", "hello from slurm\n")
        }
    }

    @Test(arguments: runtimes)
    func exit42FailsWith42(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            let pod = Pods.make("exit42", containers: [Pods.shell("main", "exit 42")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .failed)
            #expect(s.container("main")?.state.terminated?.exitCode == 42)
        }
    }

    @Test(arguments: runtimes)
    func initContainersRunInOrderAndHandDataOnThroughAnEmptyDir(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            let mount = [VolumeMount(name: "work", mountPath: "/work")]
            var a = Pods.shell("a", "echo first > /work/order"); a.volumeMounts = mount
            var b = Pods.shell("b", "echo second >> /work/order"); b.volumeMounts = mount
            var main = Pods.shell("main", "cat /work/order"); main.volumeMounts = mount
            let pod = Pods.make("init", containers: [main], initContainers: [a, b],
                                volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "first\nsecond\n")
        }
    }

    @Test(arguments: runtimes)
    func twoContainersWhereOneFailsShowTheirOwnExitCodes(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            let pod = Pods.make("split", containers: [Pods.shell("ok", "echo fine"), Pods.shell("bad", "exit 3")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .failed)
            #expect(s.container("ok")?.state.terminated?.exitCode == 0)
            #expect(s.container("bad")?.state.terminated?.exitCode == 3)
        }
    }

    @Test(arguments: runtimes)
    func configMapAndSecretAppearAsFilesAndEnv(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            let (pod, cm, secret) = Pods.withConfigMapAndSecret()
            #expect(try await il.create(PodCreateRequests(pod: pod, configmaps: [cm], secrets: [secret])).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", Pods.configMapAndSecretOutput)
        }
    }

    @Test(arguments: runtimes)
    func envAndArgsArriveByteExact(runtime: String) async throws {
        try await withIL(runtime: runtime) { il in
            var main = Pods.shell("main", (0..<Hostile.values.count).map { "printf '[%s]\\n' \"$V\($0)\"" }.joined(separator: "; "))
            main.env = Hostile.values.enumerated().map { EnvVar(name: "V\($0.offset)", value: $0.element) }
            let args = Container(name: "args", image: TestEnv.image, command: ["/bin/sh", "-c", "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done", "sh"], args: Hostile.values)
            let pod = Pods.make("bytes", containers: [main, args],
                                annotations: ["slurm-job.vk.io/flags": "--comment=x", "note": "$(touch /tmp/interlink-pwned) `id`"])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90, finished)
            #expect(s.phase == .succeeded, "\(s)")
            let expected = Hostile.values.map { "[\($0)]\n" }.joined()
            try await expectLog(il, pod, "main", expected)
            try await expectLog(il, pod, "args", expected)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/interlink-pwned"))
        }
    }

    @Test func aJobCancelledBehindOurBackIsResubmittedForRestartPolicyAlways() async throws {
        try await withIL { il in
            let pod = Pods.make("heal", containers: [Pods.shell("main", "sleep 300")], restartPolicy: "Always")
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (running, _) = try await il.waitForStatus(pod, timeout: 90) { $0.phase == .running }
            _ = try await SlurmCLI.run("scancel", [running.JID])
            let (s, _) = try await il.waitForStatus(pod, timeout: 90) { ($0.container("main")?.restartCount ?? 0) >= 1 && $0.phase == .running }
            #expect(s.JID != running.JID)
            #expect(try await il.delete(pod).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.containers.isEmpty }
        }
    }

    @Test func interlinkRestartedMidRunReadoptsEveryJobWithoutResubmitting() async throws {
        try await withIL { il in
            let pods = (0..<3).map { Pods.make("readopt-\($0)", containers: [Pods.shell("main", "sleep 5; echo done")]) }
            for p in pods { #expect(try await il.create(PodCreateRequests(pod: p)).status == 200) }
            var jids: [String: String] = [:]
            // Submitted is enough: on a busy one-node cluster a job may still queue, or already be done.
            for p in pods { jids[p.uid] = try await il.waitForStatus(p, timeout: 90) { !$0.JID.isEmpty }.0.JID }
            await il.kill9()
            try await il.start()
            for p in pods {
                let (s, _) = try await il.waitForStatus(p, timeout: 90, finished)
                #expect(s.phase == .succeeded)
                #expect(s.JID == jids[p.uid], "the job must be re-adopted, not resubmitted")
                try await expectLog(il, p, "main", "done\n")
            }
        }
    }

    @Test func slurmctldRestartedMidRunLosesNothing() async throws {
        try await withIL { il in
            let pod = Pods.make("ctld", containers: [Pods.shell("main", "sleep 6; echo survived")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 90) { $0.phase == .running }
            let restart = try await ProcessRunner.run("scripts/slurm.sh", ["restart-ctld"], timeout: 120)
            #expect(restart.exitCode == 0, "\(restart.stderrText)")
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", "survived\n")
        }
    }

    @Test(.enabled(if: TestEnv.dockerHost != nil, "runtime docker needs the test dockerd"))
    func runtimeDockerRunsTheContainerInTheEngineNotOnTheNode() async throws {
        try await withIL(runtime: "docker") { il in
            let pod = Pods.make("rt-docker", containers: [Pods.shell("main", "hostname")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120, finished)
            #expect(s.phase == .succeeded, "\(s)")
            let inside = try await il.logText(pod, "main").trimmingCharacters(in: .whitespacesAndNewlines)
            // Docker gives each container its own UTS namespace, named after the container.
            #expect(!inside.isEmpty && inside != ProcessInfo.processInfo.hostName, "ran as \(inside) on node \(ProcessInfo.processInfo.hostName)")
        }
    }
}

/// Slurm's smallest time limit is one minute and slurmctld enforces it on a
/// periodic sweep, so this takes 60-120 s; it has its own suite so it runs
/// beside the others instead of after them.
@Suite("Slurm time limit", .enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_BINARY (make test starts Slurm)"))
struct SlurmDeadlineTests {
    @Test func activeDeadlineSecondsExceededShowsDeadlineExceeded() async throws {
        try await InterLinkInstance.with(provider: "slurm", extraConfig: "ContainerRuntime: none",
                                         environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""]) { il in
            var pod = Pods.make("deadline", containers: [Pods.shell("main", "sleep 600")])
            pod.spec?.activeDeadlineSeconds = 30   // -> --time=1 (minutes, rounded up)
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 240) { $0.phase == .failed || $0.phase == .succeeded }
            #expect(s.phase == .failed)
            #expect(s.container("main")?.state.terminated?.reason == "DeadlineExceeded", "\(s)")
        }
    }
}
