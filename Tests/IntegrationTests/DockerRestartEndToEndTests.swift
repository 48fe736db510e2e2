import Foundation
import Model
import Testing

/// Kubelet-style restarts through the whole product (real binary, reconcile
/// loop, real dockerd): the loop acts on the provider's `restartDue` and the
/// status shows restartCount, lastState and CrashLoopBackOff with the pod Running.
@Suite("Docker restarts end to end (real binary, real dockerd)", .serialized,
       .enabled(if: TestEnv.hasDocker, "needs INTERLINK_TEST_DOCKER_HOST and INTERLINK_TEST_BINARY"))
struct DockerRestartEndToEndTests {
    @Test func anAlwaysPodThatExitsIsRestartedWithBackoffAndStaysRunning() async throws {
        try await InterLinkInstance.with(provider: "docker", extraConfig: """
        DockerHost: \(TestEnv.dockerHost ?? "")
        DockerNetwork: none
        DockerRestartBackoffSeconds: 1
        """) { il in
            let pod = Pods.make("crashloop", containers: [Pods.shell("main", "echo round; exit 0")], restartPolicy: "Always")
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            var sawBackoff = false
            let (s, phases) = try await il.waitForStatus(pod, timeout: 90) { s in
                if s.container("main")?.state.waiting?.reason == "CrashLoopBackOff" { sawBackoff = true }
                return (s.container("main")?.restartCount ?? 0) >= 2
            }
            #expect(sawBackoff, "waiting CrashLoopBackOff between runs")
            #expect(s.container("main")?.lastState.terminated?.exitCode == 0)
            #expect(!phases.contains(.succeeded) && !phases.contains(.failed), "an Always pod never finishes: \(phases)")
            // The container runs for an instant each time: Running is what CrashLoopBackOff reads as.
            #expect(phases.contains(.running), "\(phases)")
            let previous = try await il.logs(pod, container: "main", opts: LogOpts(Previous: true))
            #expect(previous.status == 200 && previous.text.contains("round"))
            #expect(try await il.delete(pod).status == 200)
        }
    }
}
