import Config
import FoundationEssentials
import Testing
import Model
@testable import Providers

/// Kubelet-style restarts, probes and hooks on the real dockerd (issue 13,
/// points 2-4). The base restart backoff is 1 s here (`DockerRestartBackoffSeconds`)
/// so a crash loop shows its growth in seconds; the default stays kubelet's 10 s.
@Suite("Docker lifecycle", .enabled(if: DockerTest.enabled), .serialized)
struct DockerLifecycleTests {
    static func provider() -> DockerProvider {
        DockerTest.provider { $0.dockerRestartBackoffSeconds = 1 }.0
    }

    static func pod(_ containers: [Container], policy: String, name: String = "life", grace: Int64 = 2,
                    volumes: [Volume]? = nil) -> DesiredPod {
        var d = DockerTest.pod(containers, volumes: volumes, name: name)
        d.request.pod.spec?.restartPolicy = policy
        d.request.pod.spec?.terminationGracePeriodSeconds = grace
        return d
    }

    /// Plays the reconciler's part: observes, starts what is due (`.advance`) and
    /// answers `restartDue` with a create of the same attempt (the planner's
    /// `.create`), until `done` holds for the pod's observation.
    static func drive(_ p: DockerProvider, _ pod: DesiredPod, seconds: Int = 60,
                      _ what: String, until done: (JobObservation) -> Bool) async throws -> JobObservation {
        var last: JobObservation? = nil
        for _ in 0..<(seconds * 5) {
            if let o = try await p.observe().first(where: { $0.podUID == pod.uid && $0.attempt == pod.attempt }) {
                last = o
                if done(o) { return o }
                if !o.dueToStart.isEmpty { try await p.advance(o.ref, start: o.dueToStart) }
                if !o.restartDue.isEmpty { _ = try await p.create(pod) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw DockerTest.Failure(description: "\(what) did not happen within \(seconds) s; last: \(String(describing: last?.containers))")
    }

    static func main(_ o: JobObservation) -> ContainerStatus { o.containers[0] }

    // MARK: - restarts

    @Test func alwaysRestartsAContainerThatExitedZeroWithAGrowingBackoff() async throws {
        let p = Self.provider()
        let pod = Self.pod([DockerTest.sh("main", "echo run; exit 0")], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        var messages: [String] = []
        let o = try await Self.drive(p, pod, "three restarts") { o in
            if let m = Self.main(o).state.waiting?.message, Self.main(o).state.waiting?.reason == "CrashLoopBackOff",
               !messages.contains(m) { messages.append(m) }
            return Self.main(o).restartCount >= 3
        }
        #expect(o.state == .running, "a crash-looping pod stays Running")
        #expect(Self.main(o).lastState.terminated?.exitCode == 0)
        #expect(Self.main(o).lastState.terminated?.reason == "Completed")
        // The backoff doubles: 1 s, 2 s, 4 s with the 1 s base.
        let waits = messages.compactMap { m in m.split(separator: " ").dropFirst().first.map(String.init) }
        #expect(waits.starts(with: ["1s", "2s"]), "backoff messages: \(messages)")
        #expect(messages.first?.contains("restarting failed container=main pod=life_default(\(pod.uid))") == true, "\(messages)")
        // The run before is kept for Previous logs; older runs are removed.
        let ids = try await DockerTest.containers(instance: p.settings.instanceName)
        #expect(ids.count == 2, "newest and previous run only, found \(ids.count)")
        let previous = try await DockerTest.logs(p, pod, "main", LogOpts(Previous: true))
        #expect(previous.contains("run"))
    }

    @Test func onFailureRestartsOnlyANonZeroExit() async throws {
        let p = Self.provider()
        let ok = Self.pod([DockerTest.sh("main", "exit 0")], policy: "OnFailure", name: "ok")
        let bad = Self.pod([DockerTest.sh("main", "echo failing; exit 3")], policy: "OnFailure", name: "bad")
        defer { Task { await DockerTest.remove(p, [ok, bad]) } }
        _ = try await p.create(ok)
        _ = try await p.create(bad)
        let done = try await DockerTest.waitFinished(p, ok)
        #expect(Self.main(done).restartCount == 0)
        #expect(Self.main(done).state.terminated?.exitCode == 0)
        let o = try await Self.drive(p, bad, "a restart after exit 3") { Self.main($0).restartCount >= 1 }
        #expect(o.state != .finished)
        #expect(Self.main(o).lastState.terminated?.exitCode == 3)
        #expect(Self.main(o).lastState.terminated?.reason == "Error")
    }

    @Test func neverKeepsAnExitFinal() async throws {
        let p = Self.provider()
        let pod = Self.pod([DockerTest.sh("main", "exit 5")], policy: "Never")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let o = try await DockerTest.waitFinished(p, pod)
        #expect(Self.main(o).state.terminated?.exitCode == 5)
        #expect(o.restartDue.isEmpty && Self.main(o).restartCount == 0)
    }

    // MARK: - probes

    static func probe(exec script: String, period: Int32 = 1, failure: Int32 = 1, delay: Int32 = 0) -> Probe {
        Probe(exec: ExecAction(command: ["/bin/sh", "-c", script]), initialDelaySeconds: delay, timeoutSeconds: 2,
              periodSeconds: period, failureThreshold: failure)
    }

    @Test func readinessProbeFlipsReady() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", "sleep 2; touch /tmp/ready; sleep 4; rm /tmp/ready; sleep 300")
        c.readinessProbe = Self.probe(exec: "test -f /tmp/ready")
        let pod = Self.pod([c], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let before = try await Self.drive(p, pod, "running") { Self.main($0).state.running != nil }
        #expect(Self.main(before).ready == false, "not ready before the first successful readiness probe")
        _ = try await Self.drive(p, pod, "ready") { Self.main($0).ready }
        let after = try await Self.drive(p, pod, "not ready again") { !Self.main($0).ready }
        #expect(Self.main(after).state.running != nil, "a failing readiness probe never kills")
        #expect(Self.main(after).restartCount == 0)
    }

    @Test func livenessFailureKillsAndRestartsTheContainer() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", "touch /tmp/alive; sleep 2; rm /tmp/alive; sleep 300")
        c.livenessProbe = Self.probe(exec: "test -f /tmp/alive", failure: 2)
        let pod = Self.pod([c], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let o = try await Self.drive(p, pod, "a liveness restart") { Self.main($0).restartCount >= 1 }
        let last = try #require(Self.main(o).lastState.terminated)
        #expect(last.message?.contains("Liveness probe failed") == true, "\(last)")
        #expect(last.exitCode != 0)
    }

    @Test func startupProbeGatesLivenessAndStarted() async throws {
        let p = Self.provider()
        // Liveness would fail at once (threshold 1) if it ran before the startup probe passed.
        var c = DockerTest.sh("main", "sleep 3; touch /tmp/up; sleep 300")
        c.startupProbe = Self.probe(exec: "test -f /tmp/up", failure: 30)
        c.livenessProbe = Self.probe(exec: "test -f /tmp/up", failure: 1)
        let pod = Self.pod([c], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let early = try await Self.drive(p, pod, "running") { Self.main($0).state.running != nil }
        #expect(Self.main(early).started == false && Self.main(early).ready == false)
        let up = try await Self.drive(p, pod, "started") { Self.main($0).started == true }
        #expect(Self.main(up).ready, "no readiness probe: ready once started")
        #expect(Self.main(up).restartCount == 0, "liveness did not run before startup succeeded")
    }

    @Test func startupProbeFailureRestarts() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", "sleep 300")
        c.startupProbe = Self.probe(exec: "exit 1", failure: 2)
        let pod = Self.pod([c], policy: "OnFailure")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let o = try await Self.drive(p, pod, "a startup-probe restart") { Self.main($0).restartCount >= 1 }
        #expect(Self.main(o).lastState.terminated?.message?.contains("Startup probe failed") == true)
    }

    static let httpd = "mkdir -p /www; echo ok > /www/ok; exec httpd -f -p 8080 -h /www"

    @Test func httpGetProbeSucceedsOn200AndFailsOn404() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", Self.httpd)
        c.ports = [ContainerPort(name: "web", containerPort: 8080)]
        c.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/ok", port: .string("web"),
                                                        httpHeaders: [HTTPHeader(name: "X-Probe", value: "yes")]),
                                 timeoutSeconds: 2, periodSeconds: 1)
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/missing", port: .int(8080)), initialDelaySeconds: 2,
                                timeoutSeconds: 2, periodSeconds: 1, failureThreshold: 2)
        let pod = Self.pod([c], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        _ = try await Self.drive(p, pod, "ready through httpGet on a network-less container") { Self.main($0).ready }
        let o = try await Self.drive(p, pod, "a liveness restart on 404") { Self.main($0).restartCount >= 1 }
        #expect(Self.main(o).lastState.terminated?.message?.contains("404") == true,
                "\(String(describing: Self.main(o).lastState.terminated))")
    }

