import FoundationEssentials
import Model
import Providers
import Support
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// `interlink bench reconcile`: the scale table of issue 14 (under a temp dir,
/// journal fsynced): `/create` rate with 16 concurrent callers, the full resync
/// tick, `/status` of one pod (alone, and while resyncs run), RSS per tracked
/// pod, journal size and compaction time, at growing pod counts. Two backends:
/// the mock (with its state file) and the Slurm provider driving fast fake
/// `sbatch`/`squeue`/`scancel` scripts (`FakeSlurm`), so the Slurm side's own
/// per-pod costs (job directories, status files, one squeue per tick) count.
/// Ratios are against the first row of the same backend in the same run. Not
/// an assertion: the figures compare builds on one machine.
public enum ReconcilerBenchmark {
    public struct Row: Sendable, Codable {
        public var pods: Int
        public var createsPerSecond: Double
        public var firstTick: Double
        public var steadyTickMedian: Double
        public var providerCallsPerTick: Int
        /// `/status` of one pod as the server answers it: body decoded, looked up, answer encoded.
        public var statusP50: Double
        public var statusP99: Double
        /// RSS growth from before the pods to after they were tracked, per pod.
        public var rssBytesPerPod: Double
        /// The JSON size of one pod's create request, as the VK sends it.
        public var requestBytes: Int
        /// The pod's own data as this process holds it: the heap one create
        /// request takes once decoded (measured over 1,000 of them).
        public var podMemoryBytes: Int = 0
        public var journalBytes: Int
        public var snapshotBytes: Int
        public var compactionSeconds: Double
        /// `/status` of one pod while resyncs run back to back (a writer holds the view's lock in slices).
        public var statusUnderResyncP99: Double = 0
        /// "mock" or "slurm".
        public var backend: String = "mock"
        /// The status view's lookup alone (`Reconciler.status`), without the request's JSON.
        public var lookupP99: Double = 0
    }

    public enum Backend: String, Sendable, CaseIterable { case mock, slurm }

    /// Concurrent API clients for the create-rate figure, as in the issue.
    static let clients = 16
    static let createsMeasured = 800

    public static func table(_ rows: [Row]) -> String {
        var out = ""
        var backends: [String] = []
        for r in rows where !backends.contains(r.backend) { backends.append(r.backend) }
        for b in backends {
            if !out.isEmpty { out += "\n" }
            out += table(rows.filter { $0.backend == b }, backend: b)
        }
        return out
    }

