@testable import interlink
import Testing

/// `interlink bench reconcile` runs for minutes: a mistyped or unknown argument
/// must be refused at once, not ignored while the whole benchmark runs.
@Suite("bench command")
struct BenchCommandTests {
    @Test func helpAndBadArgumentsReturnAtOnce() async {
        #expect(await Bench.run(["reconcile", "--help"]) == 0)
        #expect(await Bench.run(["reconcile", "--pod", "100"]) == 2, "an unknown option ran the benchmark")
        #expect(await Bench.run(["reconcile", "--pods"]) == 2)
        #expect(await Bench.run(["reconcile", "--row", "many"]) == 2)
        #expect(await Bench.run(["reconcile", "--pods", "0"]) == 2)
        #expect(await Bench.run(["reconcile", "--pods", "100,x"]) == 2, "a count that is not a number was dropped")
        // An option's name as another's value is that value, not an option (it trapped).
        #expect(await Bench.run(["reconcile", "--pods", "--row"]) == 2)
        #expect(await Bench.run(["reconcile", "--backend", "pbs"]) == 2)
        #expect(await Bench.run(["other"]) == 2)
    }
}
