import FoundationEssentials
import Model

/// Turns the records of one observe round into pod observations and decides
/// which containers to start next. Pure.
///
/// Sequencing lives here rather than in a task per pod, so it survives an
/// InterLink restart: a pod's progress is read from Docker each time. Init
/// containers run one at a time in order; the next one starts once the previous
/// exited 0; when all have, the main containers start together. A failed init
/// container finishes the pod.
public enum DockerPodProgress {
    /// What one observe round reports, and the containers whose turn has come.
    public struct Plan: Sendable, Equatable {
        public var observations: [JobObservation]
        /// Container ids to `docker start` now (one command for all pods).
        public var toStart: [String]
    }

    public static func plan(_ records: [DockerContainerRecord]) -> Plan {
        var byPod: [String: [Int: [DockerContainerRecord]]] = [:]
        for r in records { byPod[r.podUID, default: [:]][r.attempt, default: []].append(r) }
        var observations: [JobObservation] = []
        var toStart: [String] = []
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
                let (obs, start) = observe(group, previous: previous)
                observations.append(obs)
                toStart += start
            }
        }
        return Plan(observations: observations, toStart: toStart)
    }

    static func observe(_ group: [DockerContainerRecord], previous: [DockerContainerRecord]) -> (JobObservation, [String]) {
        let inits = group.filter(\.isInit).sorted { $0.index < $1.index }
        let mains = group.filter { !$0.isInit }.sorted { $0.index < $1.index }
        let first = group[0]
        // Only a complete incarnation is advanced: a create still under way (or one
        // that lost a container) must not start half a pod.
        let complete = group.allSatisfy { $0.count == group.count }
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
        if initFailed || (!mains.isEmpty && mains.allSatisfy(\.isTerminated)) { state = .finished }
        else if group.contains(where: \.isRunning) { state = .running }
        else { state = .pending }
        if let m = mains.first(where: { !$0.error.isEmpty }), message == nil {
            message = "container \(m.container) could not run: \(m.error)"
        }
        let jobID = (inits + mains).map(\.id).joined(separator: ",")
        let obs = JobObservation(podUID: first.podUID, namespace: first.namespace, name: first.podName,
                                 jobID: jobID, attempt: first.attempt, state: state,
                                 containers: mainStatuses, initContainers: initStatuses, message: message)
        return (obs, toStart)
    }
}
