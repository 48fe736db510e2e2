import FoundationEssentials
import Testing
import Model
import Providers
@testable import Reconciler

@Suite struct PlannerTests {
    let now = Date(timeIntervalSince1970: 2_000)
    let settings = ReconcilerSettings(interval: 5, maxCreateAttempts: 3, maxRestarts: 2, dataRoot: "/unused",
                                      backoffBase: 10, backoffMax: 60, unseenGraceSeconds: 30)

    func obs(_ n: Int, attempt: Int = 0, state: JobState = .running, jobID: String = "job-1", exit: Int32 = 0) -> JobObservation {
        let cs: ContainerStatus
        switch state {
        case .finished: cs = ContainerStatus(name: "main", state: .terminated(.init(exitCode: exit, finishedAt: "2026-01-01T00:00:00Z")))
        case .running: cs = ContainerStatus(name: "main", state: .running(since: "2026-01-01T00:00:00Z"))
        case .pending: cs = ContainerStatus(name: "main", state: .waiting("ContainerCreating"))
        }
        return JobObservation(podUID: Fx.uid(n), namespace: "default", name: "pod-\(n)", jobID: jobID,
                              attempt: attempt, state: state, containers: [cs])
    }

    func plan(_ recs: [PodRecord], _ observations: [JobObservation]) -> [Action] {
        Planner.plan(records: Dictionary(uniqueKeysWithValues: recs.map { ($0.uid, $0) }),
                     observations: observations, now: now, settings: settings)
    }

    /// A record whose attempt 0 was created and (optionally) seen running.
    func created(_ n: Int, restart: RestartPolicy = .always, seen: Bool = true) -> PodRecord {
        var r = Fx.record(n, restart: restart)
        r = PodRecord.apply(.created(attempt: 0, jobID: "job-1"), to: r, at: now.addingTimeInterval(-5))!
        if seen { r = PodRecord.apply(.seen(attempt: 0, running: true, containers: obs(n).containers), to: r, at: now)! }
        return r
    }

    @Test func aPodPastItsActiveDeadlineFailsDeadlineExceededAndThenItsJobIsStopped() {
        // Received at 1,000, planned at 2,000: a 600 s deadline has passed, 5,000 s has not.
        var r = created(1)
        r.request.pod.spec?.activeDeadlineSeconds = 600
        let actions = plan([r], [obs(1)])
        guard case .record(_, .failed(let reason, let message))? = actions.first, actions.count == 1 else {
            Issue.record("expected one failed record, got \(actions)"); return
        }
        #expect(reason == "DeadlineExceeded")
        #expect(message.contains("600"))
        let failed = PodRecord.apply(.failed(reason: reason, message: message), to: r, at: now)!
        #expect(plan([failed], [obs(1)]).contains { if case .cancel(_, .failed) = $0 { return true }; return false })
        var later = created(1)
        later.request.pod.spec?.activeDeadlineSeconds = 5_000
        #expect(plan([later], [obs(1)]).isEmpty)
        // A pod that finished by itself before the deadline stays as it ended.
        let done = PodRecord.apply(.finished(attempt: 0, containers: obs(1, state: .finished).containers, initContainers: []), to: r, at: now)!
        #expect(!plan([done], []).contains { if case .record(_, .failed) = $0 { return true }; return false })
    }

    /// The resync skips planning a record whose plan was empty "whatever the time"
    /// (`Planner.isQuiet`). That claim is checked here against the planner itself:
    /// for quiet pods the plan is empty at any time, with any backoff; and each way
    /// out of quiet (a deadline, a container due to start or restart, a failure,
    /// another attempt, not yet seen running) is not called quiet.
    @Test func aQuietPodPlansNothingAtAnyTimeAndEveryWayOutOfQuietIsSeen() {
        let r = created(1), o = obs(1)
        #expect(Planner.isQuiet(r, o))
        for t in [now, now.addingTimeInterval(1e6), now.addingTimeInterval(1e9), Date.distantFuture] {
            let p = Planner.planKey(r, jobs: [o], now: t, settings: settings, cancelNotBefore: [Planner.jobKey(o.ref): t],
                                    advanceNotBefore: [r.uid: t])
            #expect(p.isEmpty, "planned \(p) at \(t)")
            #expect(Planner.plan(records: [r.uid: r], observations: [o], now: t, settings: settings).isEmpty)
        }
        var deadline = r; deadline.request.pod.spec?.activeDeadlineSeconds = 600
        var due = o; due.dueToStart = ["c1"]
        var restart = o; restart.restartDue = ["main"]
        let failed = PodRecord.apply(.failed(reason: "X", message: "y"), to: r, at: now)!
        let notSeen = created(1, seen: false)
        var other = o; other.attempt = 1
        var ended = o; ended.interruption = "preempted"
        #expect(!Planner.isQuiet(deadline, o))
        #expect(!Planner.isQuiet(r, due))
        #expect(!Planner.isQuiet(r, restart))
        #expect(!Planner.isQuiet(failed, o))
        #expect(!Planner.isQuiet(notSeen, o))
        #expect(!Planner.isQuiet(r, other))
        #expect(!Planner.isQuiet(r, ended))
        #expect(!Planner.isQuiet(r, obs(1, state: .finished)))
        #expect(!Planner.isQuiet(PodRecord.apply(.undesired, to: r, at: now)!, o))
        // And each of those is planned: the deadline fails the pod, the due container starts.
        #expect(!plan([deadline], [o]).isEmpty)
        #expect(!plan([r], [due]).isEmpty)
    }

