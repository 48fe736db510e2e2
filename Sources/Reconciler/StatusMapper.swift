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
            st.containers = t.containers; st.initContainers = t.initContainers
        } else if let o = observation, o.attempt == rec.attempt, !o.containers.isEmpty || !o.initContainers.isEmpty {
            st.containers = o.containers; st.initContainers = o.initContainers
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
        for i in st.containers.indices {
            st.containers[i].restartCount = restarts
            if let last = rec.lastState[st.containers[i].name] { st.containers[i].lastState = last }
        }
        return st
    }

    /// Status of a pod the reconciler never heard of: identity only.
    public static func unknown(_ pod: Pod) -> PodStatus {
        PodStatus(name: pod.name, UID: pod.uid, namespace: pod.namespace)
    }
}
