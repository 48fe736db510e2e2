import FoundationEssentials
import Testing
import Model
@testable import Providers

/// `/stats/summary`'s numbers on Docker: what `docker stats` measures for this
/// instance's running containers, in two commands whatever the number of pods.
struct DockerUsageParsingTests {
    @Test func dockerStatsColumnsBecomeNanocoresAndBytes() {
        #expect(DockerProvider.nanoCores(percent: "48.69%") == 486_900_000)
        #expect(DockerProvider.nanoCores(percent: "250.00%") == 2_500_000_000)
        #expect(DockerProvider.nanoCores(percent: "--") == nil)
        #expect(DockerProvider.nanoCores(percent: "-3%") == nil)
        #expect(DockerProvider.bytes("524KiB") == 536_576)
        #expect(DockerProvider.bytes(" 1.5GiB ") == 1_610_612_736)
        #expect(DockerProvider.bytes("12B") == 12)
        #expect(DockerProvider.bytes("3.2MB") == 3_200_000)
        #expect(DockerProvider.bytes("lots") == nil)
        #expect(DockerProvider.bytes("1e30GiB") == nil)
    }

    @Test func tenThousandPodsIdsAreSplitIntoCommandLinesUnderTheArgumentLimit() {
        let ids = (0..<20_000).map { i in String(repeating: "a", count: 56) + String(format: "%08d", i) }
        let chunks = DockerInspect.chunks(ids)
        #expect(chunks.count > 1)
        #expect(chunks.allSatisfy { $0.reduce(0) { $0 + $1.utf8.count + 1 } <= DockerInspect.maxArgumentBytes })
        #expect(chunks.flatMap { $0 } == ids, "every id once, in order")
        #expect(DockerInspect.chunks([]).isEmpty)
    }
}

@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerUsageTests {
    typealias T = DockerTest

    @Test func aBusyContainerReportsItsCPUAndMemoryAndAFinishedOneIsNotReported() async throws {
        let (p, _) = T.provider()
        var busy = T.sh("spin", "while :; do :; done")
        busy.resources = ResourceRequirements(limits: ["memory": "64Mi"])
        let spinning = T.pod([busy], name: "spinning")
        let done = T.pod([T.sh("quick", "exit 0")], name: "done")
        _ = try await p.create(spinning)
        _ = try await p.create(done)
        _ = try await T.waitFinished(p, done)
        for _ in 0..<100 {
            if let o = try await p.observe().first(where: { $0.podUID == spinning.uid }), o.state == .running { break }
            if let o = try await p.observe().first(where: { $0.podUID == spinning.uid }), !o.dueToStart.isEmpty {
                try await p.advance(o.ref, start: o.dueToStart)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let before = p.commandCount
        let usage = try await p.usage()
        #expect(p.commandCount - before == 2, "one docker ps and one docker stats")
        let u = try #require(usage.first { $0.podUID == spinning.uid })
        #expect(u.container == "spin")
        #expect((u.cpuNanoCores ?? 0) > 10_000_000, "a busy loop uses more than 1% of a core: \(String(describing: u.cpuNanoCores))")
        #expect((u.memoryBytes ?? 0) > 0)
        #expect((u.memoryBytes ?? .max) < 64 << 20, "within its limit")
        #expect(!usage.contains { $0.podUID == done.uid }, "a container that exited has no usage")
        await T.remove(p, [spinning, done])
    }
}
