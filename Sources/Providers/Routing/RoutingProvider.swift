import FoundationEssentials
import Model
import Synchronization

/// Several named backends behind one `Provider`, so one reconciler (one
/// journal, one VK node) runs pods on, say, a Slurm cluster and a Docker host.
///
/// - A pod goes where `RoutingRule` says (annotation `interlink.io/provider`,
///   else a label rule, else the default), decided from the recorded request.
/// - Job ids carry the backend: `<name>/<backend job id>`, so delete, logs
///   and cleanup find the backend without extra state, and a pod never moves
///   to another backend under its job even if the rules change.
/// - `observe` calls every backend's `observe` once, concurrently. If one
///   fails, the whole observation fails (the reconciler then skips the tick
///   and keeps every pod's last known state): an observation that left one
///   backend out would make all its pods look lost. `lastObserveFailures`
///   names the failing backends so only their pods are marked unreachable.
/// - `ping` reports the sum of the backends' capacity; it fails only when no
///   backend answers, and names the ones that did not in `status`.
public final class RoutingProvider: Provider {
    public let name = "routing"
    public let backends: [(name: String, provider: any Provider)]
    let byName: [String: any Provider]
    public let rule: RoutingRule

    public init(backends: [(name: String, provider: any Provider)], rule: RoutingRule) {
        self.backends = backends
        var map: [String: any Provider] = [:]
        for b in backends { map[b.name] = b.provider }
        byName = map
        self.rule = rule
    }

    public var commandCount: Int { backends.reduce(0) { $0 + $1.provider.commandCount } }

    /// Every backend's gauges, each `# HELP`/`# TYPE` line once.
    public var metricsText: String {
        var seen: Set<Substring> = []
        var out = ""
        for b in backends {
            for line in b.provider.metricsText.split(separator: "\n") where !line.hasPrefix("#") || seen.insert(line).inserted {
                out += line + "\n"
            }
        }
        return out
    }

    /// Backend and inner job id of a job: from the id's prefix, else (no job
    /// yet, e.g. cleanup of a pod whose create never succeeded) from the pod.
    func route(_ ref: JobRef) throws(ProviderError) -> (String, any Provider, JobRef) {
        if let slash = ref.jobID.firstIndex(of: "/") {
            let n = String(ref.jobID[..<slash])
            if let p = byName[n] {
                var inner = ref; inner.jobID = String(ref.jobID[ref.jobID.index(after: slash)...])
                return (n, p, inner)
            }
        }
        if let pod = ref.pod, case .backend(let n) = rule.choose(pod, known: Set(byName.keys)), let p = byName[n] {
            return (n, p, ref)
        }
        throw .notFound("job \"\(ref.jobID)\" of pod \(ref.namespace)/\(ref.name) names no backend of this InterLink (\(byName.keys.sorted().joined(separator: ", ")))")
    }

    public func create(_ desired: DesiredPod) async throws -> String {
        switch rule.choose(desired.pod, known: Set(byName.keys)) {
        case .unknown(let n):
            throw ProviderError.invalidPod("annotation \(RoutingRule.annotation)=\"\(n)\" names no backend of this InterLink; use one of \(byName.keys.sorted().joined(separator: ", "))")
        case .backend(let n):
            guard let p = byName[n] else {
                throw ProviderError.unavailable("the default backend \"\(n)\" is not configured")
            }
            return n + "/" + (try await p.create(desired))
        }
    }

