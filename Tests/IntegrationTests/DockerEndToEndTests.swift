import Foundation
import Model
import Testing

/// The Docker provider through the whole product: real `interlink` binary,
/// real HTTP API, real dockerd (started by scripts/dockerd.sh).
@Suite("End to end on a real Docker engine", .serialized,
       .enabled(if: TestEnv.hasDocker, "needs INTERLINK_TEST_DOCKER_HOST and INTERLINK_TEST_BINARY (make test starts dockerd)"))
struct DockerEndToEndTests {
    func withIL(_ body: (InterLinkInstance) async throws -> Void) async throws {
        try await InterLinkInstance.with(provider: "docker", extraConfig: """
        DockerHost: \(TestEnv.dockerHost ?? "")
        DockerNetwork: none
        MaxCreateAttempts: 3
        """, body)
    }

    @Test func helloWorldSucceedsWithItsLogs() async throws {
        try await withIL { il in
            let pod = Pods.make("hello", containers: [Pods.shell("main", "echo hello from docker")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(s.phase == .succeeded)
            #expect(s.container("main")?.state.terminated?.reason == "Completed")
            try await expectLog(il, pod, "main", "hello from docker\n")
        }
    }

    @Test func exit42IsFailedWithExitCode42() async throws {
        try await withIL { il in
            let pod = Pods.make("exit42", containers: [Pods.shell("main", "exit 42")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .failed || $0.phase == .succeeded }
            #expect(s.phase == .failed)
            #expect(s.container("main")?.state.terminated?.exitCode == 42)
        }
    }

    @Test func aPodPastItsActiveDeadlineIsFailedDeadlineExceededAndStopped() async throws {
        try await withIL { il in
            var pod = Pods.make("deadline", containers: [Pods.shell("main", "sleep 600")])
            pod.spec?.activeDeadlineSeconds = 3
            pod.spec?.terminationGracePeriodSeconds = 1
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .failed || $0.phase == .succeeded }
            #expect(s.phase == .failed)
            #expect(s.container("main")?.state.terminated?.reason == "DeadlineExceeded", "\(s)")
            // Its container is stopped, not left running for the remaining 600 s.
            var running = true
            for _ in 0..<60 where running {
                let ids = try await DockerCLI.containers(ofPod: pod.uid)
                var states: [String] = []
                for id in ids { states.append(((try await DockerCLI.inspect(id))["State"] as? [String: Any])?["Status"] as? String ?? "") }
                running = states.contains("running")
                if running { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(!running, "the container still runs after DeadlineExceeded")
        }
    }

    @Test func initContainersHandAFileToTheMainContainerThroughAnEmptyDir() async throws {
        try await withIL { il in
            let mount = [VolumeMount(name: "work", mountPath: "/work")]
            var first = Pods.shell("first", "echo one > /work/data")
            first.volumeMounts = mount
            var second = Pods.shell("second", "test -f /work/data && echo two >> /work/data")
            second.volumeMounts = mount
            var main = Pods.shell("main", "cat /work/data")
            main.volumeMounts = mount
            let pod = Pods.make("init", containers: [main], initContainers: [first, second],
                                volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 90) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(s.phase == .succeeded, "\(s)")
            #expect(s.initContainers.count == 2)
            #expect(s.initContainers.allSatisfy { $0.state.terminated?.exitCode == 0 })
            try await expectLog(il, pod, "main", "one\ntwo\n")
        }
    }

    @Test func configMapAndSecretAppearAsFilesAndEnv() async throws {
        try await withIL { il in
            let (pod, cm, secret) = Pods.withConfigMapAndSecret()
            #expect(try await il.create(PodCreateRequests(pod: pod, configmaps: [cm], secrets: [secret])).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(s.phase == .succeeded, "\(s)")
            try await expectLog(il, pod, "main", Pods.configMapAndSecretOutput)
        }
    }

    @Test func envValuesAndArgsArriveByteExact() async throws {
        try await withIL { il in
            let env = Hostile.values.enumerated().map { EnvVar(name: "V\($0.offset)", value: $0.element) }
            // Each value bracketed on its own line(s): logs are line-based, values may hold newlines.
            let script = (0..<Hostile.values.count).map { "printf '[%s]\\n' \"$V\($0)\"" }.joined(separator: "; ")
            var main = Pods.shell("main", script)
            main.env = env
            var args = Container(name: "args", image: TestEnv.image, command: ["/bin/sh", "-c", "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done", "sh"], args: Hostile.values)
            args.env = nil
            let pod = Pods.make("bytes", containers: [main, args])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(s.phase == .succeeded, "\(s)")
            let expected = Hostile.values.map { "[\($0)]\n" }.joined()
            try await expectLog(il, pod, "main", expected)
            try await expectLog(il, pod, "args", expected)
        }
    }

    @Test func memoryAndCPULimitsShowInDockerInspect() async throws {
        try await withIL { il in
            var main = Pods.shell("main", "sleep 30")
            main.resources = ResourceRequirements(limits: ["memory": "64Mi", "cpu": "500m"])
            let pod = Pods.make("limits", containers: [main])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .running }
            let id = try #require(try await DockerCLI.containers(ofPod: pod.uid).first)
            let host = try #require(try await DockerCLI.inspect(id)["HostConfig"] as? [String: Any])
            #expect(host["Memory"] as? Int == 64 * 1024 * 1024)
            #expect(host["NanoCpus"] as? Int == 500_000_000)
            #expect(try await il.delete(pod).status == 200)
        }
    }

    @Test func aReadOnlyMountRejectsWrites() async throws {
        try await withIL { il in
            var main = Pods.shell("main", "if (echo x > /data/file) 2>/dev/null; then echo writable; else echo read-only; fi")
            main.volumeMounts = [VolumeMount(name: "data", mountPath: "/data", readOnly: true)]
            let pod = Pods.make("ro", containers: [main], volumes: [Volume(name: "data", emptyDir: EmptyDirVolumeSource())])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .succeeded || $0.phase == .failed }
            try await expectLog(il, pod, "main", "read-only\n")
        }
    }

    @Test func deleteRemovesContainersAndThePodDirectory() async throws {
        try await withIL { il in
            var main = Pods.shell("main", "sleep 300")
            main.volumeMounts = [VolumeMount(name: "scratch", mountPath: "/scratch")]
            let pod = Pods.make("del", containers: [main], volumes: [Volume(name: "scratch", emptyDir: EmptyDirVolumeSource())])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .running }
            let podDir = "\(il.dataRoot)/\(pod.namespace)-\(pod.uid)"
            #expect(FileManager.default.fileExists(atPath: podDir))
            #expect(try await il.delete(pod).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.containers.isEmpty }
            try await waitUntil(60) { try await DockerCLI.containers(ofPod: pod.uid).isEmpty }
            try await waitUntil(30) { !FileManager.default.fileExists(atPath: podDir) }
        }
    }

    @Test func aContainerRemovedBehindOurBackIsRecreatedForRestartPolicyAlways() async throws {
        try await withIL { il in
            let pod = Pods.make("heal", containers: [Pods.shell("main", "sleep 300")], restartPolicy: "Always")
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .running }
            let before = try await DockerCLI.containers(ofPod: pod.uid)
            _ = try await DockerCLI.run(["rm", "-f"] + before)
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { ($0.container("main")?.restartCount ?? 0) >= 1 && $0.phase == .running }
            #expect(s.container("main")?.restartCount == 1)
            let after = try await DockerCLI.containers(ofPod: pod.uid)
            #expect(after.count == 1)
            #expect(Set(after).isDisjoint(with: before))
            #expect(try await il.delete(pod).status == 200)
        }
    }

