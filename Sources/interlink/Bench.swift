import FoundationEssentials
import Model
import Providers
import Reconciler
import Support
#if canImport(Glibc)
import Glibc
#endif

/// `interlink bench reconcile`: in-process benchmarks (see `make bench`). Each
/// pod count runs in a fresh child process (`--row N`), so its RSS figure is
/// not flattered by memory an earlier size freed; the parent prints the table.
enum Bench {
    static let usage = "usage: interlink bench reconcile [--pods 100,1000,10000] [--backend mock,slurm]"

    static func run(_ args: [String]) async -> Int32 {
        guard args.first == "reconcile" else {
            printError(usage)
            return 2
        }
        // Every option takes a value; anything else is refused before minutes of benchmark start.
        var options: [String: String] = [:]
        var i = 1
        while i < args.count {
            switch args[i] {
            case "-h", "--help":
                print(usage)
                return 0
            case "--pods", "--backend", "--row":
                guard i + 1 < args.count else {
                    printError("interlink bench: \(args[i]) needs a value\n\(usage)")
                    return 2
                }
                options[args[i]] = args[i + 1]
                i += 2
            default:
                printError("interlink bench: unknown argument \(args[i])\n\(usage)")
                return 2
            }
        }
        // Thousands of pod actions would otherwise log a line each.
        Log.level = .warn
        var backends = ReconcilerBenchmark.Backend.allCases
        if let value = options["--backend"] {
            let parsed = value.split(separator: ",").map { ReconcilerBenchmark.Backend(rawValue: String($0)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
                printError("interlink bench: --backend takes mock, slurm or both separated by a comma")
                return 2
            }
            backends = parsed.compactMap { $0 }
        }
        if let value = options["--row"] {
            guard let n = Int(value), n > 0 else {
                printError("interlink bench: --row takes one positive number")
                return 2
            }
            do {
                let row = try await ReconcilerBenchmark.measure(pods: n, backend: backends[0])
                writeStdout(try JSONEncoder().encode(row) + Data("\n".utf8))
                return 0
            } catch {
                printError("interlink bench: \(error)")
                return 1
            }
        }
        var counts = [100, 1000, 10000]
        if let value = options["--pods"] {
            let parsed = value.split(separator: ",").map { Int($0) }
            guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? 0) > 0 }) else {
                printError("interlink bench: --pods takes positive numbers separated by commas")
                return 2
            }
            counts = parsed.compactMap { $0 }
        }
        var rows: [ReconcilerBenchmark.Row] = []
        for backend in backends {
            for n in counts {
                let what = "the \(n)-pod \(backend.rawValue) run"
                do {
                    let r = try await ProcessRunner.run(selfPath(), ["bench", "reconcile", "--row", String(n), "--backend", backend.rawValue],
                                                        timeout: 1800)
                    guard r.succeeded, let line = r.stdoutText.split(separator: "\n").last else {
                        printError("interlink bench: \(what) failed: \(r.stderrText.suffix(500))")
                        return 1
                    }
                    rows.append(try JSONDecoder().decode(ReconcilerBenchmark.Row.self, from: Data(line.utf8)))
                } catch {
                    printError("interlink bench: \(what) failed: \(error)")
                    return 1
                }
            }
        }
        print(ReconcilerBenchmark.table(rows))
        return 0
    }

    static func selfPath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
