import FoundationEssentials
import Testing
import Model
@testable import Providers

/// The Docker provider against a real dockerd (scripts/dockerd.sh start; eval
/// "$(scripts/dockerd.sh env)"). Each test owns an instance name, so they may run
/// in parallel.
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerProviderTests {
    typealias T = DockerTest

    @Test func helloWorldTerminatesWithExitZeroAndItsLogs() async throws {
        let (p, _) = T.provider()
        // Docker copies stdout and stderr on separate pipes, so writes racing each other
        // may be logged in either order; the pauses make the order the test expects real.
        let pod = T.pod([T.sh("hello", "echo hello; sleep 0.3; echo to-stderr >&2; sleep 0.3; echo bye")])
        let jobID = try await p.create(pod)
        #expect(!jobID.isEmpty)
        let o = try await T.waitFinished(p, pod)
        let t = try #require(o.containers.first?.state.terminated)
        #expect(t.exitCode == 0 && t.reason == "Completed")
        #expect(t.startedAt != nil && t.finishedAt != nil)
        #expect(o.containers[0].name == "hello")
        let logs = try await T.logs(p, pod, "hello")
        #expect(logs == "hello\nto-stderr\nbye\n")
        await T.remove(p, [pod])
    }

    @Test func exitCodeIsReportedWithReasonError() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "exit 42")])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 42)
        #expect(o.containers.first?.state.terminated?.reason == "Error")
        await T.remove(p, [pod])
    }

    @Test func initContainersRunInOrderAndHandAFileThroughAnEmptyDir() async throws {
        let (p, _) = T.provider()
        let mount = [VolumeMount(name: "shared", mountPath: "/shared")]
        var i1 = T.sh("first", "echo one >> /shared/log"); i1.volumeMounts = mount
        var i2 = T.sh("second", "test -s /shared/log && echo two >> /shared/log"); i2.volumeMounts = mount
        var main = T.sh("main", "cat /shared/log; echo main"); main.volumeMounts = mount
        let pod = T.pod([main], inits: [i1, i2], volumes: [Volume(name: "shared", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.initContainers.map(\.name) == ["first", "second"])
        #expect(o.initContainers.map { $0.state.terminated?.exitCode } == [0, 0])
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(try await T.logs(p, pod, "main") == "one\ntwo\nmain\n")
        // The init containers ran one after the other, before the main container.
        let firstEnd = try #require(o.initContainers[0].state.terminated?.finishedAt)
        let secondStart = try #require(o.initContainers[1].state.terminated?.startedAt)
        let mainStart = try #require(o.containers[0].state.terminated?.startedAt)
        #expect(firstEnd <= secondStart && secondStart <= mainStart)
        await T.remove(p, [pod])
    }

    @Test func aFailingInitContainerFailsThePodAndTheMainNeverRuns() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("main", "echo should-not-run")], inits: [T.sh("init", "exit 3")])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.initContainers.first?.state.terminated?.exitCode == 3)
        #expect(o.containers.first?.state.waiting?.reason == "PodInitializing")
        #expect(o.message == "init container init failed with exit code 3")
        await T.remove(p, [pod])
    }

    @Test func configMapAndSecretAppearAsFilesAndEnv() async throws {
        let (p, _) = T.provider()
        let cm = ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "default"), data: ["greeting": "hi there\n"])
        let secret = Secret(metadata: ObjectMeta(name: "sec", namespace: "default"),
                            data: ["token": Data("s3cr3t".utf8).base64EncodedString()])
        var c = T.sh("c", "cat /etc/cfg/greeting; cat /etc/sec/token; echo; printf '%s|%s' \"$GREETING\" \"$TOKEN\"")
        c.volumeMounts = [VolumeMount(name: "cfg", mountPath: "/etc/cfg"), VolumeMount(name: "sec", mountPath: "/etc/sec")]
        c.env = [EnvVar(name: "GREETING", valueFrom: EnvVarSource(configMapKeyRef: KeySelector(name: "cfg", key: "greeting"))),
                 EnvVar(name: "TOKEN", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "sec", key: "token")))]
        let pod = T.pod([c], volumes: [Volume(name: "cfg", configMap: ConfigMapVolumeSource(name: "cfg")),
                                       Volume(name: "sec", secret: SecretVolumeSource(secretName: "sec"))],
                        configmaps: [cm], secrets: [secret])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(try await T.logs(p, pod, "c") == "hi there\ns3cr3t\nhi there\n|s3cr3t")
        await T.remove(p, [pod])
    }

    @Test func envValuesArriveByteExact() async throws {
        let (p, _) = T.provider()
        let values = ["say \"hi\" 'there'", "line1\nline2\n", "$(id) `id` $HOME ${X}", "ünïcødé ✓", "", "--privileged", "a=b=c"]
        var c = T.sh("c", "for i in 0 1 2 3 4 5 6; do eval \"printf '%s\\\\036' \\\"\\$V$i\\\"\"; done")
        c.env = values.enumerated().map { EnvVar(name: "V\($0.offset)", value: $0.element) }
        let pod = T.pod([c])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        let out = try await T.logs(p, pod, "c")
        #expect(out.split(separator: "\u{1e}", omittingEmptySubsequences: false).dropLast().map(String.init) == values)
        await T.remove(p, [pod])
    }

    @Test func memoryAndCpuLimitsShowInDockerInspect() async throws {
        let (p, _) = T.provider()
        let c = Container(name: "c", image: T.image, command: ["/bin/true"],
                          resources: ResourceRequirements(limits: ["memory": "64Mi", "cpu": "500m"]))
        let pod = T.pod([c])
        let jobID = try await p.create(pod)
        #expect(try await T.inspect(jobID, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}") == "67108864 500000000")
        await T.remove(p, [pod])
    }

    @Test func aReadOnlyMountRejectsWrites() async throws {
        let (p, _) = T.provider()
        var c = T.sh("c", "touch /ro/x 2>/dev/null && echo wrote-ro || echo refused-ro; touch /rw/x && echo wrote-rw")
        c.volumeMounts = [VolumeMount(name: "v", mountPath: "/ro", readOnly: true), VolumeMount(name: "v", mountPath: "/rw")]
        let pod = T.pod([c], volumes: [Volume(name: "v", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        #expect(try await T.logs(p, pod, "c") == "refused-ro\nwrote-rw\n")
        await T.remove(p, [pod])
    }

    @Test func deleteAndCleanupRemoveEveryContainerAndThePodDirectory() async throws {
        let (p, config) = T.provider()
        var c = T.sh("sleeper", "trap 'exit 0' TERM; sleep 300 & wait")
        c.volumeMounts = [VolumeMount(name: "v", mountPath: "/v")]
        let pod = T.pod([c, T.sh("other", "sleep 300")], inits: [T.sh("init", "true")],
                        volumes: [Volume(name: "v", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let dir = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid).root
        #expect(FileManager.default.fileExists(atPath: dir))
        #expect(try await T.containers(instance: config.instanceName).count == 3)
        try await p.delete(T.ref(pod))
        try await p.cleanup(T.ref(pod))
        #expect(try await T.containers(instance: config.instanceName).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(try await p.observe().isEmpty)
        // Idempotent.
        try await p.delete(T.ref(pod))
        try await p.cleanup(T.ref(pod))
    }

    @Test func observeNoLongerListsAContainerRemovedBehindItsBack() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "sleep 300")])
        let jobID = try await p.create(pod)
        #expect(try await p.observe().map(\.podUID) == [pod.uid])
        _ = try await T.docker(["rm", "-f", jobID])
        #expect(try await p.observe().isEmpty)
        await T.remove(p, [pod])
    }

    @Test func aRestartedProviderReadoptsItsPodsAndCreatingAgainDuplicatesNothing() async throws {
        let (p1, config) = T.provider()
        let pods = [T.pod([T.sh("c", "sleep 300")], name: "a"), T.pod([T.sh("c", "sleep 300")], inits: [T.sh("i", "true")], name: "b")]
        var ids: [String] = []
        for pod in pods { ids.append(try await p1.create(pod)) }
        let before = try await T.containers(instance: config.instanceName).sorted()

        let (p2, _) = T.provider(instance: config.instanceName, dataRoot: config.dataRootFolder)
        let seen = try await p2.observe()
        #expect(Set(seen.map(\.podUID)) == Set(pods.map(\.uid)))
        for (pod, id) in zip(pods, ids) { #expect(try await p2.create(pod) == id) }
        #expect(try await T.containers(instance: config.instanceName).sorted() == before)
        await T.remove(p2, pods)
    }

    @Test func hostileValuesNeverReachAShellNorBecomeDockerFlags() async throws {
        let (p, config) = T.provider()
        let hostile = ["--privileged", "; touch /pwned #", "$(touch /pwned)", "`touch /pwned`", "a\nb", "-v=/:/host", "--network=host"]
        let c = Container(name: "c", image: T.image, command: ["/bin/printf", "%s\\036"], args: hostile,
                          env: [EnvVar(name: "E", value: "$(touch /pwned); --privileged\n`id`")])
        let pod = T.pod([c], name: "evil;$(touch /pwned)`id`\n--privileged", namespace: "ns;--privileged",
                        annotations: ["x": "$(touch /pwned)", "--privileged": "`id`"])
        let jobID = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        let out = try await T.logs(p, pod, "c")
        #expect(out.split(separator: "\u{1e}", omittingEmptySubsequences: false).dropLast().map(String.init) == hostile)
        #expect(try await T.inspect(jobID, "{{.HostConfig.Privileged}} {{.HostConfig.NetworkMode}} {{len .Mounts}}") == "false none 1", "only the termination log")
        #expect(try await T.inspect(jobID, "{{index .Config.Labels \"interlink.pod-name\"}}") == "evil;$(touch /pwned)`id`\n--privileged")
        #expect(!FileManager.default.fileExists(atPath: "/pwned"))
        #expect(!FileManager.default.fileExists(atPath: "\(config.dataRootFolder)/pwned"))
        await T.remove(p, [pod])
    }

    @Test func observeRunsAtMostTwoDockerCommandsForTenPods() async throws {
        let (p, _) = T.provider()
        let pods = (0..<10).map { T.pod([T.sh("c", "sleep 300")], name: "p\($0)") }
        for pod in pods { _ = try await p.create(pod) }
        let before = p.commandCount
        let seen = try await p.observe()
        #expect(p.commandCount - before <= 2)
        #expect(Set(seen.map(\.podUID)) == Set(pods.map(\.uid)))
        #expect(seen.allSatisfy { $0.state == .running && $0.containers.first?.state.running?.startedAt != nil })
        await T.remove(p, pods)
    }

    @Test func aMissingImageFailsCreateWithImageNotFound() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([Container(name: "c", image: "interlink-test/does-not-exist:1")])
        do {
            _ = try await p.create(pod)
            Issue.record("create succeeded with a missing image")
        } catch let e as ProviderError {
            guard case .imageNotFound(let image, let message) = e else { Issue.record("unexpected error \(e)"); return }
            #expect(image == "interlink-test/does-not-exist:1")
            #expect(!message.isEmpty)
            #expect(e.waitingReason == "ErrImagePull")
        }
        await T.remove(p, [pod])
    }

    @Test func securityContextSetsUserAndReadOnlyRootAndWorkingDir() async throws {
        let (p, _) = T.provider()
        var c = T.sh("c", "id -u; id -g; pwd; touch /should-fail 2>/dev/null && echo wrote || echo read-only")
        c.securityContext = SecurityContext(runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: true)
        c.workingDir = "/tmp"
        let pod = T.pod([c])
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        let logs = try await T.logs(p, pod, "c")
        #expect(logs == "65534\n65534\n/tmp\nread-only\n")
        await T.remove(p, [pod])
    }

    @Test func runAsGroupWithoutRunAsUserSetsThePrimaryGroupOfTheImagesUser() async throws {
        let (p, _) = T.provider()
        var c = T.sh("c", "id -u; id -g")
        c.securityContext = SecurityContext(runAsGroup: 4321)
        let pod = T.pod([c])
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        #expect(try await T.logs(p, pod, "c") == "0\n4321\n")
        await T.remove(p, [pod])
    }

    @Test func hostPathIsRefusedUnlessTheConfigAllowsIt() async throws {
        let host = "/tmp/interlink-test/docker-provider-hostpath-\(UInt32.random(in: 0...UInt32.max))"  // outside the provider's DataRootFolder
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try Data("from-host".utf8).write(to: URL(fileURLWithPath: "\(host)/f"))
        defer { try? FileManager.default.removeItem(atPath: host) }
        var c = T.sh("c", "cat /h/f")
        c.volumeMounts = [VolumeMount(name: "h", mountPath: "/h", readOnly: true)]
        let pod = T.pod([c], volumes: [Volume(name: "h", hostPath: HostPathVolumeSource(path: host))])

        let (denied, deniedConfig) = T.provider()
        await #expect(throws: ProviderError.self) { _ = try await denied.create(pod) }
        #expect(try await T.containers(instance: deniedConfig.instanceName).isEmpty)

        let (allowed, _) = T.provider { $0.allowHostPath = true }
        _ = try await allowed.create(pod)
        _ = try await T.waitFinished(allowed, pod)
        #expect(try await T.logs(allowed, pod, "c") == "from-host")
        await T.remove(allowed, [pod])
    }

    @Test func aPodNamedWith253CharactersRunsAndKeepsItsFullNameInLabels() async throws {
        let (p, _) = T.provider()
        let stem = String(repeating: "multi-container-partial-fail.", count: 8)
        let name = stem + String(repeating: "x", count: 253 - stem.count)
        let pod = T.pod([T.sh("main", "echo ok")], name: name)
        let jobID = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(o.name == name)
        #expect(try await T.inspect(jobID, "{{index .Config.Labels \"interlink.pod-name\"}}") == name)
        await T.remove(p, [pod])
    }

    @Test func whatAContainerWritesToDevTerminationLogBecomesItsTerminatedMessage() async throws {
        let (p, _) = T.provider()
        var main = T.sh("main", "printf 'disk full on /data' > /dev/termination-log; exit 3")
        main.securityContext = SecurityContext(runAsUser: 1000)
        let quiet = T.sh("quiet", "true")
        let pod = T.pod([main, quiet])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        let t = try #require(o.containers.first { $0.name == "main" }?.state.terminated)
        #expect(t.exitCode == 3)
        #expect(t.message == "disk full on /data")
        #expect(o.containers.first { $0.name == "quiet" }?.state.terminated?.message == nil)
        await T.remove(p, [pod])
    }

    @Test func aCustomTerminationMessagePathAndTheLogsFallbackFillTheMessageAsKubeletDoes() async throws {
        let (p, _) = T.provider()
        var custom = T.sh("custom", "printf 'quota exceeded' > /tmp/why; exit 4")
        custom.terminationMessagePath = "/tmp/why"
        // 100 lines, the last 80 are the fallback, cut to their last 2048 bytes.
        var fallback = T.sh("fallback", "i=0; while [ $i -lt 100 ]; do echo \"line $i of the failing run, padded to be long enough\"; i=$((i+1)); done; exit 2")
        fallback.terminationMessagePolicy = "FallbackToLogsOnError"
        var wrote = T.sh("wrote", "echo noise; printf 'own words' > /dev/termination-log; exit 5")
        wrote.terminationMessagePolicy = "FallbackToLogsOnError"
        var succeeded = T.sh("succeeded", "echo all good")
        succeeded.terminationMessagePolicy = "FallbackToLogsOnError"
        let filePolicy = T.sh("file", "echo only in the log; exit 6")
        let pod = T.pod([custom, fallback, wrote, succeeded, filePolicy])
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        let o = try #require(try await p.observe().first { $0.podUID == pod.uid })
        func message(_ name: String) -> String? { o.containers.first { $0.name == name }?.state.terminated?.message }
        #expect(message("custom") == "quota exceeded")
        let tail = try #require(message("fallback"))
        #expect(tail.hasSuffix("line 99 of the failing run, padded to be long enough\n"))
        #expect(tail.utf8.count == 2048, "the kubelet keeps the last 2048 bytes")
        #expect(!tail.contains("line 19 "), "only the last 80 lines are read")
        #expect(message("wrote") == "own words", "the file wins over the logs")
        #expect(message("succeeded") == nil, "the fallback is for failures only")
        #expect(message("file") == nil, "policy File never reads the logs")
        await T.remove(p, [pod])
    }

    @Test func theImagesOwnEntrypointAndCmdRunWhenThePodGivesNone() async throws {
        // An image with an entrypoint and a cmd of its own, made locally (no registry).
        let tag = "interlink-test/entrypoint:\(UInt32.random(in: 0...UInt32.max))"
        let base = try await T.docker(["create", "--network=none", T.image, "true"])
        let baseID = base.stdoutText.trimmed
        let commit = try await T.docker(["commit", "--change", #"ENTRYPOINT ["/bin/echo", "from-entrypoint"]"#,
                                         "--change", #"CMD ["from-cmd"]"#, baseID, tag])
        _ = try await T.docker(["rm", "-f", baseID])
        #expect(commit.succeeded, "\(commit.stderrText)")

        let (p, _) = T.provider()
        let pods = [
            T.pod([Container(name: "c", image: tag)]),
            T.pod([Container(name: "c", image: tag, args: ["from-args"])]),
            T.pod([Container(name: "c", image: tag, command: ["/bin/echo", "from-command"])]),
        ]
        for pod in pods { _ = try await p.create(pod) }
        var out: [String] = []
        for pod in pods {
            _ = try await T.waitFinished(p, pod)
            out.append(try await T.logs(p, pod, "c"))
        }
        // Kubernetes: no command keeps the entrypoint, no args keeps the cmd, a command drops both.
        #expect(out == ["from-entrypoint from-cmd\n", "from-entrypoint from-args\n", "from-command\n"])
        await T.remove(p, pods)
        _ = try? await T.docker(["rmi", "-f", tag])
    }

    @Test func pingReportsTheDaemonsCapacity() async throws {
        let (p, _) = T.provider()
        let r = try #require(try await p.ping())
        #expect((Int(r.resources?.cpu ?? "") ?? 0) > 0)
        #expect((Int64(r.resources?.memory ?? "") ?? 0) > 0)
    }
}
