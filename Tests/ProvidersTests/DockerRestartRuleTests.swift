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