    @Test func tcpSocketProbeSucceedsOnAnOpenPortAndFailsOnAClosedOne() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", Self.httpd)
        c.readinessProbe = Probe(tcpSocket: TCPSocketAction(port: .int(8080)), timeoutSeconds: 2, periodSeconds: 1)
        c.livenessProbe = Probe(tcpSocket: TCPSocketAction(port: .int(9)), initialDelaySeconds: 2, timeoutSeconds: 1,
                                periodSeconds: 1, failureThreshold: 2)
        let pod = Self.pod([c], policy: "Always")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        _ = try await Self.drive(p, pod, "ready through tcpSocket") { Self.main($0).ready }
        let o = try await Self.drive(p, pod, "a liveness restart on a closed port") { Self.main($0).restartCount >= 1 }
        #expect(Self.main(o).lastState.terminated?.message?.contains("Liveness probe failed") == true)
    }

    // MARK: - hooks

    @Test func postStartRunsBeforeTheContainerCountsAsStarted() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", "for i in $(seq 1 50); do [ -f /tmp/hooked ] && { echo hooked; sleep 300; }; sleep 0.2; done; exit 9")
        c.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["/bin/sh", "-c", "sleep 1; touch /tmp/hooked"])))
        let pod = Self.pod([c], policy: "Never")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let o = try await Self.drive(p, pod, "started after postStart") { Self.main($0).started == true || $0.state == .finished }
        #expect(o.state == .running)
        // The hook's file exists by the time the container counts as started.
        let id = try #require(Self.main(o).containerID?.replacingOccurrences(of: "docker://", with: ""))
        #expect(try await DockerTest.docker(["exec", id, "test", "-f", "/tmp/hooked"]).succeeded,
                "started was reported before the postStart hook had finished")
        // The container polls for it every 0.2 s, so its echo follows a moment later.
        var text = ""
        for _ in 0..<50 where !text.contains("hooked") {
            text = try await DockerTest.logs(p, pod, "main")
            if !text.contains("hooked") { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(text.contains("hooked"), "the container never saw the hook's file: \(text)")
    }

    @Test func failingPostStartKillsTheContainer() async throws {
        let p = Self.provider()
        var c = DockerTest.sh("main", "sleep 300")
        c.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["/bin/sh", "-c", "echo nope; exit 1"])))
        let pod = Self.pod([c], policy: "Never")
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let o = try await Self.drive(p, pod, "the postStart kill") { $0.state == .finished }
        let t = try #require(Self.main(o).state.terminated)
        #expect(t.message?.contains("FailedPostStartHook") == true, "\(t)")
        #expect(t.message?.contains("nope") == true, "\(t)")
    }

    @Test func preStopRunsBeforeTheStopSignalAndWithinTheGracePeriod() async throws {
        let p = Self.provider()
        let mount = [VolumeMount(name: "shared", mountPath: "/shared")]
        var c = Container(name: "main", image: DockerTest.image, command: ["/bin/sh", "-c",
            "trap 'echo term >> /shared/log; exit 0' TERM; echo up > /shared/up; while true; do sleep 0.2; done"],
            volumeMounts: mount)
        // The hook outlives the grace period: it is cut short, and the stop signal still comes.
        c.lifecycle = Lifecycle(preStop: LifecycleHandler(exec: ExecAction(command: ["/bin/sh", "-c",
            "echo prestop >> /shared/log; sleep 30; echo hook-finished >> /shared/log"])))
        let pod = Self.pod([c], policy: "Always", grace: 3, volumes: [Volume(name: "shared", emptyDir: EmptyDirVolumeSource())])
        defer { Task { await DockerTest.remove(p, [pod]) } }
        _ = try await p.create(pod)
        let dir = PodWorkspace(dataRoot: "/tmp/interlink-test/docker-provider", namespace: pod.namespace, uid: pod.uid)
            .volumeDirectory("shared")
        _ = try await Self.drive(p, pod, "running") { _ in FileManager.default.fileExists(atPath: dir + "/up") }
        try await p.delete(DockerTest.ref(pod, grace: 3))
        let log = String(decoding: FileManager.default.contents(atPath: dir + "/log") ?? Data(), as: UTF8.self)
        #expect(log == "prestop\nterm\n", "preStop first, then SIGTERM, hook cut at the grace period: \(log.debugDescription)")
        #expect(try await DockerTest.containers(instance: p.settings.instanceName).isEmpty)
    }

    // MARK: - refused at create

    @Test func grpcProbesAndUnknownPortNamesAreRefusedClearly() async throws {
        var c = DockerTest.sh("main", "true")
        c.livenessProbe = Probe(grpc: GRPCAction(port: 9000))
        let pod = Self.pod([c], policy: "Never").pod
        #expect(throws: ProviderError.self) { try DockerLifecycleSpec.of(c, pod: pod) }
        do { _ = try DockerLifecycleSpec.of(c, pod: pod) } catch {
            #expect(error.description.contains("grpc is not supported"))
        }
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/", port: .string("nope")))
        do { _ = try DockerLifecycleSpec.of(c, pod: pod); Issue.record("unknown port name accepted") } catch {
            #expect(error.description.contains("\"nope\""))
        }
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/x\r\nEvil: 1", port: .int(80)))
        do { _ = try DockerLifecycleSpec.of(c, pod: pod); Issue.record("CRLF in a path accepted") } catch {
            #expect(error.description.contains("control character"))
        }
    }
}
