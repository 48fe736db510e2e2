import FoundationEssentials
import Model
import Synchronization
import Testing
@testable import Providers

/// Slurm states and status files become the container states a user sees.
@Suite struct SlurmObservationTests {
    let index = SlurmIndex(instance: "il", uid: "u1", namespace: "ns", name: "p", attempt: 0, jobID: "42",
                           initContainers: ["init"], containers: ["a", "b"], images: ["a": "img"], finalState: nil, notes: nil)

    func rec(_ state: String, _ reason: String = "None") -> SqueueRecord {
        SqueueRecord(jobID: "42", name: "il.u1.0", state: state, reason: reason)
    }
    func done(_ code: Int32) -> ContainerFiles {
        ContainerFiles(startedAt: "2026-01-01T00:00:00Z", exit: .init(code: code, finishedAt: "2026-01-01T00:00:05Z"))
    }
    let started = ContainerFiles(startedAt: "2026-01-01T00:00:00Z")

    @Test func squeueOutputIsParsedAndAPipeInTheJobNameIsKept() {
        let r = SqueueRecord.parse("42|PENDING|Resources|interlink:il:u1:0|il.u1.0\n43|RUNNING|None|(null)|odd|name\n\n")
        #expect(r == [SqueueRecord(jobID: "42", name: "il.u1.0", state: "PENDING", reason: "Resources", comment: "interlink:il:u1:0"),
                      SqueueRecord(jobID: "43", name: "odd|name", state: "RUNNING", reason: "None", comment: "(null)")])
    }

    @Test func aJobIsOursByItsMarkAndByItsNameOnlyWithoutAnyComment() {
        let marked = SqueueRecord(jobID: "1", name: "anything", state: "RUNNING", reason: "None", comment: "interlink:il:u1:2")
        #expect(marked.isMarked)
        #expect(marked.identity(instance: "il")! == ("il", "u1", 2))
        // Submitted before marks existed: the name still confirms the id an index holds.
        let legacy = SqueueRecord(jobID: "2", name: "il.u1.0", state: "RUNNING", reason: "None", comment: "(null)")
        #expect(!legacy.isMarked)
        #expect(legacy.identity(instance: "il")! == ("il", "u1", 0))
        // A name like ours with someone else's comment is not ours.
        let foreign = SqueueRecord(jobID: "3", name: "il.u1.0", state: "RUNNING", reason: "None", comment: "mine")
        #expect(foreign.identity(instance: "il") == nil)
        #expect(SlurmJobMark.parse("interlink:il:u1:x") == nil)
        #expect(SlurmJobMark.parse(SlurmJobMark.make(instance: "a-b", uid: "u", attempt: 7))! == ("a-b", "u", 7))
    }

    @Test func unreadableStatusFilesMakeAFinishedJobUnknownNeverLost() {
        let lost = SlurmObservation.observe(index: index, record: nil, files: ["init": done(0)])
        #expect(lost.interruption == "JobLost")
        let o = SlurmObservation.unreadable(lost, problems: ["a": "cannot read /x/a.exit: Is a directory"])
        #expect(o.state == .running)
        #expect(o.interruption == nil)
        #expect(o.containers.first { $0.name == "a" }?.state.waiting?.reason == "StatusUnreadable")
        #expect(o.message?.contains("/x/a.exit") == true)
    }

    @Test func jobNamesCarryInstanceUIDAndAttempt() {
        #expect(SlurmJobName.parse("my.inst.abc-1.3", instance: "my.inst")! == ("abc-1", 3))
        #expect(SlurmJobName.parse("other.abc-1.3", instance: "my.inst") == nil)
        #expect(SlurmJobName.parse("wrap", instance: "wrap") == nil)
    }

    @Test func pendingShowsSlurmsReason() {
        let o = SlurmObservation.observe(index: index, record: rec("PENDING", "Resources"), files: [:])
        #expect(o.state == .pending)
        #expect(o.containers.map { $0.state.waiting?.reason } == ["Resources", "Resources"])
    }

    @Test func runningInitContainerKeepsMainOnesInPodInitializing() {
        let o = SlurmObservation.observe(index: index, record: rec("RUNNING"), files: ["init": started])
        #expect(o.state == .running)
        #expect(o.initContainers[0].state.running != nil)
        #expect(o.containers.map { $0.state.waiting?.reason } == ["PodInitializing", "PodInitializing"])
    }

    @Test func runningMainContainersFollowTheirFiles() {
        let o = SlurmObservation.observe(index: index, record: rec("RUNNING"), files: ["init": done(0), "a": done(3), "b": started])
        #expect(o.containers[0].state.terminated?.exitCode == 3)
        #expect(o.containers[1].state.running?.startedAt == "2026-01-01T00:00:00Z")
    }

    @Test func completedAndFailedReportEachContainersOwnExitCode() {
        let o = SlurmObservation.observe(index: index, record: rec("FAILED"), files: ["init": done(0), "a": done(0), "b": done(7)])
        #expect(o.state == .finished)
        #expect(o.containers.map { $0.state.terminated?.exitCode } == [0, 7])
        #expect(o.containers.map { $0.state.terminated?.reason } == ["Completed", "Error"])
    }

    @Test func timeoutIsDeadlineExceeded() {
        let o = SlurmObservation.observe(index: index, record: rec("TIMEOUT"), files: ["init": done(0), "a": done(0), "b": done(143)])
        #expect(o.containers.map { $0.state.terminated?.reason } == ["Completed", "DeadlineExceeded"])
        let killed = SlurmObservation.observe(index: index, record: rec("TIMEOUT"), files: ["init": done(0), "a": started])
        #expect(killed.containers.map { $0.state.terminated?.reason } == ["DeadlineExceeded", "DeadlineExceeded"])
    }

    @Test func outOfMemoryIsOOMKilledAndOtherEndsKeepTheirNames() {
        let oom = SlurmObservation.observe(index: index, record: rec("OUT_OF_MEMORY"), files: ["init": done(0), "a": done(137), "b": done(0)])
        #expect(oom.containers[0].state.terminated?.reason == "OOMKilled")
        for state in ["CANCELLED", "NODE_FAIL", "PREEMPTED"] {
            let o = SlurmObservation.observe(index: index, record: rec(state), files: ["init": done(0), "a": started])
            #expect(o.containers.map { $0.state.terminated?.reason } == [state, state])
        }
    }

    @Test func purgedJobIsJudgedFromStatusFilesAndRemembersItsEnd() {
        let o = SlurmObservation.observe(index: index, record: nil, files: ["init": done(0), "a": done(0), "b": done(2)])
        #expect(o.state == .finished)
        #expect(o.containers.map { $0.state.terminated?.exitCode } == [0, 2])
        var cancelled = index; cancelled.finalState = "CANCELLED"
        let c = SlurmObservation.observe(index: cancelled, record: nil, files: ["init": done(0)])
        #expect(c.containers.map { $0.state.terminated?.reason } == ["CANCELLED", "CANCELLED"])
        let lost = SlurmObservation.observe(index: index, record: nil, files: ["init": done(0), "a": started])
        #expect(lost.state == .finished)
        #expect(lost.containers.allSatisfy { $0.state.terminated?.reason == "JobLost" })
    }

    @Test func failedInitContainerEndsTheJobWithItsCode() {
        let o = SlurmObservation.observe(index: index, record: rec("FAILED"), files: ["init": done(5)])
        #expect(o.initContainers[0].state.terminated?.exitCode == 5)
        #expect(o.containers.allSatisfy { $0.state.terminated?.exitCode == 5 })
        #expect(PodPhase.derive(from: o.containers) == .failed)
    }

    @Test func logOptionsSelectLines() {
        let text = "2026-01-01T00:00:01.000001Z one\n2026-01-01T00:00:02.000001Z two words\n2026-01-01T00:00:03.000001Z three\n"
        func s(_ o: LogOpts) -> String { String(decoding: SlurmLogs.render(text, o), as: UTF8.self) }
        #expect(s(LogOpts()) == "one\ntwo words\nthree\n")
        #expect(s(LogOpts(Tail: 2)) == "two words\nthree\n")
        #expect(s(LogOpts(Tail: 1, Timestamps: true)) == "2026-01-01T00:00:03.000001Z three\n")
        #expect(s(LogOpts(Bytes: 6)) == "one\ntw")
        #expect(s(LogOpts(SinceTime: "2026-01-01T00:00:02Z")) == "two words\nthree\n")
        let now = RFC3339.date("2026-01-01T00:00:04Z")!
        #expect(String(decoding: SlurmLogs.render(text, LogOpts(SinceSeconds: 2), now: now), as: UTF8.self) == "two words\nthree\n")
    }

    @Test func sinfoBecomesFreeCapacity() {
        let p = SlurmCapacity.parse("vm|1/3/0/4|8000|1000|mixed|\nn2|0/8/0/8|4000|0|down*|\n")
        #expect(p.resources?.cpu == "3")
        #expect(p.resources?.memory == "7000Mi")
    }

    @Test func theSupervisorsFilesBecomeCrashLoopBackOffRestartCountAndLastState() throws {
        var idx = index; idx.supervised = true
        let last = try #require(ContainerFiles.Last.parse("2 2026-01-01T00:00:10Z\n3 2026-01-01T00:00:11Z\n\nLiveness probe failed: no\n"))
        var backingOff = ContainerFiles(startedAt: "2026-01-01T00:00:10Z", last: last)
        backingOff.waiting = ContainerFiles.parseWaiting("CrashLoopBackOff\nback-off 20s restarting failed container=a\n")
        var ready = started; ready.started = true; ready.ready = true
        var unready = started; unready.started = true
        let o = SlurmObservation.observe(index: idx, record: rec("RUNNING"), files: ["init": done(0), "a": backingOff, "b": unready])
        let a = o.containers[0]
        #expect(a.state.waiting?.reason == "CrashLoopBackOff")
        #expect(a.state.waiting?.message == "back-off 20s restarting failed container=a")
        #expect(a.restartCount == 2 && !a.ready)
        #expect(a.lastState.terminated == ContainerStateTerminated(exitCode: 3, reason: "Error", message: "Liveness probe failed: no",
                                                                   startedAt: "2026-01-01T00:00:10Z", finishedAt: "2026-01-01T00:00:11Z"))
        #expect(o.containers[1].state.running != nil && !o.containers[1].ready && o.containers[1].started == true)
        #expect(o.state == .running)
        let flipped = SlurmObservation.observe(index: idx, record: rec("RUNNING"), files: ["init": done(0), "a": ready, "b": started])
        #expect(flipped.containers[0].ready && flipped.containers[0].started == true)
        #expect(!flipped.containers[1].ready && flipped.containers[1].started == false)   // startup probe not passed yet
        // A job from before the supervisor has none of these files: running means ready.
        let legacy = SlurmObservation.observe(index: index, record: rec("RUNNING"), files: ["init": done(0), "a": started, "b": started])
        #expect(legacy.containers.allSatisfy { $0.ready && $0.restartCount == 0 })
    }

    @Test func aDamagedLastFileIsNotParsed() {
        #expect(ContainerFiles.Last.parse("x 2026\n0 t\n") == nil)
        #expect(ContainerFiles.Last.parse("1 2026-01-01T00:00:00Z") == nil)
        #expect(ContainerFiles.parseWaiting("") == nil)
    }
}

