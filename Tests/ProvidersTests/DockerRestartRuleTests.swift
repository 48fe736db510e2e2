import FoundationEssentials
import Testing
import Model
@testable import Providers

/// The restart decision `DockerPodProgress` reads from labels alone (pure, no
/// daemon): backoff held or due, its growth and reset, lastState from the run
/// before, probe verdicts in ready/started/restartDue.
@Suite struct DockerRestartRuleTests {
    static let finished = "2026-11-29T17:00:10Z"
    static let finishedAt = RFC3339.date(finished)!

    static func run(_ restart: Int, status: String = "exited", exit: Int = 0, streak: Int = 0,
                    policy: RestartPolicy? = .always, started: String = "2026-11-29T17:00:09Z",
                    finished: String = DockerRestartRuleTests.finished) throws -> DockerContainerRecord {
        var r = try DockerInspectTests.records([DockerInspectTests.container(
            id: "r\(restart)", status: status, exitCode: exit, startedAt: started,
            finishedAt: status == "running" ? "0001-01-01T00:00:00Z" : finished)])[0]
        r.restart = restart; r.backoffStreak = streak; r.restartPolicy = policy
        return r
    }

    static func observe(_ records: [DockerContainerRecord], at seconds: Double,
                        probes: [String: DockerProbeState] = [:]) -> JobObservation {
        DockerPodProgress.plan(records, now: finishedAt.addingTimeInterval(seconds), probes: probes).observations[0]
    }

    @Test func anExitIsHeldInCrashLoopBackOffThenDue() throws {
        let held = Self.observe([try Self.run(0)], at: 5)
        #expect(held.state == .running)
        #expect(held.restartDue.isEmpty)
        #expect(held.containers[0].state.waiting?.reason == "CrashLoopBackOff")
        #expect(held.containers[0].state.waiting?.message == "back-off 10s restarting failed container=main pod=p_ns(u1)")
        #expect(held.containers[0].lastState.terminated?.exitCode == 0)
        #expect(Self.observe([try Self.run(0)], at: 10.5).restartDue == ["main"])
    }

    @Test func theBackoffDoublesToFiveMinutesAndResetsAfterTenMinutesOfRunning() throws {
        func wait(_ r: DockerContainerRecord) -> String? { Self.observe([r], at: 1).containers[0].state.waiting?.message }
        #expect(wait(try Self.run(2, streak: 2))?.hasPrefix("back-off 40s ") == true)
        #expect(wait(try Self.run(9, streak: 9))?.hasPrefix("back-off 5m0s ") == true)
        let long = try Self.run(9, streak: 9, started: "2026-11-29T16:40:00Z")
        #expect(wait(long)?.hasPrefix("back-off 10s ") == true)
    }

    @Test func policyDecides() throws {
        #expect(Self.observe([try Self.run(0, exit: 0, policy: .onFailure)], at: 100).state == .finished)
        #expect(Self.observe([try Self.run(0, exit: 1, policy: .onFailure)], at: 100).restartDue == ["main"])
        #expect(Self.observe([try Self.run(0, exit: 1, policy: .never)], at: 100).state == .finished)
        // Containers made before restarts existed carry no policy label: their exits stay final.
        #expect(Self.observe([try Self.run(0, exit: 1, policy: nil)], at: 100).state == .finished)
    }

    @Test func theNewestRunIsTheContainerAndTheOneBeforeItsLastState() throws {
        let o = Self.observe([try Self.run(0, exit: 4), try Self.run(1, status: "running")], at: 1)
        #expect(o.containers[0].state.running != nil)
        #expect(o.containers[0].restartCount == 1)
        #expect(o.containers[0].lastState.terminated?.exitCode == 4)
        #expect(o.jobID == "r1")
    }

    @Test func probeVerdictsGateReadyAndStartedAndCondemn() throws {
        var r = try Self.run(0, status: "running")
        r.lifecycle = DockerLifecycleSpec(startupProbe: Probe(exec: ExecAction(command: ["true"])),
                                          readinessProbe: Probe(exec: ExecAction(command: ["true"])))
        let unknown = Self.observe([r], at: 1).containers[0]
        #expect(unknown.started == false && unknown.ready == false)
        let startedOnly = Self.observe([r], at: 1, probes: ["r0": DockerProbeState(started: true, ready: false)]).containers[0]
        #expect(startedOnly.started == true && startedOnly.ready == false)
        let ready = Self.observe([r], at: 1, probes: ["r0": DockerProbeState(started: true, ready: true)]).containers[0]
        #expect(ready.ready)
        let condemned = Self.observe([r], at: 1, probes: ["r0": DockerProbeState(started: true, ready: true, condemned: "Liveness probe failed")])
        #expect(condemned.restartDue == ["main"] && condemned.containers[0].ready == false)
    }
}

extension DockerRestartRuleTests {
    @Test func aFailedInitContainerRestartsUnlessNeverAndHoldsTheMainContainersBack() throws {
        func initRun(_ policy: RestartPolicy) throws -> [DockerContainerRecord] {
            var i = try DockerInspectTests.records([DockerInspectTests.container(
                id: "i0", name: "setup", isInit: true, count: 2, status: "exited", exitCode: 1,
                startedAt: "2026-11-29T17:00:09Z", finishedAt: Self.finished)])[0]
            i.restartPolicy = policy
            var m = try DockerInspectTests.records([DockerInspectTests.container(id: "m0", count: 2, status: "created")])[0]
            m.restartPolicy = policy
            return [i, m]
        }
        let o = Self.observe(try initRun(.always), at: 100)
        #expect(o.restartDue == ["setup"] && o.dueToStart.isEmpty && o.state != .finished)
        #expect(o.containers[0].state.waiting?.reason == "PodInitializing")
        #expect(Self.observe(try initRun(.never), at: 100).state == .finished)
    }
}

/// Probe and hook handlers become `docker exec` argv items, one value each,
/// after `--`: a hostile command or header is never a flag nor a shell word.
@Suite struct DockerHooksArgvTests {
    @Test func handlerValuesStayInTheirOwnArgvItems() {
        let spec = DockerLifecycleSpec(ports: ["web": 8080])
        let exec = DockerHooks.arguments(exec: ExecAction(command: ["--privileged", "$(reboot)", "a b;c"]), httpGet: nil,
                                         tcpSocket: nil, container: "abc", spec: spec, timeout: 1)
        #expect(exec == ["exec", "--", "abc", "--privileged", "$(reboot)", "a b;c"])
        let http = DockerHooks.arguments(exec: nil, httpGet: HTTPGetAction(path: "/h?x=$(id)", port: .string("web"),
                                         httpHeaders: [HTTPHeader(name: "X-A", value: "1; rm -rf /")]),
                                         tcpSocket: nil, container: "abc", spec: spec, timeout: 3)
        #expect(http == ["exec", "--", "abc", DockerProber.helperPathInContainer, "http", "127.0.0.1", "8080",
                         "/h?x=$(id)", "3", "X-A: 1; rm -rf /"])
        let tcp = DockerHooks.arguments(exec: nil, httpGet: nil, tcpSocket: TCPSocketAction(port: .int(5432), host: "db"),
                                        container: "abc", spec: spec, timeout: 2)
        #expect(tcp == ["exec", "--", "abc", DockerProber.helperPathInContainer, "tcp", "db", "5432", "2"])
    }
}