    static func table(_ rows: [Row], backend: String) -> String {
        let what = backend == "slurm" ? "Slurm provider with fake sbatch/squeue/scancel" : "mock provider with its state file"
        var out = "reconciler scale (\(what), journal fsynced, \(clients) concurrent /create callers)\n"
        out += pad("pods", 7) + pad("create/s", 10) + pad("1st tick", 10) + pad("tick p50", 10) + pad("tick/pod", 10)
            + pad("calls/tick", 11) + pad("status p50", 11) + pad("status p99", 11) + pad("p99 resync", 11) + pad("lookup p99", 11) + pad("anon RSS", 10)
            + pad("pod JSON", 9) + pad("pod held", 9) + pad("journal", 10) + pad("snapshot", 10) + pad("compact", 9) + "\n"
        for r in rows {
            out += pad(String(r.pods), 7) + pad(format1(r.createsPerSecond), 10) + pad(ms(r.firstTick), 10)
                + pad(ms(r.steadyTickMedian), 10) + pad(us(r.steadyTickMedian / Double(r.pods)), 10)
                + pad(String(r.providerCallsPerTick), 11) + pad(us(r.statusP50), 11) + pad(us(r.statusP99), 11)
                + pad(us(r.statusUnderResyncP99), 11) + pad(us(r.lookupP99), 11)
                + pad(kib(r.rssBytesPerPod), 10) + pad(kib(Double(r.requestBytes)), 9) + pad(kib(Double(r.podMemoryBytes)), 9)
                + pad(kib(Double(r.journalBytes)), 10) + pad(kib(Double(r.snapshotBytes)), 10) + pad(ms(r.compactionSeconds), 9) + "\n"
        }
        guard let base = rows.first, let top = rows.last, rows.count > 1 else { return out }
        let createRatio = top.createsPerSecond / max(1e-12, base.createsPerSecond)
        let tickRatio = (top.steadyTickMedian / Double(top.pods)) / max(1e-12, base.steadyTickMedian / Double(base.pods))
        let statusRatio = top.statusP99 / max(1e-12, base.statusP99)
        let resyncRatio = top.statusUnderResyncP99 / max(1e-12, base.statusUnderResyncP99)
        // The pod's own data is what holding the decoded pod takes (at least its JSON).
        let podData = Double(max(top.podMemoryBytes, top.requestBytes))
        let bookkeeping = top.rssBytesPerPod - podData
        func verdict(_ ok: Bool) -> String { ok ? "ok" : "NOT MET" }
        out += "\n\(top.pods) pods vs \(base.pods) pods (\(backend); required by issue 14):\n"
        out += "  /create rate            \(format2(createRatio))x   (required >= 0.8x)  \(verdict(createRatio >= 0.8))\n"
        out += "  resync tick per pod     \(format2(tickRatio))x   (required <= 1.3x)  \(verdict(tickRatio <= 1.3))\n"
        out += "  /status p99             \(format2(statusRatio))x   (required <= 1.2x)  \(verdict(statusRatio <= 1.2))\n"
        if base.statusUnderResyncP99 > 0 {
            out += "  /status p99 in a resync \(format2(resyncRatio))x   (same requirement)    \(verdict(resyncRatio <= 1.2))\n"
        }
        if base.lookupP99 > 0 {
            out += "  status lookup p99       \(format2(top.lookupP99 / base.lookupP99))x   (the view's lookup alone, without the request's JSON; for information)\n"
        }
        out += "  anonymous RSS per pod at \(top.pods): \(kib(top.rssBytesPerPod)) = pod data \(kib(podData)) (the decoded pod; \(kib(Double(top.requestBytes))) as JSON)"
            + " + bookkeeping \(kib(bookkeeping)) (\(Int(bookkeeping.rounded())) B)   (required bookkeeping <= 2 KiB)  \(verdict(bookkeeping <= 2048))\n"
        // The verdict counts everything the process grew by, fixed costs too (thread
        // stacks, arenas, code paged in); what each further pod adds shows them apart.
        if rows.count > 2, let below = rows.dropLast().last, below.pods < top.pods {
            let added = (top.rssBytesPerPod * Double(top.pods) - below.rssBytesPerPod * Double(below.pods)) / Double(top.pods - below.pods)
            out += "  each pod from \(below.pods) to \(top.pods) added \(kib(added)) of anonymous RSS, bookkeeping \(Int((added - podData).rounded())) B (for information: without the fixed costs)\n"
        }
        out += "  journal \(kib(Double(top.journalBytes))), snapshot \(kib(Double(top.snapshotBytes))), one compaction \(ms(top.compactionSeconds))\n"
        return out
    }

