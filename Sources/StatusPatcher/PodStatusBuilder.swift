import FoundationEssentials
import Model

/// Computes the Kubernetes pod status from interLink's `PodStatus` (what the
/// backend reports per container) and the pod's spec. Pure: the previous
/// status (the API server's) supplies the times to keep: a condition keeps its
/// `lastTransitionTime` while its state is unchanged, `startTime` never moves.
///
/// Phase follows the interLink virtual kubelet: a failed init container fails
/// the pod, unfinished init containers keep it Pending; then all containers
/// terminated -> Succeeded, or Failed if one exited non-zero; any running ->
/// Running; otherwise Pending.
public enum PodStatusBuilder {
    public static func build(_ st: PodStatus, spec: PodSpec?, previous: KubePodStatus?, now: String) -> KubePodStatus {
        let containers = statuses(st.containers, spec: spec?.containers ?? [])
        let inits = statuses(st.initContainers, spec: spec?.initContainers ?? [])
        let phase = self.phase(containers: containers, inits: inits)

        let initsDone = inits.allSatisfy { $0.state.terminated?.exitCode == 0 }
        let unready = containers.filter { !$0.ready }.map(\.name)
        let finished = phase == .succeeded || phase == .failed
        var conds: [PodCondition] = []
        conds.append(PodCondition(type: "PodScheduled", status: "True"))
        conds.append(initsDone ? PodCondition(type: "Initialized", status: "True")
                     : PodCondition(type: "Initialized", status: "False", reason: "ContainersNotInitialized",
                                    message: "containers with incomplete status: [\(inits.filter { $0.state.terminated?.exitCode != 0 }.map(\.name).joined(separator: " "))]"))
        let ready: PodCondition
        if finished {
            ready = PodCondition(type: "Ready", status: "False", reason: "PodCompleted")
        } else if unready.isEmpty && !containers.isEmpty {
            ready = PodCondition(type: "Ready", status: "True")
        } else {
            ready = PodCondition(type: "Ready", status: "False", reason: "ContainersNotReady",
                                 message: "containers with unready status: [\(unready.joined(separator: " "))]")
        }
        var containersReady = ready
        containersReady.type = "ContainersReady"
        conds.append(containersReady)
        conds.append(ready)
        // Keep the time of the last real transition.
        let before = previous?.conditions ?? []
        for i in conds.indices {
            if let old = before.first(where: { $0.type == conds[i].type }), old.sameState(as: conds[i]), let t = old.lastTransitionTime {
                conds[i].lastTransitionTime = t
            } else {
                conds[i].lastTransitionTime = now
            }
        }

        // Pod-level reason/message only where kubelet sets them too: a pod the
        // backend lost for good.
        var reason: String? = nil, message: String? = nil
        if phase == .failed, let lost = containers.first(where: { $0.state.terminated?.reason == "BackendLost" }) {
            reason = "BackendLost"; message = lost.state.terminated?.message
        }
        return KubePodStatus(phase: phase.rawValue, conditions: conds, containerStatuses: containers,
                             initContainerStatuses: inits.isEmpty ? nil : inits,
                             startTime: previous?.startTime ?? now, reason: reason, message: message,
                             hostIP: previous?.hostIP, podIP: previous?.podIP)
    }

    static func phase(containers: [ContainerStatus], inits: [ContainerStatus]) -> PodPhase {
        if inits.contains(where: { ($0.state.terminated?.exitCode ?? 0) != 0 }) { return .failed }
        if !inits.allSatisfy({ $0.state.terminated != nil }) { return .pending }
        let p = PodPhase.derive(from: containers)
        return p == .unknown ? .pending : p
    }

    /// One status per container of the spec, in spec order (interLink's
    /// entry where it has one, else waiting `ContainerCreating`), with the
    /// fields the schema requires filled in. A running container with no
    /// readiness probe is ready; with one, it is ready when the backend says so.
    static func statuses(_ reported: [ContainerStatus], spec: [Container]) -> [ContainerStatus] {
        let names = spec.isEmpty ? reported.map(\.name) : spec.map(\.name)
        return names.map { name in
            let image = spec.first { $0.name == name }?.image ?? ""
            var s = reported.first { $0.name == name }
                ?? ContainerStatus(name: name, image: image, state: .waiting("ContainerCreating"))
            if s.image.isEmpty { s.image = image }
            if s.state.isEmpty { s.state = .waiting("ContainerCreating") }
            // Without a readiness (startup) probe a running container is ready (started),
            // whatever the backend said; with one, the backend that ran it decides.
            let running = s.state.running != nil
            let probes = spec.first { $0.name == name }
            s.ready = running && (probes?.readinessProbe == nil || s.ready)
            s.started = running && (probes?.startupProbe == nil || s.started ?? true)
            return s
        }
    }

    /// True when `server` already shows what `desired` would write, so no
    /// patch is needed (after a restart, or when only our own echo came back).
    public static func matches(_ desired: KubePodStatus, server: KubePodStatus?) -> Bool {
        guard let server else { return false }
        let ours = Set(["PodScheduled", "Initialized", "ContainersReady", "Ready"])
        let serverConds = (server.conditions ?? []).filter { ours.contains($0.type) }.sorted { $0.type < $1.type }
        let desiredConds = (desired.conditions ?? []).sorted { $0.type < $1.type }
        return desired.phase == server.phase && desiredConds == serverConds
            && (desired.containerStatuses ?? []) == (server.containerStatuses ?? [])
            && (desired.initContainerStatuses ?? []) == (server.initContainerStatuses ?? [])
            && desired.startTime == server.startTime && desired.reason == server.reason && desired.message == server.message
    }
}
