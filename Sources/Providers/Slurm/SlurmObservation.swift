import FoundationEssentials
import Model

/// One line of `squeue -h --states=all -o '%i|%T|%r|%k|%j'`.
struct SqueueRecord: Sendable, Equatable {
    var jobID: String
    var name: String
    var state: String
    var reason: String
    /// The job's comment (`(null)` when it has none); InterLink's jobs carry `SlurmJobMark`.
    var comment: String = ""

    /// The fixed output format. The job name, which anyone can choose, is last, so
    /// a `|` in it cannot shift the fields InterLink relies on.
    static let format = "%i|%T|%r|%k|%j"

    static func parse(_ output: String) -> [SqueueRecord] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, !f[0].isEmpty else { return nil }
            return SqueueRecord(jobID: f[0].trimmed, name: f[4], state: f[1].trimmed, reason: f[2].trimmed, comment: f[3].trimmed)
        }
    }

    /// Whether InterLink's mark is on the job.
    var isMarked: Bool { SlurmJobMark.parse(comment) != nil }

    /// Whose job this is: from the mark, or, for a job without any comment
    /// (submitted before marks existed), from its name. The name alone only ever
    /// confirms a job id an index already holds; it never makes a job an orphan
    /// or adopts one.
    func identity(instance: String) -> (instance: String, uid: String, attempt: Int)? {
        if let m = SlurmJobMark.parse(comment) { return m }
        guard comment.isEmpty || comment == "(null)", let n = SlurmJobName.parse(name, instance: instance) else { return nil }
        return (instance, n.uid, n.attempt)
    }
}

/// What a container's status files say.
struct ContainerFiles: Sendable, Equatable {
    var startedAt: String?
    var exit: Exit?
    /// What the container wrote to its termination log (first 4096 bytes), if anything.
    var terminationMessage: String? = nil
    /// The supervisor's files (`SlurmSupervisor`): restarts so far and the previous run.
    var last: Last? = nil
    /// Reason and message while a restart is held back (`CrashLoopBackOff`).
    var waiting: (reason: String, message: String?)? = nil
    var started = false
    var ready = false

    static func == (a: ContainerFiles, b: ContainerFiles) -> Bool {
        a.startedAt == b.startedAt && a.exit == b.exit && a.terminationMessage == b.terminationMessage && a.last == b.last
            && a.waiting?.reason == b.waiting?.reason && a.waiting?.message == b.waiting?.message
            && a.started == b.started && a.ready == b.ready
    }

    /// `<restartCount> <startedAt>` then the previous run's exit file, as `il_supervise` writes it.
    struct Last: Sendable, Equatable {
        var restartCount: Int32
        var startedAt: String?
        var exit: Exit

        static func parse(_ text: String) -> Last? {
            guard let nl = text.firstIndex(of: "\n") else { return nil }
            let head = text[..<nl].split(separator: " ").map(String.init)
            guard let count = head.first.flatMap({ Int32($0) }), count >= 0,
                  let exit = Exit.parse(String(text[text.index(after: nl)...])) else { return nil }
            return Last(restartCount: count, startedAt: head.count > 1 ? head[1] : nil, exit: exit)
        }
    }

    /// `<reason>\n<message>` as `il_supervise` writes it while backing off.
    static func parseWaiting(_ text: String) -> (reason: String, message: String?)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let reason = lines.first, !reason.isEmpty else { return nil }
        return (reason, lines.count > 1 && !lines[1].isEmpty ? lines[1] : nil)
    }

    struct Exit: Sendable, Equatable {
        var code: Int32
        var finishedAt: String?
        var reason: String?
        var message: String?

        /// `<code> <finishedAt>\n<reason>\n<message>` as `il_status` writes it.
        static func parse(_ text: String) -> Exit? {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let first = (lines.first ?? "").split(separator: " ").map(String.init)
            guard let code = first.first.flatMap({ Int32($0) }) else { return nil }
            func line(_ i: Int) -> String? { i < lines.count && !lines[i].isEmpty ? lines[i] : nil }
            return Exit(code: code, finishedAt: first.count > 1 ? first[1] : nil, reason: line(1), message: line(2))
        }
    }
}

