import FoundationEssentials
import Testing
import Model
import Synchronization
@testable import Providers

/// The pure parts of the Docker provider: argv building, naming, state mapping
/// from canned `docker inspect` JSON, init sequencing and log options. No daemon.
@Suite struct DockerUnitTests {
    func pod(_ containers: [Container], inits: [Container]? = nil, name: String = "web",
             uid: String = "0a1b2c3d-4e5f-6789-abcd-ef0123456789", attempt: Int = 0) -> DesiredPod {
        var spec = PodSpec(containers: containers, initContainers: inits)
        spec.securityContext = nil
        return DesiredPod(request: PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: name, namespace: "ns1", uid: uid),
                                                              spec: spec)), attempt: attempt)
    }

    func plan(_ c: Container, env: [(name: String, value: String)] = [], mounts: [Mount] = [],
              local: Bool = true) -> DockerContainerPlan {
        DockerContainerPlan(container: c, isInit: false, index: 0, count: 1, environment: env, mounts: mounts, imageIsLocal: local)
    }

    /// The image and everything after it: what the container receives as argv.
    func tail(_ args: [String]) -> [String] { Array(args[(args.firstIndex(of: "--")! + 1)...]) }

    @Test func createArgsLabelNameAndPinTheImageAfterDoubleDash() throws {
        let c = Container(name: "main", image: "busybox:1")
        let args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings(instanceName: "il1", network: "none"))
        #expect(args.first == "create")
        let name = try #require(args.first { $0.hasPrefix("--name=") })
        #expect(name.hasPrefix("--name=il-ns1-web-") && name.hasSuffix("-main-a0"))
        for label in ["interlink.managed=il1", "interlink.pod-uid=0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                      "interlink.namespace=ns1", "interlink.pod-name=web", "interlink.container=main",
                      "interlink.attempt=0", "interlink.init=false", "interlink.index=0", "interlink.count=1"] {
            #expect(args.contains("--label=\(label)"))
        }
        #expect(args.contains("--network=none"))
        #expect(args.contains("--pull=never"))
        #expect(tail(args) == ["busybox:1"])
    }

    @Test func commandReplacesEntrypointAndArgsReplaceCmd() throws {
        var c = Container(name: "c", image: "img", command: ["/bin/sh", "-c"], args: ["echo hi; exit 3"])
        var args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(args.contains("--entrypoint=/bin/sh"))
        #expect(tail(args) == ["img", "-c", "echo hi; exit 3"])

        c = Container(name: "c", image: "img", args: ["x", "y"])
        args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(!args.contains { $0.hasPrefix("--entrypoint") })
        #expect(tail(args) == ["img", "x", "y"])

        c = Container(name: "c", image: "img")
        args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(!args.contains { $0.hasPrefix("--entrypoint") })
        #expect(tail(args) == ["img"])
    }

    @Test func hostileValuesStayInsideTheirOwnArgvItems() throws {
        let hostile = ["--privileged", "; rm -rf / #", "$(id)", "`id`", "a\nb", "-v=/:/host"]
        let c = Container(name: "c", image: "img", command: ["/bin/echo"] + hostile, args: hostile)
        let env = hostile.enumerated().map { (name: "V\($0.offset)", value: $0.element) }
        let p = pod([c], name: "x;$(id)`id`\n--privileged")
        let args = try DockerCreateArgs.build(pod: p, plan: plan(c, env: env), settings: DockerSettings())
        // Before `--` every item is one `--flag=value`, so nothing user-made stands alone as a flag.
        let flags = args[1..<args.firstIndex(of: "--")!]
        #expect(flags.allSatisfy { $0.hasPrefix("--") && ($0.contains("=") || $0 == "--read-only") })
        #expect(args.filter { $0 == "--privileged" }.count == 2)  // both inside the container's argv
        #expect(tail(args) == ["img"] + hostile + hostile)
        for i in hostile.indices { #expect(args.contains("--env=V\(i)")) }
        let name = args.first { $0.hasPrefix("--name=") }!
        #expect(name.dropFirst(7).allSatisfy { $0.isLetter || $0.isNumber || "_.-".contains($0) })
        #expect(!args.contains { $0.hasPrefix("--hostname") })  // not a DNS label, so not used
    }

    @Test func envValuesTravelInTheCLIsEnvironmentNeverInArgv() throws {
        let c = Container(name: "c", image: "img")
        let env = [(name: "PASSWORD", value: "s3cr3t-value"), (name: "MULTI", value: "a\nb")]
        let cmd = try DockerCreateArgs.command(pod: pod([c]), plan: plan(c, env: env), settings: DockerSettings())
        #expect(!cmd.args.contains { $0.contains("s3cr3t-value") || $0.contains("a\nb") })
        #expect(cmd.args.contains("--env=PASSWORD") && cmd.args.contains("--env=MULTI"))
        #expect(cmd.environment.inherited.map(\.name) == ["PASSWORD", "MULTI"])
        #expect(cmd.environment.inherited.map(\.value) == ["s3cr3t-value", "a\nb"])
        #expect(cmd.environment.file == nil && !cmd.args.contains { $0.hasPrefix("--env-file") })
    }

    @Test func namesTheCLIReadsItselfGoThroughAnEnvFileAndCannotHoldALineBreak() throws {
        let c = Container(name: "c", image: "img")
        var p = plan(c, env: [(name: "DOCKER_HOST", value: "tcp://evil:2375"), (name: "LD_PRELOAD", value: "/x.so"),
                              (name: "path", value: "/opt/bin"), (name: "APP", value: "v")])
        p.envFilePath = "/pods/p/.env-main-0"
        let cmd = try DockerCreateArgs.command(pod: pod([c]), plan: p, settings: DockerSettings())
        #expect(cmd.environment.inherited.map(\.name) == ["APP"], "nothing that changes how the CLI runs")
        #expect(cmd.environment.file == Data("DOCKER_HOST=tcp://evil:2375\nLD_PRELOAD=/x.so\npath=/opt/bin\n".utf8))
        #expect(cmd.args.contains("--env-file=/pods/p/.env-main-0"))
        #expect(!cmd.args.contains { $0.contains("evil") || $0.contains("/x.so") })
        p = plan(c, env: [(name: "PATH", value: "/bin\n/evil")])
        p.envFilePath = "/pods/p/.env-main-0"
        #expect(throws: ProviderError.self) { try DockerCreateArgs.command(pod: pod([c]), plan: p, settings: DockerSettings()) }
    }

    @Test func resourcesBecomeMemoryCpusAndGPUsWhenEnabled() throws {
        var c = Container(name: "c", image: "img", resources: ResourceRequirements(
            limits: ["memory": "128Mi", "cpu": "500m"], requests: ["cpu": "250m"]))
        var args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(args.contains("--memory=134217728"))
        #expect(args.contains("--cpus=0.5"))

        c.resources = ResourceRequirements(requests: ["cpu": "1500m", "memory": "1Gi"])
        args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(args.contains("--cpus=1.5"))
        #expect(args.contains("--memory=1073741824"))

        c.resources = ResourceRequirements(limits: ["nvidia.com/gpu": "2"])
        #expect(throws: ProviderError.self) {
            try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings(enableGPU: false))
        }
        args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings(enableGPU: true))
        #expect(args.contains("--gpus=2"))

        c.resources = ResourceRequirements(limits: ["memory": "lots"])
        #expect(throws: ProviderError.self) {
            try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        }
    }

    @Test func securityContextAndWorkingDir() throws {
        var c = Container(name: "c", image: "img")
        c.securityContext = SecurityContext(runAsUser: 1000, runAsGroup: 2000, readOnlyRootFilesystem: true)
        c.workingDir = "/work dir"
        let args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        #expect(args.contains("--user=1000:2000"))
        #expect(args.contains("--read-only"))
        #expect(args.contains("--workdir=/work dir"))

        var p = pod([Container(name: "c", image: "img")])
        p.request.pod.spec?.securityContext = PodSecurityContext(runAsUser: 7)
        let podLevel = try DockerCreateArgs.build(pod: p, plan: plan(p.pod.containers[0]), settings: DockerSettings())
        #expect(podLevel.contains("--user=7"))

        c.securityContext?.privileged = true
        #expect(throws: ProviderError.self) {
            try DockerCreateArgs.build(pod: pod([c]), plan: plan(c), settings: DockerSettings())
        }
    }

    @Test func runAsGroupAloneKeepsTheImagesOwnUser() throws {
        var c = Container(name: "c", image: "img")
        c.securityContext = SecurityContext(runAsGroup: 2000)
        var p = plan(c)
        p.imageUser = "app:staff"
        #expect(try DockerCreateArgs.build(pod: pod([c]), plan: p, settings: DockerSettings()).contains("--user=app:2000"))
        p.imageUser = ""
        #expect(try DockerCreateArgs.build(pod: pod([c]), plan: p, settings: DockerSettings()).contains("--user=0:2000"))
        p.imageUser = nil
        #expect(throws: ProviderError.self) { try DockerCreateArgs.build(pod: pod([c]), plan: p, settings: DockerSettings()) }
    }

    @Test func mountsAreBindMountsWithCSVQuotingAndReadOnly() throws {
        let c = Container(name: "c", image: "img")
        let args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c, mounts: [
            Mount(hostPath: "/data/ns1-u/cm", containerPath: "/etc/cfg", readOnly: true),
            Mount(hostPath: "/data/a,b", containerPath: "/odd \"x\"", readOnly: false),
        ]), settings: DockerSettings())
        #expect(args.contains("--mount=type=bind,source=/data/ns1-u/cm,target=/etc/cfg,readonly"))
        #expect(args.contains("--mount=type=bind,\"source=/data/a,b\",\"target=/odd \"\"x\"\"\""))
        #expect(throws: ProviderError.self) {
            try DockerCreateArgs.build(pod: pod([c]), plan: plan(c, mounts: [Mount(hostPath: "/a", containerPath: "rel", readOnly: false)]),
                                       settings: DockerSettings())
        }
    }

    @Test func nulBytesAndMissingImagesAreRefusedWithASentence() throws {
        let c = Container(name: "c", image: "img")
        #expect(throws: ProviderError.self) {
            try DockerCreateArgs.build(pod: pod([c]), plan: plan(c, env: [(name: "A", value: "x\u{0}y")]), settings: DockerSettings())
        }
        let noImage = Container(name: "c", image: "")
        do {
            _ = try DockerCreateArgs.build(pod: pod([noImage]), plan: plan(noImage), settings: DockerSettings())
            Issue.record("an empty image was accepted")
        } catch {
            #expect(error.description == "container c has no image")
        }
    }

    @Test func imageNotLocalLetsDockerPull() throws {
        let c = Container(name: "c", image: "img")
        let args = try DockerCreateArgs.build(pod: pod([c]), plan: plan(c, local: false), settings: DockerSettings())
        #expect(args.contains("--pull=missing"))
    }

    @Test func containerNamesDifferAcrossPodsAndAttempts() {
        let a = DockerNaming.containerName(namespace: "ns", podName: "p", uid: "11111111-aaaa", container: "c", attempt: 0)
        let b = DockerNaming.containerName(namespace: "ns", podName: "p", uid: "22222222-aaaa", container: "c", attempt: 0)
        let c = DockerNaming.containerName(namespace: "ns", podName: "p", uid: "11111111-aaaa", container: "c", attempt: 1)
        #expect(Set([a, b, c]).count == 3)
        let odd = DockerNaming.containerName(namespace: "n s", podName: "a;b/c", uid: "u", container: "x", attempt: 2)
        #expect(odd.hasPrefix("il-n-s-a-b-c-") && odd.hasSuffix("-x-a2"))
        #expect(odd == DockerNaming.containerName(namespace: "n s", podName: "a;b/c", uid: "u", container: "x", attempt: 2), "deterministic")
    }

    @Test func podNamesOf253CharactersGiveShortDistinctValidNames() {
        let stem = String(repeating: "multi-container-partial-fail.", count: 8)  // 232 characters with dots
        let names = ["a", "b", "c"].map { stem + String(repeating: $0, count: 253 - stem.count) }
        #expect(names.allSatisfy { $0.count == 253 })
        // Same uid prefix, names equal for their first 232 characters: still distinct.
        let docker = names.map { DockerNaming.containerName(namespace: "default", podName: $0, uid: "11111111-2222", container: "main", attempt: 0) }
        #expect(Set(docker).count == 3)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        #expect(docker.allSatisfy { $0.count <= 160 && $0.allSatisfy(allowed.contains) })
    }

    @Test func decimalCores() {
        #expect(DockerCreateArgs.decimalCores(1000) == "1")
        #expect(DockerCreateArgs.decimalCores(250) == "0.25")
        #expect(DockerCreateArgs.decimalCores(1001) == "1.001")
    }

    @Test func logArgumentsAlwaysAskForTimestampsAndStartWhereTheSelectionDoes() {
        #expect(DockerLogs.arguments(containerID: "abc", selection: LogSelection(LogOpts())) == ["logs", "--timestamps", "--", "abc"])
        let now = Date(timeIntervalSince1970: 1_700_000_030.5)
        #expect(DockerLogs.arguments(containerID: "abc", selection: LogSelection(LogOpts(Tail: 5, Timestamps: true, Follow: true, SinceSeconds: 30), now: now))
                == ["logs", "--timestamps", "--tail=5", "--since=1700000000.500000000", "--follow", "--", "abc"])
        #expect(DockerLogs.arguments(containerID: "abc", selection: LogSelection(LogOpts(SinceTime: "2024-01-01T00:00:00Z")))
                == ["logs", "--timestamps", "--since=1704067200.000000000", "--", "abc"])
        // A pod-sized number never traps: it is clamped to "everything".
        #expect(DockerLogs.arguments(containerID: "abc", selection: LogSelection(LogOpts(Tail: Int.max, SinceSeconds: Int.max))).count == 6)
    }

    @Test func serialLockAdmitsOneHolderAtATimeAcrossAwaits() async throws {
        let lock = AsyncSerialLock()
        final class Probe: Sendable { let inside = Mutex(0), most = Mutex(0), done = Mutex(0) }
        let probe = Probe()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await lock.withLock {
                        let now = probe.inside.withLock { $0 += 1; return $0 }
                        probe.most.withLock { $0 = max($0, now) }
                        try await Task.sleep(for: .milliseconds(2))
                        probe.inside.withLock { $0 -= 1 }
                        probe.done.withLock { $0 += 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(probe.most.withLock { $0 } == 1)
        #expect(probe.done.withLock { $0 } == 20)
    }
}
