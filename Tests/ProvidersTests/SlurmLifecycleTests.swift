import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers

private let slurmConf = ProcessInfo.processInfo.environment["INTERLINK_TEST_SLURM_CONF"]

/// Probes, lifecycle hooks and restarts run by the in-job supervisor, against a
/// real Slurm (scripts/slurm.sh), runtime none. The restart backoff starts at 1 s
/// here (`SlurmRestartBackoffSeconds`) so restart loops are seen in seconds.
@Suite(.serialized, .enabled(if: slurmConf != nil, "INTERLINK_TEST_SLURM_CONF is not set (run scripts/slurm.sh start)"))
final class SlurmLifecycleTests {
    let root = SlurmFixtures.tempDir("life")
    deinit { try? FileManager.default.removeItem(atPath: root) }

    func provider() -> SlurmProvider {
        var c = InterLinkConfig()
        c.containerRuntime = "none"
        c.dataRootFolder = root
        c.instanceName = "il-life"
        c.slurmRestartBackoffSeconds = 1
        return SlurmProvider(config: c, environment: ["SLURM_CONF": slurmConf ?? ""])
    }

    func pod(_ containers: [Container], restartPolicy: String, grace: Int64? = nil) -> DesiredPod {
        let uid = UUID().uuidString.lowercased()
        var spec = PodSpec(containers: containers, restartPolicy: restartPolicy)
        spec.terminationGracePeriodSeconds = grace
        return DesiredPod(request: PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: "l-\(uid.prefix(8))", namespace: "ns", uid: uid), spec: spec)))
    }

    func waitFor(_ p: SlurmProvider, _ uid: String, seconds: Int = 90,
                 until done: (JobObservation) -> Bool) async throws -> JobObservation? {
        for _ in 0..<(seconds * 4) {
            if let o = try await p.observe().first(where: { $0.podUID == uid }), done(o) { return o }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        return nil
    }

    /// Cancels the job and waits until Slurm no longer runs it.
    func stop(_ p: SlurmProvider, _ d: DesiredPod, _ id: String, grace: Int = 5) async throws {
        try await p.delete(JobRef(podUID: d.uid, namespace: d.namespace, name: d.name, jobID: id, gracePeriodSeconds: grace))
        _ = try await waitFor(p, d.uid, seconds: 30) { $0.state == .finished }
    }

    func exec(_ command: [String], period: Int32 = 1, failures: Int32 = 1, delay: Int32? = nil) -> Probe {
        Probe(exec: ExecAction(command: command), initialDelaySeconds: delay, periodSeconds: period, failureThreshold: failures)
    }

    func freePort() -> Int32 { Int32.random(in: 20000...40000) }

    @Test func alwaysRestartsAnExitingContainerWithRestartCountLastStateAndCrashLoopBackOff() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "echo run; exit 3"])], restartPolicy: "Always")
        let id = try await p.create(d)
        let backingOff = try await waitFor(p, d.uid) { $0.containers.first?.state.waiting?.reason == "CrashLoopBackOff" }
        let c = try #require(backingOff?.containers.first)
        #expect(c.restartCount >= 1)
        #expect(c.state.waiting?.message?.contains("back-off") == true)
        #expect(c.lastState.terminated?.exitCode == 3)
        #expect(c.lastState.terminated?.reason == "Error")
        #expect(c.lastState.terminated?.startedAt != nil && c.lastState.terminated?.finishedAt != nil)
        #expect(backingOff?.state == .running)   // the job keeps its allocation
        let again = try await waitFor(p, d.uid) { ($0.containers.first?.restartCount ?? 0) >= 3 }
        #expect(again != nil, "the container was restarted fewer than 3 times")
        try await stop(p, d, id)
    }

    @Test func onFailureRestartsAFailedRunAndTheJobFinishesWhenItExitsZero() async throws {
        let p = provider()
        let marker = "\(root)/once-\(UUID().uuidString)"
        let d = pod([Container(name: "c", image: "none",
                               command: ["sh", "-c", "if [ -e \"$0\" ]; then echo second; exit 0; fi; touch \"$0\"; echo first; exit 1", marker])],
                    restartPolicy: "OnFailure")
        _ = try await p.create(d)
        let o = try await waitFor(p, d.uid) { $0.state == .finished }
        let c = try #require(o?.containers.first)
        #expect(c.state.terminated?.exitCode == 0)
        #expect(c.restartCount == 1)
        #expect(c.lastState.terminated?.exitCode == 1)
        #expect(PodPhase.derive(from: o?.containers ?? []) == .succeeded)
    }

    @Test func neverLeavesAFailedContainerFinished() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "exit 4"])], restartPolicy: "Never")
        _ = try await p.create(d)
        let o = try await waitFor(p, d.uid) { $0.state == .finished }
        #expect(o?.containers.first?.state.terminated?.exitCode == 4)
        #expect(o?.containers.first?.restartCount == 0)
    }

    @Test func aFailedInitContainerRestartsUnderOnFailureAndTheMainOneRunsAfterIt() async throws {
        let p = provider()
        let marker = "\(root)/init-\(UUID().uuidString)"
        let initC = Container(name: "setup", image: "none",
                              command: ["sh", "-c", "if [ -e \"$0\" ]; then exit 0; fi; touch \"$0\"; exit 7", marker])
        var d = pod([Container(name: "main", image: "none", command: ["echo", "main ran"])], restartPolicy: "OnFailure")
        d.request.pod.spec?.initContainers = [initC]
        _ = try await p.create(d)
        let o = try await waitFor(p, d.uid) { $0.state == .finished }
        let setup = try #require(o?.initContainers.first)
        #expect(setup.restartCount == 1 && setup.lastState.terminated?.exitCode == 7)
        #expect(setup.state.terminated?.exitCode == 0)
        #expect(o?.containers.first?.state.terminated?.exitCode == 0)
    }

    @Test func aProbeThatOutlivesItsTimeoutFails() async throws {
        let p = provider()
        var c = Container(name: "c", image: "none", command: ["sleep", "300"])
        c.livenessProbe = Probe(exec: ExecAction(command: ["sleep", "30"]), timeoutSeconds: 1, periodSeconds: 1, failureThreshold: 1)
        let d = pod([c], restartPolicy: "Always", grace: 2)
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid) { ($0.containers.first?.restartCount ?? 0) >= 1 }
        #expect(o?.containers.first?.lastState.terminated?.message?.contains("Liveness probe failed: timed out after 1s") == true,
                "\(String(describing: o?.containers.first?.lastState))")
        try await stop(p, d, id)
    }

    @Test func readinessExecProbeFlipsReady() async throws {
        let p = provider()
        let flag = "\(root)/ready-\(UUID().uuidString)"
        var c = Container(name: "c", image: "none", command: ["sleep", "300"])
        c.readinessProbe = exec(["test", "-e", flag])
        let d = pod([c], restartPolicy: "Always")
        let id = try await p.create(d)
        let running = try await waitFor(p, d.uid) { $0.containers.first?.state.running != nil }
        #expect(running?.containers.first?.ready == false)
        FileManager.default.createFile(atPath: flag, contents: nil)
        #expect(try await waitFor(p, d.uid, seconds: 20) { $0.containers.first?.ready == true } != nil)
        try FileManager.default.removeItem(atPath: flag)
        let unready = try await waitFor(p, d.uid, seconds: 20) { $0.containers.first?.ready == false }
        #expect(unready?.containers.first?.state.running != nil)
        #expect(unready?.containers.first?.restartCount == 0)   // readiness never restarts
        try await stop(p, d, id)
    }

    @Test func noReadinessProbeMeansReadyWhileRunning() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sleep", "300"])], restartPolicy: "Never")
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid) { $0.containers.first?.state.running != nil && $0.containers.first?.ready == true }
        #expect(o?.containers.first?.started == true)
        try await stop(p, d, id)
    }

    @Test func failingLivenessExecProbeRestartsTheContainerWithKubeletsMessage() async throws {
        let p = provider()
        var c = Container(name: "c", image: "none", command: ["sleep", "300"])
        c.livenessProbe = exec(["sh", "-c", "echo not alive; exit 1"])
        let d = pod([c], restartPolicy: "Always", grace: 2)
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid) { ($0.containers.first?.restartCount ?? 0) >= 1 }
        let last = try #require(o?.containers.first?.lastState.terminated)
        #expect(last.exitCode == 143)   // TERM from the supervisor
        #expect(last.message?.contains("Liveness probe failed: not alive") == true, "\(last)")
        try await stop(p, d, id)
    }

    @Test func startupProbeGatesLivenessAndHTTPAndTCPProbesSucceed() async throws {
        let p = provider()
        let port = freePort()
        let web = "\(root)/web-\(port)"
        try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
        // Listens only after 3 s: a liveness probe not held back by the startup probe would fail first.
        var c = Container(name: "web", image: "none",
                          command: ["sh", "-c", "sleep 3; exec python3 -m http.server \(port) --bind 127.0.0.1 --directory \"$0\"", web])
        c.startupProbe = Probe(tcpSocket: TCPSocketAction(port: .int(port)), periodSeconds: 1, failureThreshold: 30)
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/", port: .int(port)), periodSeconds: 1, failureThreshold: 1)
        c.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/", port: .string("http")), periodSeconds: 1)
        c.ports = [ContainerPort(name: "http", containerPort: port)]
        let d = pod([c], restartPolicy: "Always")
        let id = try await p.create(d)
        let early = try await waitFor(p, d.uid) { $0.containers.first?.state.running != nil }
        #expect(early?.containers.first?.started == false)
        let up = try await waitFor(p, d.uid, seconds: 30) { $0.containers.first?.ready == true }
        #expect(up?.containers.first?.started == true)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        let later = try await p.observe().first { $0.podUID == d.uid }
        #expect(later?.containers.first?.restartCount == 0)
        #expect(later?.containers.first?.ready == true)
        try await stop(p, d, id)
    }

    @Test func failingStartupProbeKillsAndHTTPAndTCPFailuresAreReported() async throws {
        let p = provider()
        let port = freePort()
        let web = "\(root)/web404-\(port)"
        try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
        // The server answers 404 for /missing: readiness fails, the container stays unready.
        var web404 = Container(name: "web", image: "none",
                               command: ["sh", "-c", "exec python3 -m http.server \(port) --bind 127.0.0.1 --directory \"$0\"", web])
        web404.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/missing", port: .int(port)), periodSeconds: 1)
        // Nothing listens on port+1: the startup probe fails and kills the container.
        var closed = Container(name: "closed", image: "none", command: ["sleep", "300"])
        closed.startupProbe = Probe(tcpSocket: TCPSocketAction(port: .int(port + 1)), periodSeconds: 1, failureThreshold: 2)
        let d = pod([web404, closed], restartPolicy: "Always", grace: 2)
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid) { ($0.containers.last?.restartCount ?? 0) >= 1 }
        let last = try #require(o?.containers.last?.lastState.terminated)
        #expect(last.message?.contains("Startup probe failed: dial tcp 127.0.0.1:\(port + 1)") == true, "\(last)")
        let server = try #require(o?.containers.first)
        #expect(server.state.running != nil && server.ready == false && server.restartCount == 0)
        try await stop(p, d, id)
    }

    @Test func anHTTPSProbeGoesThroughCurlAndItsHeadersArrive() async throws {
        let p = provider()
        let port = freePort()
        let dir = "\(root)/tls-\(port)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cert = try await ProcessRunner.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                                                                    "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem"])
        #expect(cert.succeeded, "\(cert.stderrText)")
        // Answers 200 only when the probe's header arrived, and records each request's header.
        let server = """
        import http.server, ssl, sys
        d, port = sys.argv[1], int(sys.argv[2])
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                open(d + "/seen", "a").write(self.headers.get("X-Token", "none") + "\\n")
                self.send_response(200 if self.headers.get("X-Token") == "s3cret" and self.path == "/ok" else 500)
                self.end_headers()
        s = http.server.HTTPServer(("127.0.0.1", port), H)
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(d + "/cert.pem", d + "/key.pem")
        s.socket = c.wrap_socket(s.socket, server_side=True)
        s.serve_forever()
        """
        var c = Container(name: "tls", image: "none", command: ["python3", "-c", server, dir, String(port)])
        c.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/ok", port: .int(port), scheme: "HTTPS",
                                                        httpHeaders: [HTTPHeader(name: "X-Token", value: "s3cret")]), periodSeconds: 1)
        let d = pod([c], restartPolicy: "Always")
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid, seconds: 30) { $0.containers.first?.ready == true } != nil)
        #expect(FileManager.default.contents(atPath: "\(dir)/seen").map { String(decoding: $0, as: UTF8.self) }?.contains("s3cret\n") == true)
        try await stop(p, d, id)
    }

    @Test func postStartRunsAfterStartAndAFailingOneKillsTheContainer() async throws {
        let p = provider()
        let out = "\(root)/post-\(UUID().uuidString)"
        var good = Container(name: "good", image: "none", command: ["sleep", "300"])
        good.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo started > \"$0\"", out])))
        var bad = Container(name: "bad", image: "none", command: ["sleep", "300"])
        bad.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo hook broke; exit 2"])))
        let d = pod([good, bad], restartPolicy: "Never", grace: 2)
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid) { $0.containers.last?.state.terminated != nil }
        let t = try #require(o?.containers.last?.state.terminated)
        #expect(t.message?.contains("PostStartHookError: hook broke") == true, "\(t)")
        #expect(t.exitCode == 143)
        #expect(o?.containers.first?.state.running != nil)
        #expect(FileManager.default.contents(atPath: out) == Data("started\n".utf8))
        try await stop(p, d, id)
    }

    @Test func preStopRunsBeforeTheContainerGetsTERMWithinTheGracePeriod() async throws {
        let p = provider()
        let log = "\(root)/order-\(UUID().uuidString)"
        var c = Container(name: "c", image: "none",
                          command: ["sh", "-c", "trap 'echo term >> \"$0\"; exit 0' TERM; while :; do sleep 0.2; done", log])
        c.lifecycle = Lifecycle(preStop: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo prestop >> \"$0\"; sleep 1", log])))
        let d = pod([c], restartPolicy: "Always")
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid) { $0.containers.first?.state.running != nil } != nil)
        try await Task.sleep(nanoseconds: 500_000_000)
        try await p.delete(JobRef(podUID: d.uid, namespace: d.namespace, name: d.name, jobID: id, gracePeriodSeconds: 10))
        let o = try await waitFor(p, d.uid, seconds: 30) { $0.state == .finished }
        #expect(FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } == "prestop\nterm\n")
        #expect(o?.containers.first?.state.terminated?.exitCode == 0)   // it ended on its TERM, not by the final KILL
        #expect(o?.containers.first?.restartCount == 0)                  // nothing restarts once the job is stopping
    }

    @Test func hostileProbeAndHookValuesAreNeverRunByTheShell() async throws {
        let p = provider()
        let canary = "\(root)/CANARY"
        let port = freePort()
        let evil = "$(touch \(canary))`touch \(canary)`'\"; touch \(canary); \""
        var c = Container(name: "c", image: "none", command: ["sleep", "300"])
        c.readinessProbe = exec(["echo", evil, "\n$(touch \(canary))"])
        c.livenessProbe = Probe(httpGet: HTTPGetAction(path: "/$(touch${IFS}\(canary))`id`", port: .int(port),
                                                       httpHeaders: [HTTPHeader(name: "X-Evil", value: evil)]),
                                periodSeconds: 1, failureThreshold: 1000)
        c.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo \"$0\" > /dev/null", evil])))
        let d = pod([c], restartPolicy: "Always")
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid) { $0.containers.first?.ready == true } != nil)   // readiness ran
        try await Task.sleep(nanoseconds: 3_000_000_000)   // the liveness probe failed a few times
        #expect(!FileManager.default.fileExists(atPath: canary))
        try await stop(p, d, id)
        // A header value with a line break could split the request: refused before anything runs.
        var split = Container(name: "c", image: "none", command: ["sleep", "1"])
        split.readinessProbe = Probe(httpGet: HTTPGetAction(port: .int(80), httpHeaders: [HTTPHeader(name: "X", value: "a\r\nHost: evil")]))
        await #expect(throws: ProviderError.self) { _ = try await p.create(pod([split], restartPolicy: "Never")) }
        var grpc = Container(name: "c", image: "none", command: ["sleep", "1"])
        grpc.livenessProbe = Probe(grpc: GRPCAction(port: 9000))
        do { _ = try await p.create(pod([grpc], restartPolicy: "Never")); Issue.record("a grpc probe was accepted") } catch {
            #expect("\(error)".contains("grpc is not supported"))
        }
    }
}