    public func observe() async throws -> [JobObservation] {
        // Every backend is awaited (not just until the first failure) so the
        // failures name every unreachable backend: the reconciler marks only
        // their pods (`lastObserveFailures`).
        let parts = await withTaskGroup(of: (String, Result<[JobObservation], any Error>).self) { group in
            for b in backends {
                group.addTask {
                    do {
                        return (b.name, .success(try await b.provider.observe().map { o in var o = o; o.jobID = b.name + "/" + o.jobID; return o }))
                    } catch { return (b.name, .failure(error)) }
                }
            }
            var out: [(String, Result<[JobObservation], any Error>)] = []
            for await part in group { out.append(part) }
            return out
        }
        var all: [JobObservation] = [], failed: [String: String] = [:]
        for (n, r) in parts {
            switch r {
            case .success(let o): all += o
            case .failure(let e): failed[n] = "\(e)"
            }
        }
        failures.withLock { $0 = failed }
        if let first = failed.keys.sorted().first {
            throw ProviderError.backend(command: "observe of backend \(first)",
                                        message: failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "),
                                        transient: true)
        }
        return all
    }

    private let failures = Mutex<[String: String]>([:])
    /// Backend name -> error of the last `observe`, empty when every backend answered.
    public var lastObserveFailures: [String: String] { failures.withLock { $0 } }

    public func delete(_ job: JobRef) async throws {
        let (_, p, inner) = try route(job)
        try await p.delete(inner)
    }

    public func cleanup(_ job: JobRef) async throws {
        let (_, p, inner) = try route(job)
        try await p.cleanup(inner)
    }

    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let (_, p, inner) = try route(job)
        return try await p.logs(inner, container: container, options: options)
    }

    public func ping() async throws -> PingResponse? {
        let answers = await withTaskGroup(of: (String, Result<PingResponse?, any Error>).self) { group in
            for b in backends {
                group.addTask {
                    do { return (b.name, .success(try await b.provider.ping())) } catch { return (b.name, .failure(error)) }
                }
            }
            var out: [String: Result<PingResponse?, any Error>] = [:]
            for await (n, r) in group { out[n] = r }
            return out
        }
        var ok: [(String, PingResponse?)] = [], down: [(String, String)] = []
        for b in backends {
            switch answers[b.name]! {
            case .success(let p): ok.append((b.name, p))
            case .failure(let e): down.append((b.name, "\(e)"))
            }
        }
        if ok.isEmpty {
            throw ProviderError.unavailable("no backend answers: " + down.map { "\($0.0): \($0.1)" }.joined(separator: "; "))
        }
        return Self.combine(ok, down: down)
    }

    /// Capacity of several backends as one node: quantities add up,
    /// accelerators of the same type too, taints are united.
    static func combine(_ ok: [(String, PingResponse?)], down: [(String, String)]) -> PingResponse {
        var cpu: Int64 = 0, memory: Int64 = 0, pods: Int64 = 0, any = false
        var accel: [(String, Int64)] = []
        var taints: [PingResponse.Taint] = []
        for (_, p) in ok {
            if let t = p?.taints { for x in t where !taints.contains(x) { taints.append(x) } }
            guard let r = p?.resources else { continue }
            any = true
            cpu += (try? Quantity.parse(r.cpu).milliValue) ?? 0
            memory += (try? Quantity.parse(r.memory).milliValue) ?? 0
            pods += (try? Quantity.parse(r.pods).milliValue) ?? 0
            for a in r.accelerators ?? [] {
                let v = (try? Quantity.parse(a.available).milliValue) ?? 0
                if let i = accel.firstIndex(where: { $0.0 == a.resourceType }) { accel[i].1 += v } else { accel.append((a.resourceType, v)) }
            }
        }
        func text(_ milli: Int64) -> String { milli % 1000 == 0 ? String(milli / 1000) : "\(milli)m" }
        let parts = ok.map { "\($0.0): \($0.1?.status ?? "ok")" } + down.map { "\($0.0): unreachable (\($0.1))" }
        return PingResponse(
            status: (down.isEmpty ? "ok" : "degraded") + " (" + parts.joined(separator: "; ") + ")",
            resources: any ? .init(cpu: text(cpu), memory: text(memory), pods: text(pods),
                                   accelerators: accel.isEmpty ? nil : accel.map { .init(resourceType: $0.0, available: text($0.1)) })
                           : nil,
            taints: ok.contains { $0.1?.taints != nil } ? taints : nil)
    }
}
