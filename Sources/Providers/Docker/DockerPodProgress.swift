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

    public static func plan(_ records: [DockerContainerRecord], now: Date = Date(),
                            probes: [String: DockerProbeState] = [:],
                            backoffBase: Int = KubeletRestart.initialBackoffSeconds) -> Plan {
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
                if let obs = observe(group, previous: previous, now: now, probes: probes, backoffBase: backoffBase) {
                    observations.append(obs)
                }
            }
        }
        return Plan(observations: observations)
    }

    /// The runs of each container of one incarnation: the newest run is the
    /// container as Kubernetes sees it, the one before gives `lastState`.
    struct Runs {
        var latest: DockerContainerRecord
        var before: DockerContainerRecord?
    }

    static func runs(_ all: [DockerContainerRecord]) -> [Runs] {
        var byKey: [String: [DockerContainerRecord]] = [:]
        for r in all { byKey[(r.isInit ? "i/" : "m/") + r.container, default: []].append(r) }
        return byKey.values.map { list in
            let sorted = list.sorted { $0.restart > $1.restart }
            return Runs(latest: sorted[0], before: sorted.count > 1 ? sorted[1] : nil)
        }
    }

    /// What happens next to a container whose newest run ended: kubelet's rule
    /// (`KubeletRestart`) read from the labels, so it survives an InterLink restart.
    enum Next: Equatable {
        /// It stays terminated (policy says so, or it succeeded as an init container).
        case final
        /// It restarts once the backoff of `wait` seconds has run; `due` once it has
        /// (the next run should be created and started now).
        case restart(wait: Int, due: Bool)
    }

    static func next(_ r: DockerContainerRecord, now: Date, backoffBase: Int) -> Next {
        guard r.isTerminated, let policy = r.restartPolicy else { return .final }
        let code = r.failedToStart && r.exitCode == 0 ? 128 : r.exitCode
        let restarts = r.isInit ? KubeletRestart.restartsInit(policy, exitCode: code)
                                : KubeletRestart.restarts(policy, exitCode: code)
        guard restarts else { return .final }
        let streak = KubeletRestart.nextStreak(previous: r.backoffStreak, ranSeconds: r.ranSeconds)
        let wait = KubeletRestart.backoffSeconds(streak: streak, base: backoffBase)
        let finished = r.finishedAt.flatMap(RFC3339.date) ?? r.createdAt ?? now
        let left = finished.addingTimeInterval(Double(wait)).timeIntervalSince(now)
        return .restart(wait: wait, due: left <= 0)
    }

    /// The streak label of the run that follows `r`.
    static func nextStreak(after r: DockerContainerRecord) -> Int {
        KubeletRestart.nextStreak(previous: r.backoffStreak, ranSeconds: r.ranSeconds)
    }

    static func observe(_ all: [DockerContainerRecord], previous: [DockerContainerRecord], now: Date,
                        probes: [String: DockerProbeState], backoffBase: Int) -> JobObservation? {
        let byContainer = runs(all)
        let group = byContainer.map(\.latest)
        let before: [String: DockerContainerRecord] = Dictionary(
            byContainer.compactMap { r in r.before.map { ((r.latest.isInit ? "i/" : "m/") + r.latest.container, $0) } },
            uniquingKeysWith: { a, _ in a })
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
            if !all.contains(where: { $0.startedAt != nil || $0.failedToStart }) {
                let newest = group.compactMap(\.createdAt).max() ?? now
                if now.timeIntervalSince(newest) < incompleteGraceSeconds { return nil }
                interruption = "its create did not complete (\(what))"
            } else {
                interruption = "containers were removed behind InterLink's back (\(what))"
            }
        }
        // lastState: the run before this one, else the previous incarnation's container.
        func last(_ r: DockerContainerRecord) -> ContainerState {
            if let b = before[(r.isInit ? "i/" : "m/") + r.container] { return DockerInspect.status(of: b).state }
            guard let p = previous.first(where: { $0.container == r.container && $0.isInit == r.isInit }),
                  p.hasStarted else { return ContainerState() }
            return DockerInspect.status(of: p).state
        }
        var restartDue: [String] = []
        /// The status of `r`, with probes and a pending restart applied.
        func status(_ r: DockerContainerRecord, waiting: String, next: Next) -> ContainerStatus {
            var st = DockerInspect.status(of: r, waitingReason: waiting, lastState: last(r))
            if case .restart(let wait, let due) = next {
                if due && complete && interruption == nil { restartDue.append(r.container) }
                // Kubelet shows the run that ended as lastState, the container waiting.
                st.lastState = st.state
                st.state = .waiting(KubeletRestart.backoffReason, KubeletRestart.backoffMessage(
                    seconds: wait, container: r.container, pod: r.podName, namespace: r.namespace, uid: r.podUID))
                st.ready = false; st.started = false
            }
            if r.isRunning, let spec = r.lifecycle {
                let p = probes[r.id]
                if p?.condemned != nil, complete, interruption == nil { restartDue.append(r.container) }
                // No state yet (InterLink just started, or postStart still runs):
                // a startup probe gates `started`, a readiness probe `ready`.
                let started = p?.started ?? (spec.startupProbe == nil && spec.postStart == nil)
                st.started = started
                st.ready = started && (spec.readinessProbe == nil ? true : (p?.ready ?? false)) && p?.condemned == nil
            }
            return st
        }

        var toStart: [String] = []
        var message: String? = nil
        var initFailed = false
        var initsDone = true
        var initStatuses: [ContainerStatus] = []
        var restarting = false
        for r in inits {
            let n = initsDone && !r.succeeded ? next(r, now: now, backoffBase: backoffBase) : .final
            if n != .final { restarting = true }
            initStatuses.append(status(r, waiting: "PodInitializing", next: n))
            // Only the first init container that has not succeeded matters.
            if !initsDone || r.succeeded { continue }
            initsDone = false
            if r.isTerminated && n == .final {
                initFailed = true
                message = "init container \(r.container) failed" + (r.error.isEmpty ? " with exit code \(r.exitCode)" : ": \(r.error)")
            } else if !r.hasStarted && complete {
                toStart.append(r.id)
            }
        }
        var mainsFinal = !mains.isEmpty
        let mainStatuses = mains.map { r -> ContainerStatus in
            let n = initsDone ? next(r, now: now, backoffBase: backoffBase) : .final
            if !(r.isTerminated && n == .final) { mainsFinal = false }
            if n != .final { restarting = true }
            return status(r, waiting: initsDone ? "ContainerCreating" : "PodInitializing", next: n)
        }
        if initsDone && complete { toStart += mains.filter { !$0.hasStarted }.map(\.id) }

        let state: JobState
        if interruption != nil { state = .finished }
        else if initFailed || mainsFinal { state = .finished }
        // A container waiting out its backoff keeps the pod Running, as kubelet does.
        else if group.contains(where: \.isRunning) || restarting { state = .running }
        else { state = .pending }
        if let m = mains.first(where: { !$0.error.isEmpty }), message == nil {
            message = "container \(m.container) could not run: \(m.error)"
        }
        let jobID = (inits + mains).map(\.id).joined(separator: ",")
        let obs = JobObservation(podUID: first.podUID, namespace: first.namespace, name: first.podName,
                                 jobID: jobID, attempt: first.attempt, state: state,
                                 containers: mainStatuses, initContainers: initStatuses, message: message ?? interruption,
                                 interruption: interruption, dueToStart: toStart,
                                 restartDue: state == .finished ? [] : restartDue)
        return obs
    }
}

/// What the prober last concluded about one running container (by Docker id).
public struct DockerProbeState: Sendable, Equatable {
    /// The startup probe succeeded (or there is none) and postStart has finished.
    public var started: Bool
    /// The readiness probe's last verdict (true when there is none).
    public var ready: Bool
    /// Set once a liveness or startup probe, or the postStart hook, failed: the
    /// container is to be killed (and restarted per restartPolicy). The reason
    /// becomes its `terminated.message`.
    public var condemned: String?

    public init(started: Bool, ready: Bool, condemned: String? = nil) {
        self.started = started; self.ready = ready; self.condemned = condemned
    }
}