    @Test func aNewDesiredPodIsCreatedAtAttemptZero() {
        #expect(plan([Fx.record(1)], []) == [.create(uid: Fx.uid(1), attempt: 0)])
    }

    @Test func aRunningJobIsNotedAsSeenOnceAndThenLeftAlone() {
        let r = created(1, seen: false)
        #expect(plan([r], [obs(1)]) == [.record(uid: Fx.uid(1), .seen(attempt: 0, running: true, containers: obs(1).containers))])
        #expect(plan([created(1)], [obs(1)]).isEmpty)
    }

    @Test func aFinishedJobHasItsTerminalStateRecorded() {
        let o = obs(1, state: .finished, exit: 3)
        #expect(plan([created(1)], [o]) == [.record(uid: Fx.uid(1), .finished(attempt: 0, containers: o.containers, initContainers: []))])
    }

    @Test func aJobWhoseIDTheRecordLacksIsAdopted() {
        let actions = plan([Fx.record(1)], [obs(1, jobID: "found-7")])
        #expect(actions.first == .record(uid: Fx.uid(1), .created(attempt: 0, jobID: "found-7")))
        #expect(!actions.contains { if case .create = $0 { return true }; return false })
    }

    @Test func aJobOfAnUnknownPodIsCancelledAsAnOrphan() {
        let actions = plan([], [obs(9)])
        #expect(actions == [.cancel(obs(9).ref, reason: .orphan)])
    }

    @Test func anUndesiredPodIsCancelledWhileItsJobExistsThenForgotten() {
        let r = PodRecord.apply(.undesired, to: created(1), at: now)!
        let a = plan([r], [obs(1)])
        guard case .cancel(let ref, .undesired)? = a.first, a.count == 1 else { Issue.record("got \(a)"); return }
        #expect(ref.jobID == "job-1")
        #expect(plan([r], []) == [.forget(uid: Fx.uid(1), r.jobRef)])
    }

    /// A pod from a journal written before the API bounded grace periods: its
    /// raw number never reaches a provider (a year-long or negative stop).
    @Test(arguments: [(Int64(400 * 86_400), Int(PodBounds.maxGracePeriodSeconds)), (-5, 0), (7, 7)])
    func theCancelOfAnOldJournalsPodUsesTheBoundedGracePeriod(raw: Int64, expected: Int) {
        var req = Fx.request(1)
        req.pod.spec?.terminationGracePeriodSeconds = raw
        var r = PodRecord(request: req, at: now)
        r = PodRecord.apply(.created(attempt: 0, jobID: "job-1"), to: r, at: now)!
        r = PodRecord.apply(.undesired, to: r, at: now)!
        let a = plan([r], [obs(1)])
        guard case .cancel(let ref, .undesired)? = a.first else { Issue.record("got \(a)"); return }
        #expect(ref.gracePeriodSeconds == expected)
        #expect(r.jobRef.gracePeriodSeconds == expected, "cleanup and logs use the same bound")
    }

    @Test func anUndesiredPodWhoseJobAlreadyFinishedIsForgottenNotCancelledForever() {
        let r = PodRecord.apply(.undesired, to: created(1), at: now)!
        #expect(plan([r], [obs(1, state: .finished)]) == [.forget(uid: Fx.uid(1), r.jobRef)])
    }

    @Test func aJobTheBackendInterruptedIsLostWorkPerRestartPolicy() {
        var o = obs(1, state: .finished, exit: 143)
        o.interruption = "CANCELLED"
        // Fixtures' pods are restartPolicy Always unless told otherwise: re-created as attempt 1.
        let a = plan([created(1)], [o])
        #expect(a.contains { if case .create(_, 1) = $0 { return true }; return false }, "got \(a)")
        #expect(a.contains { if case .record(_, .restarted(1, _)) = $0 { return true }; return false })
    }

    @Test func ofTwoJobsOfTheCurrentAttemptTheOneTheVKWasToldIsKept() {
        let r = created(1)   // recorded job id "job-1"
        let a = plan([r], [obs(1, jobID: "job-9"), obs(1, jobID: "job-1")])
        #expect(a.contains { if case .cancel(let ref, .staleAttempt) = $0 { return ref.jobID == "job-9" }; return false }, "got \(a)")
        #expect(!a.contains { if case .cancel(let ref, _) = $0 { return ref.jobID == "job-1" }; return false })
    }

