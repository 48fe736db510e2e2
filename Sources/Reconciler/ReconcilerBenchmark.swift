import FoundationEssentials
import Model
import Providers

/// `interlink bench reconcile`: tick time, `/status` latency and provider calls
/// per tick for growing pod counts on the mock provider (temp data root).
/// Numbers are for comparison between builds, not assertions.
public enum ReconcilerBenchmark {
    public struct Row: Sendable {
        public var pods: Int
        public var createP50: Double
        public var firstTick: Double
        public var steadyTickMedian: Double
        public var providerCallsPerTick: Int
        public var statusP50: Double
        public var statusP99: Double
    }

    /// The table; the last two columns are ratios against the first row of the
    /// same run (the baseline): per-pod tick cost ~1x means linear growth, status
    /// latency ~1x means flat.
    public static func run(podCounts: [Int]) async -> String {
        var out = "reconciler benchmark (mock provider, pods running, journal fsynced under a temp dir)\n"
        out += pad("pods", 8) + pad("create p50", 12) + pad("1st tick", 11) + pad("tick p50", 11)
            + pad("calls/tick", 12) + pad("status p50", 12) + pad("status p99", 12)
            + pad("tick/pod vs base", 18) + pad("status vs base", 15) + "\n"
        var base: Row?
        for n in podCounts {
            do {
                let r = try await measure(pods: n)
                let b = base ?? r
                base = b
                let perPod = (r.steadyTickMedian / Double(r.pods)) / max(1e-12, b.steadyTickMedian / Double(b.pods))
                out += pad(String(r.pods), 8) + pad(ms(r.createP50), 12) + pad(ms(r.firstTick), 11)
                    + pad(ms(r.steadyTickMedian), 11) + pad(String(r.providerCallsPerTick), 12)
                    + pad(us(r.statusP50), 12) + pad(us(r.statusP99), 12)
                    + pad(format1(perPod) + "x", 18) + pad(format1(r.statusP50 / max(1e-12, b.statusP50)) + "x", 15) + "\n"
            } catch {
                out += pad(String(n), 8) + "failed: \(error)\n"
            }
        }
        return out
    }

    public static func measure(pods n: Int) async throws -> Row {
        let dir = "/tmp/interlink-bench-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let provider = MockProvider(runSeconds: 86_400, startDelaySeconds: 0)
        let settings = ReconcilerSettings(interval: 3600, dataRoot: dir, maxParallelActions: 64)
        let rec = try await Reconciler(provider: provider, settings: settings)
        let clock = ContinuousClock()
        let requests = (0..<n).map { request($0) }
        // A sample of creates goes through the API (one fsync each); the rest is seeded in one batch.
        let viaAPI = min(n, 100)
        var createTimes: [Double] = []
        for r in requests.prefix(viaAPI) {
            let t = clock.now
            _ = try? await rec.create(r)
            createTimes.append(seconds(clock.now - t))
        }
        try await rec.seed(Array(requests.dropFirst(viaAPI)))

        var t = clock.now
        await rec.tickOnce()            // creates every pod
        let first = seconds(clock.now - t)
        await rec.tickOnce()            // sees them running
        var ticks: [Double] = [], calls: [Int] = []
        for _ in 0..<5 {
            let c0 = provider.commandCount
            t = clock.now
            await rec.tickOnce()
            ticks.append(seconds(clock.now - t))
            calls.append(provider.commandCount - c0)
        }
        var lat: [Double] = []
        let lookups = 20_000
        lat.reserveCapacity(lookups)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<lookups {
            let pod = requests[Int.random(in: 0..<n, using: &rng)].pod
            t = clock.now
            let s = await rec.status([pod])
            lat.append(seconds(clock.now - t))
            precondition(s.count == 1)
        }
        await rec.stop()
        return Row(pods: n, createP50: pct(createTimes, 0.5), firstTick: first, steadyTickMedian: pct(ticks, 0.5),
                   providerCallsPerTick: calls.max() ?? 0, statusP50: pct(lat, 0.5), statusP99: pct(lat, 0.99))
    }

    static func request(_ i: Int) -> PodCreateRequests {
        let hex = String(i, radix: 16)
        let uid = "b0000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        return PodCreateRequests(pod: Pod(
            metadata: ObjectMeta(name: "bench-\(i)", namespace: "default", uid: uid),
            spec: PodSpec(containers: [Container(name: "main", image: "busybox", args: ["sleep", "infinity"])])))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
    static func pct(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s[min(s.count - 1, Int(Double(s.count - 1) * p))]
    }
    static func ms(_ s: Double) -> String { String(format1(s * 1000)) + " ms" }
    static func us(_ s: Double) -> String { String(format1(s * 1e6)) + " µs" }
    static func format1(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) + ".0" : String(r)
    }
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
}

extension Reconciler {
    /// Records many desired pods in one durable batch (benchmarks, bulk import).
    public func seed(_ requests: [PodCreateRequests]) async throws(PodAPIError) {
        guard !requests.isEmpty else { return }
        let touched = try await persist(requests.map { ($0.pod.uid, PodEvent.desired($0)) })
        var changes: [String: PodStatus?] = [:]
        for (uid, r) in touched { if let r { changes[uid] = StatusMapper.status(r, observation: nil) } }
        statusView.update(changes)
        for r in requests { queue.add(r.pod.uid) }
    }
}
