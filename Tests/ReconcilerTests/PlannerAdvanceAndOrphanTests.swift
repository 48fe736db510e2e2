import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

/// The planner's `.advance` action, the orphan gate, the event-path plan and
/// the durable cleanup backoff.
@Suite struct PlannerAdvanceAndOrphanTests {
    let now = Date(timeIntervalSince1970: 2_000)
    let settings = ReconcilerSettings(interval: 5, maxCreateAttempts: 3, maxRestarts: 2, dataRoot: "/unused",
                                      backoffBase: 10, backoffMax: 60, unseenGraceSeconds: 30, maxCleanupAttempts: 3)

    func obs(_ n: Int, state: JobState = .running, due: [String] = []) -> JobObservation {
        JobObservation(podUID: Fx.uid(n), namespace: "default", name: "pod-\(n)", jobID: "job-1", attempt: 0, state: state,
                       containers: [ContainerStatus(name: "main", state: .waiting("PodInitializing"))], dueToStart: due)
    }

    func created(_ n: Int) -> PodRecord {
        var r = Fx.record(n)
        r = PodRecord.apply(.created(attempt: 0, jobID: "job-1"), to: r, at: now)!
        return PodRecord.apply(.seen(attempt: 0, running: false, containers: obs(n).containers), to: r, at: now)!
    }

    func plan(_ r: PodRecord, _ o: [JobObservation], advance: [String: Date] = [:]) -> [Action] {
        Planner.plan(records: [r.uid: r], observations: o, now: now, settings: settings, advanceNotBefore: advance)
    }

    @Test func containersDueToStartAreAdvancedOnTheCurrentJob() {
        let a = plan(created(1), [obs(1, state: .pending, due: ["c-init-1"])])
        guard case .advance(let ref, let ids)? = a.first(where: { $0.kind == "advance" }) else { Issue.record("got \(a)"); return }
        #expect(ids == ["c-init-1"])
        #expect(ref.podUID == Fx.uid(1) && ref.jobID == "job-1" && ref.attempt == 0)
    }

    @Test func nothingIsAdvancedWhenNothingIsDue() {
        #expect(!plan(created(1), [obs(1, state: .pending)]).contains { $0.kind == "advance" })
    }

    @Test func aFailedDeletedOrFinishedPodIsNotAdvanced() {
        let failed = PodRecord.apply(.failed(reason: "X", message: "y"), to: created(1), at: now)!
        #expect(!plan(failed, [obs(1, due: ["c"])]).contains { $0.kind == "advance" })
        let deleted = PodRecord.apply(.undesired, to: created(1), at: now)!
        #expect(!plan(deleted, [obs(1, due: ["c"])]).contains { $0.kind == "advance" })
        #expect(!plan(created(1), [obs(1, state: .finished, due: ["c"])]).contains { $0.kind == "advance" })
    }

    @Test func anAdvanceInBackoffWaitsAndNeverFailsThePod() {
        let a = plan(created(1), [obs(1, due: ["c"])], advance: [Fx.uid(1): now.addingTimeInterval(5)])
        #expect(!a.contains { $0.kind == "advance" })
        #expect(!a.contains { $0.kind == "markFailed" })
        #expect(plan(created(1), [obs(1, due: ["c"])], advance: [Fx.uid(1): now]).contains { $0.kind == "advance" })
    }

    @Test func anOrphanIsCancelledOnlyWhenTheGateSaysItIsDue() {
        let o = JobObservation(podUID: Fx.uid(9), jobID: "orphan", state: .running)
        #expect(Planner.plan(records: [:], observations: [o], now: now, settings: settings, orphanDue: { _ in false }).isEmpty)
        #expect(Planner.plan(records: [:], observations: [o], now: now, settings: settings, orphanDue: { _ in true })
                == [.cancel(o.ref, reason: .orphan)])
    }

    @Test func theEventPathNeverConcludesThatAJobWasLost() {
        // Seen running before, absent from the (possibly stale) cache: only the resync may call it lost.
        #expect(Planner.planKey(created(1), jobs: [], now: now, settings: settings).isEmpty)
        #expect(plan(created(1), []).contains { $0.kind == "recreate" })
        // A new pod is created from the event path.
        #expect(Planner.planKey(Fx.record(2), jobs: [], now: now, settings: settings) == [.create(uid: Fx.uid(2), attempt: 0)])
    }

    @Test func theEventPathCancelsADeletedPodsJobByItsRecordedID() {
        let r = PodRecord.apply(.undesired, to: created(1), at: now)!
        let a = Planner.planKey(r, jobs: [], now: now, settings: settings)
        guard case .cancel(let ref, .undesired)? = a.first, a.count == 1 else { Issue.record("got \(a)"); return }
        #expect(ref.jobID == "job-1")
    }

    @Test func failedCleanupsBackOffDurablyThenTheLeakIsRecorded() {
        var r = PodRecord.apply(.undesired, to: created(1), at: now)!
        #expect(plan(r, []) == [.forget(uid: r.uid, r.jobRef)])
        r = PodRecord.apply(.cleanupFailed(message: "EACCES"), to: r, at: now.addingTimeInterval(-5))!
        #expect(plan(r, []).isEmpty, "backoff after one failure is 10 s")
        r.cleanupFailedAt = now.addingTimeInterval(-10)
        #expect(plan(r, []) == [.forget(uid: r.uid, r.jobRef)])
        r = PodRecord.apply(.cleanupFailed(message: "EACCES"), to: r, at: now)!
        r = PodRecord.apply(.cleanupFailed(message: "EACCES"), to: r, at: now)!
        #expect(plan(r, []) == [.abandon(uid: r.uid, r.jobRef)], "after maxCleanupAttempts the pod is let go")
    }

    @Test func failedCancelsOfAKnownPodBackOffInItsRecord() {
        var r = PodRecord.apply(.undesired, to: created(1), at: now)!
        r = PodRecord.apply(.cancelFailed(message: "scancel timed out"), to: r, at: now.addingTimeInterval(-5))!
        #expect(plan(r, [obs(1)]).isEmpty)
        r.cancelFailedAt = now.addingTimeInterval(-11)
        #expect(plan(r, [obs(1)]).contains { $0.kind == "cancel" })
    }
}