/// A follow asks squeue whether its job lives at most once per interval, and
/// only a clear answer (terminal state, purged, unknown id) ends it.
@Suite struct SlurmJobLivenessTests {
    func result(_ out: String, exit: Int32 = 0, err: String = "") -> ProcessResult {
        ProcessResult(exitCode: exit, signal: nil, stdout: Data(out.utf8), stderr: Data(err.utf8))
    }

    @Test func squeueAnswersAreReadAsEndedOnlyWhenTheyAreClear() {
        #expect(!SlurmJobLiveness.ended(result("RUNNING\n")))
        #expect(!SlurmJobLiveness.ended(result("PENDING\n")))
        #expect(!SlurmJobLiveness.ended(result("COMPLETING\n")))
        #expect(SlurmJobLiveness.ended(result("CANCELLED\n")))
        #expect(SlurmJobLiveness.ended(result("FAILED\n")))
        #expect(SlurmJobLiveness.ended(result("")))   // purged
        #expect(SlurmJobLiveness.ended(result("", exit: 1, err: "slurm_load_jobs error: Invalid job id specified")))
        #expect(!SlurmJobLiveness.ended(result("", exit: 1, err: "slurm_load_jobs error: Unable to contact slurm controller")))
    }

    @Test func squeueIsAskedAtMostOncePerIntervalAndNotAgainOnceEnded() async {
        let now = Mutex(100.0)
        let calls = Mutex(0)
        let state = Mutex("RUNNING\n")
        let l = SlurmJobLiveness(jobID: { "7" }, query: { id in
            calls.withLock { $0 += 1 }
            return ProcessResult(exitCode: 0, signal: nil, stdout: Data(state.withLock { $0 }.utf8), stderr: Data())
        }, clock: { now.withLock { $0 } })
        for _ in 0..<20 { #expect(await l.ended() == false) }
        #expect(calls.withLock { $0 } == 1)
        now.withLock { $0 += SlurmJobLiveness.interval + 0.1 }
        state.withLock { $0 = "CANCELLED\n" }
        #expect(await l.ended())
        #expect(calls.withLock { $0 } == 2)
        now.withLock { $0 += 60 }
        #expect(await l.ended())
        #expect(calls.withLock { $0 } == 2)
    }

    @Test func aJobNotSubmittedYetIsNotAskedAbout() async {
        let calls = Mutex(0)
        let l = SlurmJobLiveness(jobID: { "" }, query: { _ in calls.withLock { $0 += 1 }; return nil })
        #expect(await l.ended() == false)
        #expect(calls.withLock { $0 } == 0)
    }
}
