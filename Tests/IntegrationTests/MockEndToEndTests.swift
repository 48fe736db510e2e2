import Foundation
import Model
import Testing

@Suite("End to end on the mock provider (real binary, real HTTP)", .serialized, .enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY (make test sets it)"))
struct MockEndToEndTests {
    @Test func helloPodGoesPendingRunningSucceededWithLogsAndIsDeleted() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 2") { il in
            let pod = Pods.make("hello", containers: [Container(name: "main", image: "busybox", command: ["echo"], args: ["hello world"])])

            let created = try await il.create(PodCreateRequests(pod: pod))
            #expect(created.status == 200, "\(created.text)")
            let answer = try JSONDecoder().decode(CreateStruct.self, from: created.body)
            #expect(answer.PodUID == pod.uid)

            let (final, phases) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .succeeded }
            #expect(phases.contains(.running))
            #expect(phases.last == .succeeded)
            #expect(!final.JID.isEmpty)
            let term = try #require(final.container("main")?.state.terminated)
            #expect(term.exitCode == 0)
            #expect(term.startedAt != nil && term.finishedAt != nil)

            let logs = try await il.logs(pod, container: "main")
            #expect(logs.status == 200)
            #expect(!logs.text.isEmpty)

            #expect(try await il.delete(pod).status == 200)
            try await il.waitForStatus(pod, timeout: 20) { $0.containers.isEmpty }
            #expect(await il.stop() == 0, "SIGTERM must end interlink with exit code 0")
        }
    }

    @Test func exitCodeFromTheAnnotationFailsThePod() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 1") { il in
            let pod = Pods.make("fails", containers: [Container(name: "main", image: "busybox")],
                                annotations: ["interlink.mock/exit-code": "42"])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            let (final, _) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .failed }
            #expect(final.container("main")?.state.terminated?.exitCode == 42)
            await il.stop()
        }
    }

    @Test func acceptedPodsSurviveAGracefulRestart() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 3") { il in
            let pod = Pods.make("survivor", containers: [Container(name: "main", image: "busybox")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            #expect(await il.stop() == 0)
            try await il.start()
            let (final, _) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .succeeded }
            #expect(final.container("main")?.restartCount == 0)
            await il.stop()
        }
    }

    @Test func aMissingConfigFileIsOneLineAndExitCode2() async throws {
        let binary = try #require(TestEnv.binary)
        let r = try await ProcessRunnerShim.run(binary, ["serve", "--config", "/nonexistent/il.yaml"])
        #expect(r.exitCode == 2)
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "expected one error line, got: \(r.stderrText)")
        #expect(r.stderrText.contains("/nonexistent/il.yaml"))
    }
}
