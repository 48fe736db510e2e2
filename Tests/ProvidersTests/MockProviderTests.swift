import FoundationEssentials
import Testing
import Model
@testable import Providers

@Suite struct MockProviderTests {
    func pod(_ annotations: [String: String] = [:], inits: [String] = []) -> DesiredPod {
        DesiredPod(request: PodCreateRequests(pod: Pod(
            metadata: ObjectMeta(name: "hello", namespace: "default", uid: "11111111-2222-4333-8444-555555555555",
                                 annotations: annotations),
            spec: PodSpec(containers: [Container(name: "main", image: "busybox", args: ["echo", "hi"])],
                          initContainers: inits.isEmpty ? nil : inits.map { Container(name: $0, image: "alpine") }))))
    }

    func job(_ p: MockProvider) throws -> MockJob { try #require(p.jobs.first) }

    @Test func containersGoFromWaitingToRunningToTerminatedWithTheAnnotatedExitCode() async throws {
        let p = MockProvider(runSeconds: 10, startDelaySeconds: 2)
        _ = try await p.create(pod([MockProvider.exitCodeAnnotation: "3"]))
        let j = try job(p), t0 = j.createdAt
        let pending = j.observation(at: t0.addingTimeInterval(1))
        #expect(pending.state == .pending)
        #expect(pending.containers[0].state.waiting?.reason == "ContainerCreating")
        let running = j.observation(at: t0.addingTimeInterval(5))
        #expect(running.state == .running)
        #expect(running.containers[0].state.running?.startedAt == RFC3339.string(t0.addingTimeInterval(2)))
        #expect(running.containers[0].ready)
        let done = j.observation(at: t0.addingTimeInterval(13))
        #expect(done.state == .finished)
        let t = try #require(done.containers[0].state.terminated)
        #expect(t.exitCode == 3)
        #expect(t.reason == "Error")
        #expect(t.startedAt == RFC3339.string(t0.addingTimeInterval(2)))
        #expect(t.finishedAt == RFC3339.string(t0.addingTimeInterval(12)))
    }

    @Test func initContainersRunOneAfterAnotherBeforeTheMainContainers() async throws {
        let p = MockProvider(runSeconds: 10, startDelaySeconds: 0)
        _ = try await p.create(pod(inits: ["init-a", "init-b"]))
        let j = try job(p), t0 = j.createdAt
        let during = j.observation(at: t0.addingTimeInterval(15))
        #expect(during.initContainers[0].state.terminated?.exitCode == 0)
        #expect(during.initContainers[1].state.running != nil)
        #expect(during.containers[0].state.waiting?.reason == "PodInitializing")
        #expect(j.observation(at: t0.addingTimeInterval(25)).containers[0].state.running != nil)
        #expect(j.observation(at: t0.addingTimeInterval(31)).state == .finished)
    }

    @Test func createIsIdempotentPerAttempt() async throws {
        let p = MockProvider(runSeconds: 1)
        let a = try await p.create(pod())
        let b = try await p.create(pod())
        var next = pod(); next.attempt = 1
        let c = try await p.create(next)
        #expect(a == b)
        #expect(c != a)
        #expect(p.jobs.count == 2)
    }

    @Test func theFailCreateAnnotationFailsWithItsMessage() async throws {
        let p = MockProvider(runSeconds: 1)
        await #expect(throws: ProviderError.backend(command: "mock create", message: "quota exceeded", transient: true)) {
            _ = try await p.create(pod([MockProvider.failCreateAnnotation: "quota exceeded"]))
        }
        #expect(p.jobs.isEmpty)
    }

    @Test func aNonNumericExitCodeIsAnInvalidPod() async throws {
        let p = MockProvider(runSeconds: 1)
        do {
            _ = try await p.create(pod([MockProvider.exitCodeAnnotation: "three"]))
            Issue.record("accepted")
        } catch let e as ProviderError {
            guard case .invalidPod(let m) = e else { Issue.record("\(e)"); return }
            #expect(m.contains("interlink.mock/exit-code"))
        }
    }

    @Test func runSecondsAnnotationOverridesTheDefault() async throws {
        let p = MockProvider(runSeconds: 100, startDelaySeconds: 0)
        _ = try await p.create(pod([MockProvider.runSecondsAnnotation: "2"]))
        let j = try job(p)
        #expect(j.observation(at: j.createdAt.addingTimeInterval(3)).state == .finished)
    }

