import FoundationEssentials
import Testing
import Model
@testable import Providers

/// `logs` against a real dockerd: tail, byte limit, timestamps, previous attempt, follow.
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerLogsTests {
    typealias T = DockerTest

    @Test func tailBytesAndTimestamps() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "for i in 1 2 3 4 5; do echo line$i; done")])
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        #expect(try await T.logs(p, pod, "c", LogOpts(Tail: 2)) == "line4\nline5\n")
        // The kubelet's limitBytes: the first N bytes of the selection.
        #expect(try await T.logs(p, pod, "c", LogOpts(Bytes: 8)) == "line1\nli")
        #expect(try await T.logs(p, pod, "c", LogOpts(Tail: 2, Bytes: 8)) == "line4\nli")
        let stamped = try await T.logs(p, pod, "c", LogOpts(Tail: 1, Timestamps: true))
        #expect(stamped.hasSuffix(" line5\n"))
        #expect(RFC3339.date(String(stamped.prefix { $0 != " " })) != nil)
        await T.remove(p, [pod])
    }

    @Test func previousReadsTheLastAttemptUntilTheNextRestart() async throws {
        let (p, _) = T.provider()
        let uid = UUID().uuidString.lowercased()
        let first = T.pod([T.sh("c", "echo first")], uid: uid, attempt: 0)
        let second = T.pod([T.sh("c", "echo second")], uid: uid, attempt: 1)
        let third = T.pod([T.sh("c", "echo third")], uid: uid, attempt: 2)
        _ = try await p.create(first)
        _ = try await T.waitFinished(p, first)
        await #expect(throws: ProviderError.self) { try await T.logs(p, first, "c", LogOpts(Previous: true)) }

        _ = try await p.create(second)
        let o = try await T.waitFinished(p, second)
        #expect(o.containers.first?.lastState.terminated?.exitCode == 0)
        #expect(try await T.logs(p, second, "c") == "second\n")
        #expect(try await T.logs(p, second, "c", LogOpts(Previous: true)) == "first\n")

        _ = try await p.create(third)
        _ = try await T.waitFinished(p, third)
        #expect(try await T.logs(p, third, "c", LogOpts(Previous: true)) == "second\n")
        // Only the newest incarnation is reported; attempt 0 is gone.
        #expect(try await p.observe().map(\.attempt) == [2])
        await T.remove(p, [third])
    }

    @Test func followStreamsUntilTheContainerEnds() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "echo a; sleep 1; echo b >&2; sleep 1; echo c")])
        _ = try await p.create(pod)
        // Ends by itself when the container exits: the loop below finishing is the test.
        #expect(try await T.logs(p, pod, "c", LogOpts(Follow: true)) == "a\nb\nc\n")
        await T.remove(p, [pod])
    }

    @Test func followStopsWhenTheClientGoesAway() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "while true; do echo tick; sleep 0.2; done")])
        _ = try await p.create(pod)
        var got = ""
        for try await chunk in try await p.logs(T.ref(pod), container: "c", options: LogOpts(Follow: true)) {
            got += String(decoding: chunk, as: UTF8.self)
            if got.contains("tick") { break }
        }
        #expect(got.hasPrefix("tick"))
        await T.remove(p, [pod])
    }

    @Test func aFollowEndsWhenThePodIsDeletedWhileItRuns() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done")])
        _ = try await p.create(pod)
        let stream = try await p.logs(T.ref(pod), container: "c", options: LogOpts(Follow: true))
        let ended = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for try await _ in stream {}
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                try await p.delete(T.ref(pod))
                try await Task.sleep(for: .seconds(30))
                return false
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        #expect(ended, "the follow did not end within 30 s of the delete")
        await T.remove(p, [pod])
    }

    @Test func logsOfAnUnknownContainerAreNotFound() async throws {
        let (p, _) = T.provider()
        let pod = T.pod([T.sh("c", "true")])
        await #expect(throws: ProviderError.self) { try await T.logs(p, pod, "c") }
    }
}