/// Turns one squeue record (or its absence) and the status files into a
/// `JobObservation`. Pure.
///
/// Contract: PENDING -> pending, every container waiting with Slurm's reason.
/// RUNNING (and other live states) -> per container from its files (main
/// containers wait `PodInitializing` while an init container has not finished).
/// A terminal state, or no squeue record at all (purged after MinJobAge), ->
/// finished with each container's own exit code; containers without an exit file
/// or killed by the end of the job take the reason of the Slurm state: TIMEOUT and
/// DEADLINE -> `DeadlineExceeded`, OUT_OF_MEMORY -> `OOMKilled`, others by name.
/// Jobs under the in-job supervisor (`SlurmIndex.supervised`) also report
/// `restartCount` and `lastState` from `.last`, `waiting` (`CrashLoopBackOff`)
/// from `.waiting`, and `ready`/`started` from their marks; older jobs count a
/// running container as ready and started.
enum SlurmObservation {
    static let liveStates: Set<String> = ["RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED",
                                          "SIGNALING", "RESIZING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "STAGE_OUT"]
    static let pendingStates: Set<String> = ["PENDING", "RESV_DEL_HOLD"]
    /// Whether a job in this squeue state has ended (neither live nor pending).
    static func isTerminal(_ state: String) -> Bool { !liveStates.contains(state) && !pendingStates.contains(state) }
    /// Terminal states in which Slurm, not the pod, ended the job.
    static let interruptingStates: Set<String> = ["CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "REVOKED"]

    static func reason(forState state: String) -> String {
        switch state {
        case "TIMEOUT", "DEADLINE": return "DeadlineExceeded"
        case "OUT_OF_MEMORY": return "OOMKilled"
        case "COMPLETED", "FAILED": return "Error"
        default: return state
        }
    }

    static func observe(index: SlurmIndex, record: SqueueRecord?, files: [String: ContainerFiles]) -> JobObservation {
        var obs = JobObservation(podUID: index.uid, namespace: index.namespace, name: index.name, jobID: index.jobID,
                                 attempt: index.attempt, state: .pending)
        let supervised = index.supervised == true
        func status(_ name: String, _ state: ContainerState) -> ContainerStatus {
            let f = files[name] ?? ContainerFiles()
            // Under the supervisor, ready follows readiness and started the startup probe;
            // a job from before it counts a running container as both.
            let running = state.running != nil
            let ready = running && (!supervised || f.ready)
            let started = supervised ? running && f.started : running || state.terminated != nil
            let last = f.last.map { l in ContainerState.terminated(terminated(l.exit, ContainerFiles(startedAt: l.startedAt, exit: l.exit))) }
            return ContainerStatus(name: name, image: index.images[name] ?? "", ready: ready, restartCount: f.last?.restartCount ?? 0,
                                   started: started, containerID: index.jobID.isEmpty ? nil : "slurm://\(index.jobID)/\(name)",
                                   state: state, lastState: last ?? ContainerState())
        }
        let state = record?.state ?? index.finalState
        if let s = state, pendingStates.contains(s) {
            let why = record?.reason ?? "None"
            obs.message = "Slurm job \(index.jobID) is pending: \(why)"
            obs.initContainers = index.initContainers.map { status($0, .waiting(why, obs.message)) }
            obs.containers = index.containers.map { status($0, .waiting(why, obs.message)) }
            return obs
        }
        let live = state.map { liveStates.contains($0) } ?? false
        if live {
            obs.state = .running
            var initDone = true
            obs.initContainers = index.initContainers.map { name in
                let f = files[name] ?? ContainerFiles()
                if let w = f.waiting { initDone = false; return status(name, .waiting(w.reason, w.message)) }
                if let e = f.exit { return status(name, .terminated(terminated(e, f))) }
                initDone = false
                if let s = f.startedAt { return status(name, .running(since: s)) }
                return status(name, .waiting("PodInitializing"))
            }
            obs.containers = index.containers.map { name in
                let f = files[name] ?? ContainerFiles()
                if !initDone { return status(name, .waiting("PodInitializing")) }
                if let w = f.waiting { return status(name, .waiting(w.reason, w.message)) }
                if let e = f.exit { return status(name, .terminated(terminated(e, f))) }
                if let s = f.startedAt { return status(name, .running(since: s)) }
                return status(name, .waiting("ContainerCreating"))
            }
            // COMPLETING hides the final state (COMPLETED, CANCELLED, TIMEOUT...) that
            // decides the reasons, so a job is only finished early while plainly RUNNING.
            if state == "RUNNING" && obs.containers.allSatisfy({ $0.state.terminated != nil }) { obs.state = .finished }
            return obs
        }

        // Finished: from squeue's terminal state, or judged from the files once purged.
        obs.state = .finished
        let slurmState = state ?? "UNKNOWN"
        let endReason = reason(forState: slurmState)
        let abnormal = slurmState != "COMPLETED" && slurmState != "FAILED"
        obs.message = state.map { "Slurm job \(index.jobID) ended \($0)" } ?? "Slurm job \(index.jobID) is no longer in squeue"
        var failedInit: (name: String, code: Int32)? = nil
        obs.initContainers = index.initContainers.map { name in
            let f = files[name] ?? ContainerFiles()
            if let e = f.exit {
                if e.code != 0 && failedInit == nil { failedInit = (name, e.code) }
                return status(name, .terminated(terminated(e, f, abnormal && e.code != 0 ? endReason : nil)))
            }
            return status(name, .terminated(missing(f, endReason, state, index.jobID)))
        }
        var lostContainer = false
        obs.containers = index.containers.map { name in
            let f = files[name] ?? ContainerFiles()
            if let e = f.exit {
                return status(name, .terminated(terminated(e, f, abnormal && e.code != 0 ? endReason : nil)))
            }
            if let failed = failedInit {
                return status(name, .terminated(ContainerStateTerminated(
                    exitCode: failed.code, reason: "Error", message: "not started: init container \(failed.name) failed")))
            }
            lostContainer = true
            return status(name, .terminated(missing(f, endReason, state, index.jobID)))
        }
        // The job did not end by its own containers: the reconciler applies restartPolicy.
        if interruptingStates.contains(slurmState) { obs.interruption = slurmState }
        else if state == nil && lostContainer { obs.interruption = "JobLost" }
        return obs
    }

    /// A job whose index was written after the squeue snapshot was asked for:
    /// submitted while it was taken, so squeue's silence says nothing yet.
    static func justSubmitted(index: SlurmIndex) -> JobObservation {
        var o = JobObservation(podUID: index.uid, namespace: index.namespace, name: index.name, jobID: index.jobID,
                               attempt: index.attempt, state: .pending)
        let why = "Slurm job \(index.jobID) was just submitted; squeue does not list it yet"
        o.message = why
        func waiting(_ name: String) -> ContainerStatus {
            ContainerStatus(name: name, image: index.images[name] ?? "", ready: false, restartCount: 0, started: false,
                            containerID: "slurm://\(index.jobID)/\(name)", state: .waiting("ContainerCreating", why))
        }
        o.initContainers = index.initContainers.map(waiting)
        o.containers = index.containers.map(waiting)
        return o
    }

    /// A job some of whose status files exist but cannot be read: its result is
    /// unknown, so it is reported as still there (never finished, never lost) with
    /// those containers waiting `StatusUnreadable`, until the files can be read.
    static func unreadable(_ o: JobObservation, problems: [String: String]) -> JobObservation {
        var o = o
        let text = problems.keys.sorted().map { problems[$0]! }.joined(separator: "; ")
        o.message = "\(text); the job's result is unknown until its files can be read (it is not treated as lost)"
        func mark(_ c: ContainerStatus) -> ContainerStatus {
            guard let why = problems[c.name] else { return c }
            var c = c
            c.state = .waiting("StatusUnreadable", why)
            c.ready = false
            return c
        }
        o.containers = o.containers.map(mark)
        o.initContainers = o.initContainers.map(mark)
        if o.state == .finished { o.state = .running }
        o.interruption = nil
        return o
    }

    private static func terminated(_ e: ContainerFiles.Exit, _ f: ContainerFiles, _ override: String? = nil) -> ContainerStateTerminated {
        let reason = override ?? e.reason ?? (e.code == 0 ? "Completed" : "Error")
        return ContainerStateTerminated(exitCode: e.code, signal: e.code > 128 && e.code < 160 ? e.code - 128 : nil,
                                        reason: reason, message: f.terminationMessage ?? e.message, startedAt: f.startedAt, finishedAt: e.finishedAt)
    }

    /// A container the job ended without an exit file for (killed, or never reached).
    private static func missing(_ f: ContainerFiles, _ reason: String, _ state: String?, _ jobID: String) -> ContainerStateTerminated {
        let why = state == nil ? "JobLost" : reason
        let msg = state == nil
            ? "Slurm job \(jobID) left squeue without an exit status for this container"
            : "Slurm job \(jobID) ended \(state!) before this container finished"
        return ContainerStateTerminated(exitCode: 137, reason: why, message: msg, startedAt: f.startedAt)
    }
}
