import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

/// Kubelet-style restarts within an incarnation (Docker): the provider names them
/// in `restartDue`, the planner answers with a `.create` of the same attempt (on
/// the resync only), and the status keeps the provider's restartCount/lastState.
@Suite struct PlannerRestartTests {
    let now = Date(timeIntervalSince1970: 2_000)
    let settings = ReconcilerSettings(interval: 5, maxCreateAttempts: 3, maxRestarts: 2, dataRoot: "/unused",
                                      backoffBase: 10, backoffMax: 60, unseenGraceSeconds: 30, maxCleanupAttempts: 3)

    func running(_ n: Int, restartDue: [String] = [], restartCount: Int32 = 0,
                 last: ContainerState = ContainerState()) -> JobObservation {
        JobObservation(podUID: Fx.uid(n), namespace: "default", name: "pod-\(n)", jobID: "job-1", attempt: 0, state: .running,
                       containers: [ContainerStatus(name: "main", restartCount: restartCount,
                                                    state: .waiting("CrashLoopBackOff"), lastState: last)],
                       restartDue: restartDue)
    }

    func record(_ n: Int) -> PodRecord {
        let r = PodRecord.apply(.created(attempt: 0, jobID: "job-1"), to: Fx.record(n), at: now)!
        return PodRecord.apply(.seen(attempt: 0, running: true, containers: running(n).containers), to: r, at: now)!
    }

    @Test func aDueRestartIsACreateOfTheSameAttemptOnTheResync() {
        let a = Planner.plan(records: [Fx.uid(1): record(1)], observations: [running(1, restartDue: ["main"])],
                             now: now, settings: settings)
        #expect(a.contains(.create(uid: Fx.uid(1), attempt: 0)), "\(a)")
        #expect(!a.contains { if case .record(_, .restarted) = $0 { return true } else { return false } },
                "a restart within the incarnation is not lost work")
    }

    @Test func noRestartDueNoCreate() {
        let a = Planner.plan(records: [Fx.uid(1): record(1)], observations: [running(1)], now: now, settings: settings)
        #expect(!a.contains { $0.kind == "create" }, "\(a)")
    }

    @Test func theEventPathDoesNotRepeatARestartFromAStaleObservation() {
        let a = Planner.planKey(record(1), jobs: [running(1, restartDue: ["main"])], now: now, settings: settings)
        #expect(!a.contains { $0.kind == "create" }, "\(a)")
    }

    @Test func aFailedRestartCreateBacksOff() {
        var r = record(1)
        r = PodRecord.apply(.createFailed(attempt: 0, reason: "ProviderFailed", message: "x", retryable: true), to: r, at: now)!
        let soon = Planner.plan(records: [r.uid: r], observations: [running(1, restartDue: ["main"])],
                                now: now.addingTimeInterval(1), settings: settings)
        #expect(!soon.contains { $0.kind == "create" })
        let later = Planner.plan(records: [r.uid: r], observations: [running(1, restartDue: ["main"])],
                                 now: now.addingTimeInterval(100), settings: settings)
        #expect(later.contains { $0.kind == "create" })
    }

    @Test func statusKeepsTheProvidersRestartCountAndLastState() {
        let last = ContainerState.terminated(ContainerStateTerminated(exitCode: 3, reason: "Error"))
        let st = StatusMapper.status(record(1), observation: running(1, restartCount: 2, last: last))
        #expect(st.containers[0].restartCount == 2)
        #expect(st.containers[0].lastState.terminated?.exitCode == 3)
    }
}
