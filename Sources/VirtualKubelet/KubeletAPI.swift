import FoundationEssentials
import Model
import Providers
import Reconciler
import Server

/// The part of kubelet's HTTPS API the API server uses for a node: logs
/// (`kubectl logs [-f]` goes API server -> node), `/healthz`, `/pods` and
/// `/stats/summary`. Pods are looked up by namespace and name among those
/// the core knows; a name from a URL is only ever compared, never used as a path.
public struct KubeletAPI: Sendable {
    let core: any PodAPI
    let view: StatusView
    let nodeName: String
    let startTime: String
    let usage: UsageCache?

    /// `usage`: the provider, when it can measure its containers (Docker); its
    /// numbers fill `/stats/summary`, refreshed at most every `usageMaxAge` seconds.
    public init(core: any PodAPI, view: StatusView, nodeName: String, usage: (any UsageReporting)? = nil,
                usageMaxAge: Double = 10) {
        self.core = core; self.view = view; self.nodeName = nodeName; self.startTime = RFC3339.now()
        self.usage = usage.map { UsageCache(source: $0, maxAge: usageMaxAge) }
    }

    public var handler: HTTPHandler { { req in await self.handle(req) } }

    func handle(_ req: HTTPRequest) async -> HTTPResponse {
        guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "only GET is served") }
        let parts = req.path.split(separator: "/", omittingEmptySubsequences: true).map { Self.percentDecode(String($0)) }
        switch parts.first {
        case "healthz": return .text(200, "ok")
        case "pods": return json(podList())
        case "stats" where parts.count == 2 && parts[1] == "summary": return json(summary(await usage?.current() ?? []))
        case "containerLogs" where parts.count == 4:
            return await logs(namespace: parts[1], pod: parts[2], container: parts[3], query: req.query ?? "")
        default: return .error(404, "no such kubelet endpoint: \(req.path.prefix(200))")
        }
    }

    func logs(namespace: String, pod: String, container: String, query: String) async -> HTTPResponse {
        let q = Self.query(query)
        guard let st = view.snapshot().values.first(where: { $0.namespace == namespace && $0.name == pod }) else {
            return .error(404, "pod \(namespace)/\(pod) is not running on node \(nodeName)")
        }
        var opts = LogOpts()
        func int(_ k: String) -> Int?? { q[k].map { Int($0).flatMap { $0 >= 0 ? $0 : nil } } }
        func bool(_ k: String) -> Bool { q[k] == "true" || q[k] == "1" }
        for k in ["tailLines", "limitBytes", "sinceSeconds"] { if case .some(.none) = int(k) { return .error(400, "\(k) must be a non-negative integer") } }
        opts.Tail = (int("tailLines") ?? nil) ?? 0
        opts.Bytes = (int("limitBytes") ?? nil) ?? 0
        opts.SinceSeconds = (int("sinceSeconds") ?? nil) ?? 0
        opts.Follow = bool("follow"); opts.Timestamps = bool("timestamps"); opts.Previous = bool("previous")
        if let s = q["sinceTime"] {
            guard RFC3339.date(s) != nil else { return .error(400, "sinceTime \"\(s.prefix(100))\" is not an RFC 3339 time") }
            opts.SinceTime = s
        }
        if opts.SinceSeconds > 0 && opts.SinceTime != nil { return .error(400, "sinceSeconds and sinceTime cannot both be set") }
        let req = LogStruct(Namespace: namespace, PodUID: st.UID, PodName: pod, ContainerName: container, Opts: opts)
        do {
            var stream = try await core.logs(req)
            if opts.Tail > 0 && opts.Bytes > 0 { stream = Self.limit(stream, opts.Bytes) }  // kubectl may send both
            return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")]), body: .stream(stream))
        } catch { return .error(error.httpStatus, error.description) }
    }

    static func limit(_ s: AsyncThrowingStream<Data, any Error>, _ n: Int) -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { c in
            let t = Task {
                var left = n
                do {
                    for try await chunk in s {
                        if chunk.count >= left { c.yield(chunk.prefix(left)); break }
                        c.yield(chunk); left -= chunk.count
                    }
                    c.finish()
                } catch { c.finish(throwing: error) }
            }
            c.onTermination = { _ in t.cancel() }
        }
    }

    struct PodRef: Encodable { var name: String; var namespace: String; var uid: String }
    struct PodItem: Encodable {
        struct Meta: Encodable { var name: String; var namespace: String; var uid: String }
        struct Status: Encodable { var phase: String; var containerStatuses: [ContainerStatus] }
        var metadata: Meta; var status: Status
    }
    struct PodListBody: Encodable { var kind = "PodList"; var apiVersion = "v1"; var items: [PodItem] }

    func podList() -> PodListBody {
        let all = view.snapshot().values.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return PodListBody(items: all.map {
            PodItem(metadata: .init(name: $0.name, namespace: $0.namespace, uid: $0.UID),
                    status: .init(phase: PodPhase.derive(from: $0.containers).rawValue, containerStatuses: $0.containers))
        })
    }

    /// kubelet's stats/v1alpha1 Summary. CPU and memory come from the provider
    /// where it measures them (Docker's `docker stats`); where it does not (Slurm,
    /// the mock, a container not running) those members are absent, which the
    /// metrics pipeline reads as unknown, rather than made-up numbers. What is
    /// always known (which pods and containers run, since when) is filled in.
    struct Summary: Encodable {
        struct Node: Encodable { var nodeName: String; var startTime: String }
        struct CPU: Encodable { var time: String; var usageNanoCores: UInt64 }
        struct Memory: Encodable { var time: String; var usageBytes: UInt64; var workingSetBytes: UInt64 }
        struct Container: Encodable { var name: String; var startTime: String?; var cpu: CPU?; var memory: Memory? }
        struct PodStats: Encodable {
            var podRef: PodRef; var startTime: String?; var containers: [Container]; var cpu: CPU?; var memory: Memory?
        }
        var node: Node; var pods: [PodStats]
    }

    func summary(_ measured: [ContainerUsage] = []) -> Summary {
        var byContainer: [String: ContainerUsage] = [:]
        for u in measured { byContainer[u.podUID + "/" + u.container] = u }
        let pods = view.snapshot().values.sorted { $0.UID < $1.UID }.map { st -> Summary.PodStats in
            let cs = st.containers.map { c -> Summary.Container in
                let running = c.state.running != nil
                let u = running ? byContainer[st.UID + "/" + c.name] : nil
                return Summary.Container(name: c.name, startTime: c.state.running?.startedAt ?? c.state.terminated?.startedAt,
                                         cpu: u.flatMap { u in u.cpuNanoCores.map { Summary.CPU(time: u.time, usageNanoCores: $0) } },
                                         memory: u.flatMap { u in u.memoryBytes.map { Summary.Memory(time: u.time, usageBytes: $0, workingSetBytes: $0) } })
            }
            // A pod's total is known only when every running container's is.
            let live = zip(st.containers, cs).filter { $0.0.state.running != nil }.map(\.1)
            let cpu: Summary.CPU? = live.isEmpty || live.contains { $0.cpu == nil } ? nil
                : Summary.CPU(time: live[0].cpu!.time, usageNanoCores: live.reduce(0) { $0 + $1.cpu!.usageNanoCores })
            let mem: Summary.Memory? = live.isEmpty || live.contains { $0.memory == nil } ? nil
                : { let b = live.reduce(UInt64(0)) { $0 + $1.memory!.usageBytes }
                    return Summary.Memory(time: live[0].memory!.time, usageBytes: b, workingSetBytes: b) }()
            return Summary.PodStats(podRef: PodRef(name: st.name, namespace: st.namespace, uid: st.UID),
                                    startTime: cs.compactMap(\.startTime).min(), containers: cs, cpu: cpu, memory: mem)
        }
        return Summary(node: .init(nodeName: nodeName, startTime: startTime), pods: pods)
    }

    private func json<T: Encodable>(_ v: T) -> HTTPResponse {
        do { return .json(200, try WireJSON.encode(v)) } catch { return .error(500, "cannot encode: \(error)") }
    }

    static func query(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            out[percentDecode(String(kv[0]))] = kv.count > 1 ? percentDecode(String(kv[1]).replacing("+", with: " ")) : ""
        }
        return out
    }

    static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%"), u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v); u = u.dropFirst(2)
            } else { bytes.append(b) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The provider's last usage sample, shared by concurrent `/stats/summary`
/// requests: a sample costs the backend about a second (`docker stats`), and
/// metrics scrapers ask every 15 s or so. A failed sample reads as unknown.
actor UsageCache {
    let source: any UsageReporting
    let maxAge: Double
    private var last: (at: Date, value: [ContainerUsage])?
    private var inFlight: Task<[ContainerUsage], Never>?

    init(source: any UsageReporting, maxAge: Double) { self.source = source; self.maxAge = maxAge }

    func current() async -> [ContainerUsage] {
        if let last, Date().timeIntervalSince(last.at) < maxAge { return last.value }
        if let inFlight { return await inFlight.value }
        let source = self.source
        let task = Task { (try? await source.usage()) ?? [] }
        inFlight = task
        let value = await task.value
        last = (Date(), value)
        inFlight = nil
        return value
    }
}
