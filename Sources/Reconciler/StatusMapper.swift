import FoundationEssentials
import Model
import Providers

/// Turns what the reconciler knows of a pod into the `PodStatus` the VK reads.
/// Pure. Precedence: given up (Failed) > recorded terminal state > latest
/// observation > create error (waiting) > `ContainerCreating`.
public enum StatusMapper {
    public static func status(_ rec: PodRecord, observation: JobObservation?) -> PodStatus {
        let pod = rec.pod
        var st = PodStatus(name: pod.name, UID: rec.uid, namespace: pod.namespace, JID: rec.jobID)
        if let f = rec.failed {
            st.containers = pod.containers.map { c in
                ContainerStatus(name: c.name, image: c.image, state: .terminated(ContainerStateTerminated(
                    exitCode: 1, reason: f.reason, message: f.message, finishedAt: RFC3339.string(f.at))))
            }
        } else if let t = rec.terminal, t.attempt == rec.attempt {
            st.containers = finished(t.containers, initContainers: t.initContainers); st.initContainers = t.initContainers
        } else if let o = observation, o.attempt == rec.attempt, !o.containers.isEmpty || !o.initContainers.isEmpty {
            st.containers = o.state == .finished ? finished(o.containers, initContainers: o.initContainers) : o.containers
            st.initContainers = o.initContainers
            if st.JID.isEmpty { st.JID = o.jobID }
        } else if rec.seenAttempt == rec.attempt, !rec.seenContainers.isEmpty {
            // Not observed since a restart of InterLink: show what was last seen.
            st.containers = rec.seenContainers
        } else if let e = rec.lastError, rec.createFailures > 0, rec.jobID.isEmpty {
            st.containers = pod.containers.map {
                ContainerStatus(name: $0.name, image: $0.image, state: .waiting(e.reason, e.message))
            }
            st.initContainers = pod.initContainers.map {
                ContainerStatus(name: $0.name, image: $0.image, state: .waiting(e.reason, e.message))
            }
        } else {
            let reason = pod.initContainers.isEmpty ? "ContainerCreating" : "PodInitializing"
            st.containers = pod.containers.map {
                ContainerStatus(name: $0.name, image: $0.image, state: .waiting(reason))
            }
            st.initContainers = pod.initContainers.map {
                ContainerStatus(name: $0.name, image: $0.image, state: .waiting("ContainerCreating"))
            }
        }
        let restarts = Int32(clamping: rec.restartCount)
        // Written only when different: the containers array is shared with the
        // observation, and a write copies it (per pod, per resync).
        for i in st.containers.indices {
            // A provider that restarts containers itself (Docker, kubelet-style, and
            // the Slurm job's supervisor) reports their count and last run; re-creates
            // of lost work count too. Fields are written only when they change.
            let own = st.containers[i].restartCount
            if own <= restarts, let last = rec.lastState[st.containers[i].name], st.containers[i].lastState != last {
                st.containers[i].lastState = last
            }
            if own < restarts { st.containers[i].restartCount = restarts }
        }
        return st
    }

    /// A finished job whose main containers never ran (an init container failed)
    /// still has them waiting `PodInitializing`, as Kubernetes shows it. The VK
    /// derives the phase from the main containers alone and would keep such a pod
    /// Pending forever, so they are reported terminated with the init failure.
    static func finished(_ containers: [ContainerStatus], initContainers: [ContainerStatus]) -> [ContainerStatus] {
        guard containers.contains(where: { $0.state.terminated == nil }) else { return containers }
        let failedInit = initContainers.first { ($0.state.terminated?.exitCode ?? 0) != 0 }
        let code = failedInit?.state.terminated?.exitCode ?? 1
        let message = failedInit.map { "init container \($0.name) failed with exit code \(code)" }
            ?? "the job ended before this container ran"
        return containers.map { c in
            guard c.state.terminated == nil else { return c }
            var c = c
            c.state = .terminated(ContainerStateTerminated(
                exitCode: code == 0 ? 1 : code, reason: failedInit == nil ? "ContainerCannotRun" : "InitContainerFailed",
                message: message, finishedAt: failedInit?.state.terminated?.finishedAt))
            c.ready = false
            return c
        }
    }

    /// Marks of the backends an observe failure makes unreachable: scope ->
    /// message. Scope "" is every pod (one backend); with several backends
    /// (`RoutingProvider`) the scope is "<backend>/", the prefix of the job ids
    /// of that backend's pods, so only its pods are marked.
    ///
    /// `since` holds when each scope's failures began (scope -> first failure):
    /// a scope failing again keeps its time, so the message, and what observers
    /// are sent, change only when the error does, not when a failing tick falls
    /// in a new second. Scopes that answered again are dropped from it.
    public static func unreachable(_ error: any Error, provider: any Provider, since: inout [String: Date],
                                   now: Date = Date()) -> [String: String] {
        var failing: [String: (backend: String, error: String)] = [:]
        if let r = provider as? RoutingProvider, !r.lastObserveFailures.isEmpty {
            for (n, e) in r.lastObserveFailures { failing[n + "/"] = (n, e) }
        } else {
            failing[""] = (provider.name, "\(error)")
        }
        since = since.filter { failing[$0.key] != nil }
        var out: [String: String] = [:]
        for (scope, f) in failing {
            let first = since[scope] ?? now
            since[scope] = first
            let at = RFC3339.string(first)
            out[scope] = "backend \(f.backend) unreachable since \(at), showing the last known state: \(f.error)"
        }
        return out
    }

    /// `st` as answered while its backend is unreachable: the last known
    /// container states are kept (a job does not end because we cannot see
    /// it), the pod gets `message`, and containers not yet terminated are not
    /// ready (as Kubernetes does for pods on a NotReady node); waiting ones
    /// carry the message too. Terminated pods are final and left alone.
    static func marked(_ st: PodStatus, _ marks: [String: String]) -> PodStatus {
        guard !marks.isEmpty, !st.containers.isEmpty,
              st.containers.contains(where: { $0.state.terminated == nil }) else { return st }
        let message: String? = marks[""] ?? {
            guard let slash = st.JID.firstIndex(of: "/") else { return nil }
            return marks[String(st.JID[...slash])]
        }()
        guard let message else { return st }
        var st = st
        st.message = message
        for i in st.containers.indices where st.containers[i].state.terminated == nil {
            st.containers[i].ready = false
            if let w = st.containers[i].state.waiting { st.containers[i].state = .waiting(w.reason ?? "", message) }
        }
        return st
    }

    /// Status of a pod the reconciler never heard of: identity only.
    public static func unknown(_ pod: Pod) -> PodStatus {
        PodStatus(name: pod.name, UID: pod.uid, namespace: pod.namespace)
    }
}
