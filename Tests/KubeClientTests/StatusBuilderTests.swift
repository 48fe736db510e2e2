import Foundation
import Model
@testable import StatusPatcher
@testable import Config
import Testing

/// The pure parts of the status patcher: the Kubernetes status computed from
/// interLink's, and kubelet-style Event de-duplication and rate limiting.
@Suite struct StatusBuilderTests {
    let spec = PodSpec(containers: [Container(name: "main", image: "img")], initContainers: [Container(name: "setup", image: "img")])

    func st(init i: ContainerState, main m: ContainerState?) -> PodStatus {
        PodStatus(name: "p", UID: "u", namespace: "n",
                  containers: m.map { [ContainerStatus(name: "main", state: $0)] } ?? [],
                  initContainers: [ContainerStatus(name: "setup", state: i)])
    }

    @Test func initContainersGateThePhase() {
        let running = ContainerState.running(since: nil)
        let ok = ContainerState.terminated(ContainerStateTerminated(exitCode: 0))
        let bad = ContainerState.terminated(ContainerStateTerminated(exitCode: 2))
        func phase(_ s: PodStatus) -> String? { PodStatusBuilder.build(s, spec: spec, previous: nil, now: "t").phase }
        #expect(phase(st(init: running, main: nil)) == "Pending")
        #expect(phase(st(init: bad, main: nil)) == "Failed")
        #expect(phase(st(init: ok, main: running)) == "Running")
        let built = PodStatusBuilder.build(st(init: running, main: nil), spec: spec, previous: nil, now: "t")
        #expect(built.conditions?.first { $0.type == "Initialized" }?.status == "False")
        #expect(built.containerStatuses?.first?.state.waiting?.reason == "ContainerCreating", "a container not reported yet is waiting")
        #expect(built.containerStatuses?.first?.image == "img")
    }

    @Test func readinessFromTheBackendCountsOnlyWhereTheSpecHasAReadinessProbe() {
        var probed = Container(name: "main", image: "img")
        probed.readinessProbe = Probe(exec: ExecAction(command: ["true"]))
        let running = ContainerState.running(since: nil)
        func built(_ spec: PodSpec, ready: Bool) -> KubePodStatus {
            PodStatusBuilder.build(PodStatus(name: "p", UID: "u", namespace: "n",
                                             containers: [ContainerStatus(name: "main", ready: ready, state: running)]),
                                   spec: spec, previous: nil, now: "t")
        }
        let unready = built(PodSpec(containers: [probed]), ready: false)
        #expect(unready.containerStatuses?.first?.ready == false)
        #expect(unready.conditions?.first { $0.type == "Ready" }?.status == "False")
        #expect(unready.conditions?.first { $0.type == "ContainersReady" }?.status == "False")
        #expect(built(PodSpec(containers: [probed]), ready: true).conditions?.first { $0.type == "Ready" }?.status == "True")
        // No readiness probe: running is ready, as before (backends that run no probes report either).
        #expect(built(PodSpec(containers: [Container(name: "main", image: "img")]), ready: false).containerStatuses?.first?.ready == true)
    }

    @Test func transitionTimesMoveOnlyOnTransitions() {
        let running = ContainerState.running(since: nil)
        let ok = ContainerState.terminated(ContainerStateTerminated(exitCode: 0))
        let first = PodStatusBuilder.build(st(init: ok, main: running), spec: spec, previous: nil, now: "t1")
        let same = PodStatusBuilder.build(st(init: ok, main: running), spec: spec, previous: first, now: "t2")
        #expect(same == first)
        #expect(PodStatusBuilder.matches(same, server: first))
        let done = PodStatusBuilder.build(st(init: ok, main: ok), spec: spec, previous: first, now: "t3")
        #expect(done.conditions?.first { $0.type == "PodScheduled" }?.lastTransitionTime == "t1")
        #expect(done.conditions?.first { $0.type == "Ready" }?.lastTransitionTime == "t3")
        #expect(done.startTime == "t1")
    }

    @Test func recorderCountsRepeatsAndLimitsEachPod() {
        var r = EventRecorder()
        let pod = PodRef(namespace: "n", name: "p", uid: "u")
        let e = PodEvent(type: "Warning", reason: "FailedCreate", message: "boom")
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        guard case .create(let name, _)? = r.record(e, pod: pod, now: t0) else { Issue.record("first is a create"); return }
        guard case .patch(let again, let body)? = r.record(e, pod: pod, now: t0 + 1) else { Issue.record("repeat is a patch"); return }
        #expect(again == name)
        #expect(String(decoding: body, as: UTF8.self).contains("\"count\":2"))
        // 25 in all within the window, then the pod's bucket is empty.
        for i in 0..<23 { _ = r.record(PodEvent(type: "Normal", reason: "R", message: "\(i)"), pod: pod, now: t0 + 2) }
        #expect(r.record(PodEvent(type: "Normal", reason: "R", message: "x"), pod: pod, now: t0 + 3) == nil)
        #expect(r.record(e, pod: PodRef(namespace: "n", name: "q", uid: "v"), now: t0 + 3) != nil, "other pods have their own budget")
        #expect(r.record(PodEvent(type: "Normal", reason: "R", message: "y"), pod: pod, now: t0 + 303) != nil, "a token comes back after 5 minutes")
    }

    @Test func backendLossAndRestartsAreEventsOnce() {
        func st(_ state: ContainerState, last: ContainerState = ContainerState(), restarts: Int32 = 0) -> PodStatus {
            PodStatus(name: "p", UID: "u", namespace: "n",
                      containers: [ContainerStatus(name: "main", restartCount: restarts, state: state, lastState: last)])
        }
        let lost = ContainerState.terminated(ContainerStateTerminated(exitCode: 137, reason: "BackendLost", message: "job 42 vanished"))
        let running = st(.running(since: nil))
        let relaunched = st(.waiting("ContainerCreating"), last: lost, restarts: 1)
        let events = PodEventDetector.events(before: running, after: relaunched)
        #expect(events.map(\.reason).sorted() == ["BackendLost", "Restarted"])
        #expect(events.first { $0.reason == "BackendLost" }?.message.contains("job 42 vanished") == true)
        #expect(PodEventDetector.events(before: relaunched, after: relaunched).isEmpty, "no change, no event")
        #expect(PodEventDetector.events(before: nil, after: running).isEmpty)
    }

    @Test func kubernetesSectionIsRead() throws {
        let text = """
        Kubernetes:
          Kubeconfig: /etc/kube/config
          PatchStatus: true
          QPS: 2.5
          Burst: 4
        """
        let (c, unknown) = try ConfigLoader.decode(text: text, path: "c.yaml", environment: [:])
        #expect(unknown.isEmpty)
        #expect(c.kubernetes.kubeconfig == "/etc/kube/config" && c.kubernetes.patchStatus && c.kubernetes.qps == 2.5 && c.kubernetes.burst == 4)
        #expect(InterLinkConfig().kubernetes.patchStatus == false)
        #expect { try ConfigLoader.decode(text: "Kubernetes:\n  Bogus: 1\n", path: "c.yaml", environment: [:]) }
            throws: { "\($0)".contains("c.yaml:2: Kubernetes has no key 'Bogus'") }
    }
}
