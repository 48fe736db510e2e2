import FoundationEssentials
import Testing
@testable import Reconciler

@Suite struct ReconcilerBenchmarkTests {
    @Test func providerCallsPerTickDoNotGrowWithThePodCount() async throws {
        let small = try await ReconcilerBenchmark.measure(pods: 10)
        let large = try await ReconcilerBenchmark.measure(pods: 500)
        #expect(small.providerCallsPerTick == 1)
        #expect(large.providerCallsPerTick == 1)
        #expect(large.journalBytes > 0 && large.snapshotBytes > 0)
    }

    @Test func theTablePrintsEveryRequiredRatio() {
        let row = ReconcilerBenchmark.Row(pods: 100, createsPerSecond: 500, firstTick: 0.01, steadyTickMedian: 0.01,
                                          providerCallsPerTick: 1, statusP50: 1e-6, statusP99: 2e-6, rssBytesPerPod: 3000,
                                          requestBytes: 400, journalBytes: 1, snapshotBytes: 1, compactionSeconds: 0.001)
        var big = row
        big.pods = 10_000; big.createsPerSecond = 300; big.steadyTickMedian = 1.0
        let t = ReconcilerBenchmark.table([row, big])
        #expect(t.contains("/create rate            0.6x   (required >= 0.8x)  NOT MET"))
        #expect(t.contains("resync tick per pod     1.0x   (required <= 1.3x)  ok"))
        #expect(t.contains("bookkeeping 2.5 KiB"))
    }

    /// `INTERLINK_BENCH=100,1000 swift test --filter ReconcilerBenchmarkTests` prints the table (rows in this process).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["INTERLINK_BENCH"] != nil, "set INTERLINK_BENCH=100,1000 to print the table"))
    func printsTheTable() async throws {
        let counts = (ProcessInfo.processInfo.environment["INTERLINK_BENCH"] ?? "")
            .split(separator: ",").compactMap { Int($0) }
        var rows: [ReconcilerBenchmark.Row] = []
        for n in counts.isEmpty ? [100] : counts { rows.append(try await ReconcilerBenchmark.measure(pods: n)) }
        let table = ReconcilerBenchmark.table(rows)
        print(table)
        #expect(table.contains("calls/tick"))
    }
}