    /// One row, measured in this process (run each size in a fresh process so
    /// the RSS figure is not flattered by memory an earlier size freed).
    public static func measure(pods n: Int, backend: Backend = .mock) async throws -> Row {
        let dir = "/tmp/interlink-bench-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ContinuousClock()
        let requestBytes = (try? JSONEncoder().encode(request(0)).count) ?? 0
        let podMemory = podMemoryBytes()
        // Nothing of the pods is held here: as in the server, the store alone holds
        // them, so the RSS figure counts each pod as it is kept, plus the bookkeeping.
        let rss0 = residentBytes()
        let heap0 = cshims_heap_in_use()

        let provider: any Provider
        switch backend {
        case .mock: provider = MockProvider(runSeconds: 86_400, statePath: dir + "/mock-backend.json", startDelaySeconds: 0)
        case .slurm: provider = try FakeSlurm.provider(dataRoot: dir + "/data", tools: dir + "/fake-slurm")
        }
        let settings = ReconcilerSettings(interval: 3600, dataRoot: dir, maxParallelActions: 64)
        let rec = try await Reconciler(provider: provider, settings: settings)
        let loop = Task { await rec.run() }   // the key worker creates what is seeded
        for chunk in stride(from: 0, to: n, by: 1000) {
            try await rec.seed((chunk..<min(n, chunk + 1000)).map { request($0) })
        }
        let rssSeeded = residentBytes(), heapSeeded = cshims_heap_in_use()
        // Every pod created on the backend: its job id is in the store.
        while await rec.store.jobsKnown < n { try await Task.sleep(for: .milliseconds(20)) }
        while await rec.inFlightCount > 0 { try await Task.sleep(for: .milliseconds(2)) }
        // And every key the creates queued (each created pod is reconciled once more)
        // worked off: the ticks below measure a steady resync, not one sharing the
        // loop with thousands of keys.
        while rec.queue.count > 0 { try await Task.sleep(for: .milliseconds(2)) }
        let rssCreated = residentBytes(), heapCreated = cshims_heap_in_use()
        mallocInfo(".created")

        var t = clock.now
        await rec.tickOnce()            // observes every pod once
        let first = seconds(clock.now - t)
        let rssFirst = residentBytes(), heapFirst = cshims_heap_in_use()
        mallocInfo(".first")
        await rec.tickOnce()
        var ticks: [Double] = [], calls: [Int] = []
        // The median of at least 11 ticks, and of as many as make 200,000 pod visits
        // (2,000 at 100 pods): a tick disturbed by another process on a shared
        // machine does not decide it, and a 100-pod tick (tens of microseconds) is
        // measured as steadily as a 10,000-pod one. INTERLINK_BENCH_TICKS sets the
        // count (a profile of the resync).
        let tickCount = ProcessInfo.processInfo.environment["INTERLINK_BENCH_TICKS"].flatMap { Int($0) }.map { max(1, $0) }
            ?? max(11, 200_000 / max(1, n))
        for _ in 0..<tickCount {
            let c0 = provider.commandCount
            t = clock.now
            await rec.tickOnce()
            ticks.append(seconds(clock.now - t))
            calls.append(provider.commandCount - c0)
        }
        let rss1 = residentBytes(), heap1 = cshims_heap_in_use()
        // For heaptrack: exiting here, every pod still tracked, makes its "leaked" view the steady state.
        if ProcessInfo.processInfo.environment["INTERLINK_BENCH_EXIT_AFTER_TICKS"] != nil { exit(0) }
        if ProcessInfo.processInfo.environment["INTERLINK_BENCH_MEMORY"] != nil {
            printErr("work queue: \(rec.queue.count) keys, room for \(rec.queue.capacity); actions in flight: \(await rec.inFlightCount)")
            if let sl = provider as? SlurmProvider { printErr("pod directories read by the last observe: \(sl.lastObserveReads) of \(n)") }
            printErr("inline sizes (bytes): record \(MemoryLayout<PodRecord.Fields>.size), pod \(MemoryLayout<Pod>.size), spec \(MemoryLayout<PodSpec>.size), container \(MemoryLayout<Container>.size), status \(MemoryLayout<PodStatus>.size), container status \(MemoryLayout<ContainerStatus>.size), observation \(MemoryLayout<JobObservation>.size), action \(MemoryLayout<Action>.size), event \(MemoryLayout<PodEvent>.size)")
            printErr("live heap per pod (bytes): recorded \((heapSeeded - heap0) / n), created on the backend \((heapCreated - heap0) / n), after the first resync \((heapFirst - heap0) / n), after resyncs \((heap1 - heap0) / n)")
            printErr("anonymous RSS per pod (bytes): recorded \((rssSeeded - rss0) / n), created on the backend \((rssCreated - rss0) / n), after the first resync \((rssFirst - rss0) / n), after resyncs \((rss1 - rss0) / n)")
            // glibc keeps freed small blocks: how much of the RSS is free heap, not live data.
            _ = cshims_release_free_heap()
            printErr("anonymous RSS per pod after malloc_trim (bytes): \((residentBytes() - rss0) / n)")
            mallocInfo("")
        }

        // `/status` of one pod as the server answers it: the VK's body (a one-pod
        // array, made fresh as a socket read would leave it) decoded, the pod looked
        // up, the answer encoded (WireJSON, as InterLinkAPI does). And the bare lookup.
        let lookups = 20_000
        var rng = SystemRandomNumberGenerator()
        func body(_ i: Int) -> Data {
            let p = request(i).pod
            return Data("[{\"metadata\":{\"name\":\"\(p.name)\",\"namespace\":\"\(p.namespace)\",\"uid\":\"\(p.uid)\"}}]".utf8)
        }
        func statusRequest(_ body: Data) async -> Data {
            guard let pods = try? WireJSON.decode([Pod].self, from: body) else { return Data() }
            return (try? WireJSON.encode(await rec.status(pods))) ?? Data()
        }
        var lat: [Double] = [], bare: [Double] = []
        lat.reserveCapacity(lookups); bare.reserveCapacity(lookups)
        for _ in 0..<lookups {
            let b = body(Int.random(in: 0..<n, using: &rng))
            t = clock.now
            let answer = await statusRequest(b)
            lat.append(seconds(clock.now - t))
            precondition(answer.count > 2)
        }
        for _ in 0..<lookups {
            let pod = request(Int.random(in: 0..<n, using: &rng)).pod
            t = clock.now
            let s = await rec.status([pod])
            bare.append(seconds(clock.now - t))
            precondition(s.count == 1)
        }

        // The same requests while resyncs run back to back (every one observes and plans every pod).
        let resyncs = Task { while !Task.isCancelled { await rec.tickOnce() } }
        var busy: [Double] = []
        busy.reserveCapacity(lookups)
        for _ in 0..<lookups {
            let b = body(Int.random(in: 0..<n, using: &rng))
            t = clock.now
            let answer = await statusRequest(b)
            busy.append(seconds(clock.now - t))
            precondition(answer.count > 2)
            if busy.count % 64 == 0 { await Task.yield() }
        }
        resyncs.cancel()
        await resyncs.value

        // /create with pods already tracked: 16 callers, each create one fsync.
        let extra = (n..<(n + createsMeasured)).map { request($0) }
        t = clock.now
        await withTaskGroup(of: Void.self) { group in
            for c in 0..<clients {
                group.addTask {
                    for i in stride(from: c, to: extra.count, by: clients) { _ = try? await rec.create(extra[i]) }
                }
            }
        }
        let rate = Double(extra.count) / max(1e-9, seconds(clock.now - t))

        let journal = await rec.store.journalByteCount
        try await rec.store.compact()
        let compaction = await rec.store.lastCompaction
        if ProcessInfo.processInfo.environment["INTERLINK_BENCH_MEMORY"] != nil {
            func heap() -> Int { cshims_heap_in_use() }
            let n2 = n + createsMeasured
            var h = heap()
            printErr("live heap per pod: \((h - heap0) / n2)")
            func drop(_ what: String, _ body: () async -> Void) async {
                await body(); let now = heap(); printErr("  \(what): \((h - now) / n2) per pod"); h = now
            }
            await drop("statuses") { rec.statusView.replaceAll([:]) }
            await drop("observations") { rec.loop.observed.replaceAll([:]) }
            if let m = provider as? MockProvider { await drop("mock backend") { m.forgetAll() } }
            // The resync's memos share the records: these two are the records themselves.
            await drop("resync memos") { await rec.loop.dropMemosForBench() }
            await drop("store records (the pods with their state)") { await rec.store.dropAllForBench() }
            printErr("  rest: \((h - heap0) / n2) per pod")
        }
        await rec.stop()
        await loop.value
        return Row(pods: n, createsPerSecond: rate, firstTick: first, steadyTickMedian: pct(ticks, 0.5),
                   providerCallsPerTick: calls.max() ?? 0, statusP50: pct(lat, 0.5), statusP99: pct(lat, 0.99),
                   rssBytesPerPod: Double(max(0, rss1 - rss0)) / Double(n), requestBytes: requestBytes, podMemoryBytes: podMemory,
                   journalBytes: journal, snapshotBytes: compaction?.snapshotBytes ?? 0,
                   compactionSeconds: compaction?.seconds ?? 0, statusUnderResyncP99: pct(busy, 0.99),
                   backend: backend.rawValue, lookupP99: pct(bare, 0.99))
    }

