import FoundationEssentials
import Testing
import Model
@testable import Providers

/// `observe` only observes; `advance` starts what an observation named due; a
/// create that fails part way leaves nothing to adopt (real dockerd).
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerAdvanceTests {
    typealias T = DockerTest

    func observation(_ p: DockerProvider, _ pod: DesiredPod) async throws -> JobObservation? {
        try await p.observe().first { $0.podUID == pod.uid && $0.attempt == pod.attempt }
    }

    /// Observes until `done` holds, without ever calling advance.
    func waitObserved(_ p: DockerProvider, _ pod: DesiredPod, _ done: (JobObservation) -> Bool) async throws -> JobObservation {
        for _ in 0..<300 {
            if let o = try await observation(p, pod), done(o) { return o }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw T.Failure(description: "pod \(pod.name) did not reach the expected state")
    }

    @Test func observeNeverStartsTheNextInitContainerAndAdvanceDoesOnceEvenWhenStale() async throws {
        let (p, _) = T.provider()
        let mount = [VolumeMount(name: "shared", mountPath: "/shared")]
        var i1 = T.sh("first", "echo one >> /shared/log"); i1.volumeMounts = mount
        var i2 = T.sh("second", "echo two >> /shared/log"); i2.volumeMounts = mount
        var main = T.sh("main", "cat /shared/log"); main.volumeMounts = mount
        let pod = T.pod([main], inits: [i1, i2], volumes: [Volume(name: "shared", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        // create starts the first step itself; the second waits for advance.
        let due = try await waitObserved(p, pod) { !$0.dueToStart.isEmpty }
        #expect(due.initContainers.map { $0.state.terminated?.exitCode } == [0, nil])
        #expect(due.dueToStart.count == 1)
        try await Task.sleep(for: .milliseconds(1500))
        let still = try #require(try await observation(p, pod))
        #expect(still.initContainers[1].state.waiting?.reason == "PodInitializing", "observe must not start anything")
        #expect(still.dueToStart == due.dueToStart)

        try await p.advance(due.ref, start: due.dueToStart)
        let next = try await waitObserved(p, pod) { $0.initContainers[1].state.terminated != nil }
        #expect(next.initContainers[1].state.terminated?.exitCode == 0)
        // The same stale observation again: the second init container already ran, so nothing starts.
        try await p.advance(due.ref, start: due.dueToStart)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(try await T.logs(p, pod, "main") == "one\ntwo\n", "every init container ran exactly once")
        await T.remove(p, [pod])
    }

    @Test func aMissingImageInTheSecondContainerLeavesNoHalfMadePodBehind() async throws {
        let (p, config) = T.provider()
        let pod = T.pod([T.sh("first", "echo hi"), Container(name: "second", image: "interlink-test/does-not-exist:1")])
        do {
            _ = try await p.create(pod)
            Issue.record("create succeeded with a missing image")
        } catch let e as ProviderError {
            #expect(e.waitingReason == "ErrImagePull", "\(e)")
            #expect(e.isRetryable)
        }
        #expect(try await T.containers(instance: config.instanceName).isEmpty, "the first container was removed again")
        #expect(try await observation(p, pod) == nil, "nothing for the reconciler to adopt")
        // A retry does the same (the reconciler retries, then gives up after MaxCreateAttempts).
        await #expect(throws: ProviderError.self) { _ = try await p.create(pod) }
        #expect(try await T.containers(instance: config.instanceName).isEmpty)
        await T.remove(p, [pod])
    }
}