    @Test func aJobOfAnOlderAttemptIsCancelled() {
        var r = created(1)
        r = PodRecord.apply(.restarted(newAttempt: 1, lastState: [:]), to: r, at: now)!
        let a = plan([r], [obs(1, attempt: 0), obs(1, attempt: 1, jobID: "job-2")])
        #expect(a.contains { if case .cancel(let ref, .staleAttempt) = $0 { return ref.attempt == 0 }; return false })
        #expect(!a.contains { if case .create = $0 { return true }; return false })
    }

    @Test(arguments: [RestartPolicy.always, .onFailure])
    func aLostJobIsRecreatedWithTheRestartCountedAndTheLastStateKept(policy: RestartPolicy) throws {
        let a = plan([created(1, restart: policy)], [])
        #expect(a.count == 2)
        guard case .record(_, .restarted(let next, let last))? = a.first else { Issue.record("got \(a)"); return }
        #expect(next == 1)
        let t = try #require(last["main"]?.terminated)
        #expect(t.reason == "BackendLost")
        #expect(t.startedAt == "2026-01-01T00:00:00Z")
        #expect(a.last == .create(uid: Fx.uid(1), attempt: 1))
    }

    @Test func aLostJobWithRestartPolicyNeverFailsWithBackendLost() {
        let a = plan([created(1, restart: .never)], [])
        guard case .record(_, .failed(let reason, let message))? = a.first, a.count == 1 else { Issue.record("got \(a)"); return }
        #expect(reason == "BackendLost")
        #expect(message.contains("job-1") && message.contains("Never"))
    }

    @Test func aPodLostMoreThanMaxRestartsTimesFails() {
        var r = created(1)
        r.restartCount = 2
        guard case .record(_, .failed("BackendLost", let m))? = plan([r], []).first else { Issue.record("not failed"); return }
        #expect(m.contains("2 restarts"))
    }

    @Test func aJustCreatedJobNotYetListedIsNotLostUntilTheGraceEnds() {
        #expect(plan([created(1, seen: false)], []).isEmpty)
        var old = created(1, seen: false)
        old.jobCreatedAt = now.addingTimeInterval(-31)
        #expect(plan([old], []).count == 2)
    }

    @Test func aFailedCreateWaitsForItsBackoffThenRetries() {
        var r = Fx.record(1)
        r = PodRecord.apply(.createFailed(attempt: 0, reason: "ProviderFailed", message: "boom", retryable: true), to: r, at: now.addingTimeInterval(-5))!
        #expect(plan([r], []).isEmpty)  // backoff after 1 failure is 10 s
        r.lastError!.at = now.addingTimeInterval(-10)
        #expect(plan([r], []) == [.create(uid: Fx.uid(1), attempt: 0)])
    }

    @Test func aCreateThatFailedMaxTimesEndsFailedWithTheBackendMessage() {
        var r = Fx.record(1)
        for _ in 0..<3 {
            r = PodRecord.apply(.createFailed(attempt: 0, reason: "ErrImagePull", message: "no such image", retryable: true), to: r, at: now)!
        }
        guard case .record(_, .failed(let reason, let message))? = plan([r], []).first else { Issue.record("not failed"); return }
        #expect(reason == "ErrImagePull")
        #expect(message.contains("no such image") && message.contains("3 tries"))
    }

    @Test func aNonRetryableCreateFailureFailsAtOnce() {
        let r = PodRecord.apply(.createFailed(attempt: 0, reason: "CreateContainerConfigError", message: "bad quantity", retryable: false),
                                to: Fx.record(1), at: now)!
        guard case .record(_, .failed("CreateContainerConfigError", _))? = plan([r], []).first else { Issue.record("not failed"); return }
    }

    @Test func aFinishedPodWhoseJobVanishedIsLeftAlone() {
        let r = PodRecord.apply(.finished(attempt: 0, containers: obs(1, state: .finished).containers, initContainers: []),
                                to: created(1), at: now)!
        #expect(plan([r], []).isEmpty)
    }

    @Test func aFailedPodsJobIsCancelledAndNotRecreated() {
        let r = PodRecord.apply(.failed(reason: "X", message: "y"), to: created(1), at: now)!
        #expect(plan([r], []).isEmpty)
        guard case .cancel(_, .failed)? = plan([r], [obs(1)]).first else { Issue.record("not cancelled"); return }
    }

    @Test func aCancelInBackoffIsNotRepeated() {
        let o = obs(9)
        let a = Planner.plan(records: [:], observations: [o], now: now, settings: settings,
                             cancelNotBefore: [Planner.jobKey(o.ref): now.addingTimeInterval(5)])
        #expect(a.isEmpty)
    }
}