    /// The heap one decoded create request takes (1,000 decoded from their JSON, as
    /// the server decodes them, then freed): the pod's own data as it is held.
    static func podMemoryBytes() -> Int {
        let bodies = (0..<1000).compactMap { try? JSONEncoder().encode(request($0)) }
        let before = cshims_heap_in_use()
        let decoded = bodies.compactMap { try? JSONDecoder().decode(PodCreateRequests.self, from: $0) }
        let after = cshims_heap_in_use()
        return withExtendedLifetime(decoded) { max(0, after - before) / max(1, decoded.count) }
    }

    /// Anonymous resident memory, in bytes: the process's RSS without its file-backed pages
    /// (`/proc/self/statm` resident minus shared). Pods are held in anonymous memory;
    /// the binary's and libraries' code, paged in as code paths are first used (a
    /// few MiB once the create and observe paths have run), is not memory pods hold.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 2, let pages = Int(fields[1]), let shared = Int(fields[2]) else { return 0 }
        return (pages - shared) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func printErr(_ s: String) { FileDescriptor.writeAll(2, Data((s + "\n").utf8)) }

    static func request(_ i: Int) -> PodCreateRequests {
        let hex = String(i, radix: 16)
        let uid = "b0000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        var spec = PodSpec(containers: [Container(name: "main", image: "busybox", args: ["sleep", "infinity"])])
        spec.restartPolicy = "Always"
        return PodCreateRequests(pod: Pod(
            metadata: ObjectMeta(name: "bench-\(i)", namespace: "default", uid: uid,
                                 labels: ["app": "bench", "batch": String(i / 1000)]),
            spec: spec))
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
    static func kib(_ b: Double) -> String { format1(b / 1024) + " KiB" }
    static func format1(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) + ".0" : String(r)
    }
    static func format2(_ x: Double) -> String { String((x * 100).rounded() / 100) }
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
}

/// With INTERLINK_BENCH_MALLOC_INFO=PATH, glibc's `malloc_info` (every arena's
/// free blocks by size) at PATH.created, PATH.first and PATH: where fragmentation,
/// not live data, holds RSS.
private func mallocInfo(_ suffix: String) {
    if let path = ProcessInfo.processInfo.environment["INTERLINK_BENCH_MALLOC_INFO"] { _ = cshims_write_malloc_info(path + suffix) }
}
