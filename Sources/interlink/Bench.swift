import Model
import Reconciler

/// `interlink bench reconcile`: in-process benchmarks (see `make bench`).
enum Bench {
    static func run(_ args: [String]) async -> Int32 {
        guard args.first == "reconcile" else {
            printError("usage: interlink bench reconcile [--pods 100,1000,10000]")
            return 2
        }
        var counts = [100, 1000, 10000]
        if let i = args.firstIndex(of: "--pods"), i + 1 < args.count {
            let parsed = args[i + 1].split(separator: ",").compactMap { Int($0) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 > 0 }) else {
                printError("interlink bench: --pods takes positive numbers separated by commas")
                return 2
            }
            counts = parsed
        }
        // Thousands of pod actions would otherwise log a line each.
        Log.level = .warn
        print(await ReconcilerBenchmark.run(podCounts: counts))
        return 0
    }
}