    @Test func jobsSurviveARestartWhenAStateFileIsGiven() async throws {
        let path = "/tmp/interlink-mock-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p1 = MockProvider(runSeconds: 60, statePath: path)
        let id = try await p1.create(pod())
        let p2 = MockProvider(runSeconds: 60, statePath: path)
        #expect(try await p2.observe().map(\.jobID) == [id])
        try await p2.delete(JobRef(podUID: pod().uid, namespace: "default", name: "hello", jobID: id))
        #expect(try await MockProvider(runSeconds: 60, statePath: path).observe().isEmpty)
    }

    /// Job ids are numbered as a batch system numbers its jobs; a restart goes on
    /// after the highest one it loads, so no two jobs ever share an id.
    @Test func jobIDsAreNumberedAndNeverReusedAcrossARestart() async throws {
        let path = "/tmp/interlink-mock-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func other(_ n: Int) -> DesiredPod {
            var d = pod()
            d.request.pod.metadata.uid = "11111111-2222-4333-8444-00000000000\(n)"
            return d
        }
        let p1 = MockProvider(runSeconds: 60, statePath: path)
        let a = try await p1.create(other(1)), b = try await p1.create(other(2))
        #expect(a == "mock-1" && b == "mock-2")
        #expect(try await p1.create(other(1)) == a, "the same attempt again is the same job")
        // The highest id is removed: a restart must still not give it again.
        try await p1.delete(JobRef(podUID: other(2).uid, namespace: "default", name: "hello", jobID: b))
        let p2 = MockProvider(runSeconds: 60, statePath: path)
        let c = try await p2.create(other(3))
        #expect(c == "mock-3", "after a restart, numbering goes on past every job the file held")
        #expect(Set(try await p2.observe().map(\.jobID)) == [a, c])
        // Also once the file was rewritten from the live jobs alone (its compaction,
        // after more than 1,024 lines): the removed jobs' ids are gone from it.
        var last = ""
        for i in 0..<600 {
            var d = pod()
            d.request.pod.metadata.uid = "churn-\(i)"
            last = try await p2.create(d)
            try await p2.delete(JobRef(podUID: d.uid, namespace: "default", name: "hello", jobID: last))
        }
        #expect(last == "mock-603")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count
        #expect(lines < 600, "the file was rewritten (\(lines) lines)")
        let p3 = MockProvider(runSeconds: 60, statePath: path)
        #expect(try await p3.create(other(4)) == "mock-604")
        #expect(MockProvider.loadJobs(statePath: path).count == 3)
    }

    @Test func commandCountCountsObserveCreateAndDelete() async throws {
        let p = MockProvider(runSeconds: 1)
        let id = try await p.create(pod())
        _ = try await p.observe()
        try await p.delete(JobRef(podUID: pod().uid, namespace: "default", name: "hello", jobID: id))
        #expect(p.commandCount == 3)
    }

    @Test func logsSayHelloAndHonourTailAndTimestamps() async throws {
        let p = MockProvider(runSeconds: 0, startDelaySeconds: 0)
        let d = pod([MockProvider.exitCodeAnnotation: "4"])
        let id = try await p.create(d)
        let ref = JobRef(podUID: d.uid, namespace: "default", name: "hello", jobID: id)
        let all = try await text(p.logs(ref, container: "main", options: LogOpts()))
        #expect(all.hasPrefix("hello from main (busybox)\nargs: echo hi\n"))
        #expect(all.hasSuffix("exiting with code 4\n"))
        let tail = try await text(p.logs(ref, container: "main", options: LogOpts(Tail: 1, Timestamps: true)))
        #expect(tail.split(separator: "\n").count == 1)
        #expect(tail.hasSuffix(" exiting with code 4\n"))
        #expect(RFC3339.date(String(tail.split(separator: " ")[0])) != nil)
        await #expect(throws: ProviderError.self) { _ = try await p.logs(ref, container: "other", options: LogOpts()) }
    }

    @Test func followStreamsUntilTheContainerEnds() async throws {
        let p = MockProvider(runSeconds: 0.3, startDelaySeconds: 0)
        let d = pod()
        let id = try await p.create(d)
        let ref = JobRef(podUID: d.uid, namespace: "default", name: "hello", jobID: id)
        let out = try await text(p.logs(ref, container: "main", options: LogOpts(Follow: true)))
        #expect(out.hasPrefix("hello from main"))
        #expect(out.hasSuffix("exiting with code 0\n"))
    }

    func text(_ s: LogStream) async throws -> String {
        var out = ""
        for try await chunk in s { out += String(decoding: chunk, as: UTF8.self) }
        return out
    }
}