    @Test func aContainerRemovedBehindOurBackFailsThePodForRestartPolicyNever() async throws {
        try await withIL { il in
            let pod = Pods.make("lost", containers: [Pods.shell("main", "sleep 300")], restartPolicy: "Never")
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .running }
            _ = try await DockerCLI.run(["rm", "-f"] + (try await DockerCLI.containers(ofPod: pod.uid)))
            let (s, _) = try await il.waitForStatus(pod, timeout: 60) { $0.phase == .failed }
            #expect(s.container("main")?.state.terminated?.message?.isEmpty == false)
            #expect(try await DockerCLI.containers(ofPod: pod.uid).isEmpty)
        }
    }

    @Test func restartingInterlinkMidRunLosesNothingAndDuplicatesNothing() async throws {
        try await withIL { il in
            let pods = (0..<3).map { Pods.make("restart-\($0)", containers: [Pods.shell("main", "sleep 4; echo done")]) }
            for p in pods { #expect(try await il.create(PodCreateRequests(pod: p)).status == 200) }
            for p in pods { try await il.waitForStatus(p, timeout: 60) { $0.phase == .running } }
            await il.kill9()
            try await il.start()
            for p in pods {
                let (s, _) = try await il.waitForStatus(p, timeout: 60) { $0.phase == .succeeded || $0.phase == .failed }
                #expect(s.phase == .succeeded)
                #expect(s.container("main")?.restartCount == 0)
                #expect(try await DockerCLI.containers(ofPod: p.uid).count == 1, "exactly one container per pod container")
                try await expectLog(il, p, "main", "done\n")
            }
        }
    }

    @Test func aMissingImageEndsFailedWithDockersMessage() async throws {
        try await withIL { il in
            let pod = Pods.make("noimage", containers: [Container(name: "main", image: "interlink-test/does-not-exist:1")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120) { $0.phase == .failed }
            let t = try #require(s.container("main")?.state.terminated)
            #expect(t.reason == "ErrImagePull")
            #expect(t.message?.isEmpty == false)
        }
    }

    @Test func aMissingImageInTheSecondContainerRetriesWithErrImagePullThenFailsWithDockersMessage() async throws {
        try await withIL { il in
            let pod = Pods.make("partial", containers: [Pods.shell("first", "echo hi"),
                                                        Container(name: "second", image: "interlink-test/does-not-exist:1")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (waiting, _) = try await il.waitForStatus(pod, timeout: 60) { $0.container("second")?.state.waiting?.reason == "ErrImagePull" }
            #expect(waiting.container("second")?.state.waiting?.message?.isEmpty == false)
            let (s, _) = try await il.waitForStatus(pod, timeout: 120) { $0.phase == .failed }
            let t = try #require(s.container("second")?.state.terminated)
            #expect(t.reason == "ErrImagePull")
            #expect(t.message?.contains("does-not-exist") == true, "\(t)")
            #expect(t.message?.contains("3 tries") == true, "\(t)")
            #expect(try await DockerCLI.containers(ofPod: pod.uid).isEmpty, "no half-made pod is left running or adopted")
        }
    }

    @Test func aHugeGracePeriodNeitherCrashesTheServerOnDeleteNorKeepsThePod() async throws {
        try await withIL { il in
            // The container ends on TERM, so the stop itself is quick whatever the grace period.
            var pod = Pods.make("grace", containers: [Pods.shell("main", "trap 'exit 0' TERM; while :; do sleep 1; done")])
            pod.spec?.terminationGracePeriodSeconds = 3_000_000
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            try await il.waitForStatus(pod, timeout: 60) { $0.phase == .running }
            #expect(try await il.delete(pod).status == 200)
            try await waitUntil(60) { try await DockerCLI.containers(ofPod: pod.uid).isEmpty }
            #expect(try await il.request("GET", "/readyz", body: nil).status == 200, "the server is still alive")
            try await il.waitForStatus(pod, timeout: 30) { $0.containers.isEmpty }
        }
    }

    func waitUntil(_ seconds: Double, _ cond: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await cond() { return }
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        Issue.record("condition not met within \(seconds)s")
    }
}
