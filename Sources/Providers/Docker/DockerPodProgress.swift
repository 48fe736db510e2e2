import FoundationEssentials
import Model

/// Turns the records of one observe round into pod observations, and says in
/// each which containers are due to start (`JobObservation.dueToStart`). Pure:
/// it decides, it never acts; the planner's `.advance` action starts them.
///
/// Sequencing lives here rather than in a task per pod, so it survives an
/// InterLink restart: a pod's progress is read from Docker each time. Init
/// containers run one at a time in order; the next one is due once the previous
/// exited 0; when all have, the main containers are due together. A failed init
/// container finishes the pod.
///
/// An incarnation missing some of its containers (the `count` label says how
/// many it has) is either a create still under way or one cut short (a crash, a
/// failed create that could not roll back): while nothing of it has started and
/// it is younger than `incompleteGraceSeconds` it is not reported at all, so the
/// reconciler's next create adopts it and adds the rest; older, it is reported
/// finished with an interruption (lost work, per restartPolicy; an orphan when
/// no pod wants it). One that lost a container after starting (removed behind
/// our back) is lost work too.
public enum DockerPodProgress {
    /// How long an incomplete, never-started incarnation is taken for a create
    /// still under way (image pulls included) before it counts as lost.
    public static let incompleteGraceSeconds: Double = 3600

    /// What one observe round reports.
    public struct Plan: Sendable, Equatable {
        public var observations: [JobObservation]
        /// Every observation's `dueToStart`, in one list (one `docker start` for all pods).
        public var toStart: [String] { observations.flatMap(\.dueToStart) }
    }

    public static func plan(_ records: [DockerContainerRecord], now: Date = Date()) -> Plan {
        var byPod: [String: [Int: [DockerContainerRecord]]] = [:]
        for r in records { byPod[r.podUID, default: [:]][r.attempt, default: []].append(r) }
        var observations: [JobObservation] = []
        for uid in byPod.keys.sorted() {
            let attempts = byPod[uid]!
            let latest = attempts.keys.max()!
            for attempt in attempts.keys.sorted() {
                let group = attempts[attempt]!
                // Older incarnations are kept (stopped) only so `Previous` logs and
                // `lastState` can be served; one still running is reported so the
                // reconciler can stop it.
                guard attempt == latest || group.contains(where: \.isRunning) else { continue }
                let previous = attempt == latest ? attempts.filter { $0.key < attempt }.max { $0.key < $1.key }?.value ?? [] : []
                if let obs = observe(group, previous: previous, now: now) { observations.append(obs) }
            }
        }
        return Plan(observations: observations)
    }

    static func observe(_ group: [DockerContainerRecord], previous: [DockerContainerRecord], now: Date) -> JobObservation? {
        let inits = group.filter(\.isInit).sorted { $0.index < $1.index }
        let mains = group.filter { !$0.isInit }.sorted { $0.index < $1.index }
        let first = group[0]
        // Only a complete incarnation is advanced: a create still under way (or one
        // that lost a container) must not start half a pod.
        let complete = group.allSatisfy { $0.count == group.count }
        var interruption: String? = nil
        if !complete {
            let expected = group.map(\.count).max() ?? 0
            let what = "\(group.count) of \(expected) containers of this incarnation exist in Docker"
            // Never started: Docker has no start time for it. (Not `hasStarted`: a
            // container being removed, as a failed create rolls back, is not "created".)
            if !group.contains(where: { $0.startedAt != nil || $0.failedToStart }) {
                let newest = group.compactMap(\.createdAt).max() ?? now
                if now.timeIntervalSince(newest) < incompleteGraceSeconds { return nil }
                interruption = "its create did not complete (\(what))"
            } else {
                interruption = "containers were removed behind InterLink's back (\(what))"
            }
        }
        func last(_ r: DockerContainerRecord) -> ContainerState {
            guard let p = previous.first(where: { $0.container == r.container && $0.isInit == r.isInit }),
                  p.hasStarted else { return ContainerState() }
            return DockerInspect.status(of: p).state
        }

        var toStart: [String] = []
        var message: String? = nil
        var initFailed = false
        var initsDone = true
        var initStatuses: [ContainerStatus] = []
        for r in inits {
            initStatuses.append(DockerInspect.status(of: r, waitingReason: "PodInitializing", lastState: last(r)))
            // Only the first init container that has not succeeded matters.
            if !initsDone || r.succeeded { continue }
            initsDone = false
            if r.isTerminated {
                initFailed = true
                message = "init container \(r.container) failed" + (r.error.isEmpty ? " with exit code \(r.exitCode)" : ": \(r.error)")
            } else if !r.hasStarted && complete {
                toStart.append(r.id)
            }
        }
        let mainStatuses = mains.map { r -> ContainerStatus in
            DockerInspect.status(of: r, waitingReason: initsDone ? "ContainerCreating" : "PodInitializing",
                                 lastState: last(r))
        }
        if initsDone && complete { toStart += mains.filter { !$0.hasStarted }.map(\.id) }

        let state: JobState
        if interruption != nil { state = .finished }
        else if initFailed || (!mains.isEmpty && mains.allSatisfy(\.isTerminated)) { state = .finished }
        else if group.contains(where: \.isRunning) { state = .running }
        else { state = .pending }
        if let m = mains.first(where: { !$0.error.isEmpty }), message == nil {
            message = "container \(m.container) could not run: \(m.error)"
        }
        let jobID = (inits + mains).map(\.id).joined(separator: ",")
        let obs = JobObservation(podUID: first.podUID, namespace: first.namespace, name: first.podName,
                                 jobID: jobID, attempt: first.attempt, state: state,
                                 containers: mainStatuses, initContainers: initStatuses, message: message ?? interruption,
                                 interruption: interruption, dueToStart: toStart)
        return obs
    }
}
