import FoundationEssentials
import Testing
@testable import Reconciler

@Suite struct ReconcilerBenchmarkTests {
    @Test func providerCallsPerTickDoNotGrowWithThePodCount() async throws {
        let small = try await ReconcilerBenchmark.measure(pods: 10)
        let large = try await ReconcilerBenchmark.measure(pods: 500)
        #expect(small.providerCallsPerTick == 1)
        #expect(large.providerCallsPerTick == 1)
    }

    /// `INTERLINK_BENCH=100,1000,10000 swift test --filter ReconcilerBenchmarkTests` prints the table.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["INTERLINK_BENCH"] != nil, "set INTERLINK_BENCH=100,1000 to print the table"))
    func printsTheTable() async {
        let counts = (ProcessInfo.processInfo.environment["INTERLINK_BENCH"] ?? "")
            .split(separator: ",").compactMap { Int($0) }
        let table = await ReconcilerBenchmark.run(podCounts: counts.isEmpty ? [100] : counts)
        print(table)
        #expect(table.contains("calls/tick"))
    }
}