/// The script's backoff arithmetic is kubelet's (`KubeletRestart`), so shell and Swift cannot drift.
@Suite struct SlurmSupervisorScriptTests {
    @Test(arguments: [10, 1, 3])
    func theScriptsBackoffAndItsMessageAreKubeletRestarts(base: Int) async throws {
        let pod = Pod(metadata: ObjectMeta(name: "p", namespace: "ns", uid: "u"), spec: PodSpec(containers: []))
        var config = SlurmFixtures.config(runtime: "none")
        config.slurmRestartBackoffSeconds = base
        let sup = SlurmSupervisor(runtime: try SlurmContainerCommand(config: config, annotations: [:]), config: config, pod: pod)
        let program = (sup.settings + SlurmSupervisor.helpers
            + [#"for s in $(seq 1 12); do b=$(il_backoff "$s"); echo "$b back-off $(il_godur "$b") restarting failed container=c$il_pod_suffix"; done"#])
            .joined(separator: "\n")
        let r = try await SlurmFixtures.bash(["-c", program])
        #expect(r.succeeded, "\(r.stderrText)")
        let want = (1...12).map { streak in
            let b = KubeletRestart.backoffSeconds(streak: streak, base: base)
            return "\(b) \(KubeletRestart.backoffMessage(seconds: b, container: "c", pod: "p", namespace: "ns", uid: "u"))"
        }
        #expect(r.stdoutText.split(separator: "\n").map(String.init) == want)
        #expect(sup.settings[0].contains("il_backoff_reset=\(KubeletRestart.backoffResetSeconds)"))
    }

    /// A TERM interrupts the supervisor's `wait`; its trap (preStop, then TERM to the
    /// container) can outlast the container. The exit code is then the container's own,
    /// not the 143 of the interrupted wait: CI once saw a container that exited 0 on its
    /// TERM reported as 143, because the old loop asked `kill -0` and gave up.
    @Test func anExitDuringTheTermTrapKeepsTheContainersOwnExitCode() async throws {
        let program = (SlurmSupervisor.helpers + [#"""
        ( trap 'exit 0' TERM; while :; do sleep 0.05; done ) & child=$!
        trap 'il_sig=1; kill -TERM "$child"; sleep 0.5' TERM   # the container is gone before the trap returns
        ( sleep 0.3; kill -TERM $$ ) &
        il_wait "$child"; echo "trapped $?"
        trap - TERM
        ( exec sleep 30 ) & k=$!; ( sleep 0.2; kill -TERM "$k" ) &
        il_wait "$k"; echo "killed $?"
        ( exit 7 ) & e=$!; il_wait "$e"; echo "plain $?"
        """#]).joined(separator: "\n")
        let r = try await SlurmFixtures.bash(["-c", program])
        #expect(r.succeeded, "\(r.stderrText)")
        #expect(r.stdoutText == "trapped 0\nkilled 143\nplain 7\n")
    }

    @Test func initContainersRestartOnlyOnFailureAndNeverMeansNever() {
        #expect(SlurmSupervisor.policyWord(.always, isInit: false) == "always")
        #expect(SlurmSupervisor.policyWord(.always, isInit: true) == "onfailure")
        #expect(SlurmSupervisor.policyWord(.onFailure, isInit: false) == "onfailure")
        #expect(SlurmSupervisor.policyWord(.never, isInit: true) == "never")
    }
}

private let dockerHost = ProcessInfo.processInfo.environment["INTERLINK_TEST_DOCKER_HOST"]

/// The same supervisor with runtime docker: exec probes and hooks through
/// `docker exec`, network probes inside the container's network namespace.
@Suite(.serialized, .enabled(if: slurmConf != nil && dockerHost != nil, "needs INTERLINK_TEST_SLURM_CONF and INTERLINK_TEST_DOCKER_HOST"))
final class SlurmDockerLifecycleTests {
    let root = SlurmFixtures.tempDir("dlife")
    let base = SlurmLifecycleTests()
    deinit { try? FileManager.default.removeItem(atPath: root) }

    func provider() -> SlurmProvider {
        var c = InterLinkConfig()
        c.containerRuntime = "docker"
        c.dockerHost = dockerHost
        c.dataRootFolder = root
        c.instanceName = "il-dlife"
        c.slurmRestartBackoffSeconds = 1
        return SlurmProvider(config: c, environment: ["SLURM_CONF": slurmConf ?? ""])
    }

    @Test func probesAndHooksReachTheContainerAndAFailedLivenessRestartsIt() async throws {
        let p = provider()
        var web = Container(name: "web", image: DockerTest.image,
                            command: ["sh", "-c", "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w"])
        web.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/index.html", port: .int(8080)), periodSeconds: 1)
        web.startupProbe = Probe(tcpSocket: TCPSocketAction(port: .int(8080)), periodSeconds: 1, failureThreshold: 30)
        // Generous: a `docker exec` on a loaded machine can take longer than kubelet's 1 s default.
        web.livenessProbe = Probe(exec: ExecAction(command: ["cat", "/tmp/alive"]), timeoutSeconds: 10, periodSeconds: 1, failureThreshold: 3)
        web.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "touch /tmp/alive"])))
        var dying = Container(name: "dying", image: DockerTest.image, command: ["sleep", "300"])
        dying.livenessProbe = Probe(exec: ExecAction(command: ["sh", "-c", "echo gone; exit 1"]), periodSeconds: 1, failureThreshold: 1)
        let d = base.pod([web, dying], restartPolicy: "Always", grace: 2)
        let id = try await p.create(d)
        let ready = try await base.waitFor(p, d.uid, seconds: 120) { $0.containers.first?.ready == true }
        #expect(ready?.containers.first?.started == true, "\(String(describing: ready))")
        let restarted = try await base.waitFor(p, d.uid, seconds: 60) { ($0.containers.last?.restartCount ?? 0) >= 2 }
        let last = try #require(restarted?.containers.last?.lastState.terminated)
        #expect(last.message?.contains("Liveness probe failed: gone") == true, "\(last)")
        #expect(restarted?.containers.first?.restartCount == 0)   // the healthy one was left alone
        try await base.stop(p, d, id)
        // Both PID 1s ignore TERM: the delete must still leave no container behind in dockerd.
        var left: [String] = []
        for _ in 0..<40 {
            let ps = try await DockerTest.docker(["ps", "-a", "--format", "{{.Names}}"])
            left = ps.stdoutText.split(separator: "\n").map(String.init).filter { $0.contains(d.uid) }
            if left.isEmpty { break }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        #expect(left.isEmpty, "containers left running after the delete: \(left)")
    }
}
