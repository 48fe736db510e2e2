import FoundationEssentials
import Model
import Providers
import Reconciler

/// The interLink REST API as the Go virtual kubelet calls it (see WIRE.md):
/// `/create`, `/delete`, `/status`, `/getLogs`, `/pinglink`, `/updateCache`,
/// plus `/healthz`, `/readyz` and `/metrics`. Handlers decode and validate, then
/// hand over to the core (`PodAPI`); they never touch a provider.
///
/// Methods are tolerated as the VK uses them: GET with a JSON body for
/// `/status` and `/getLogs`, DELETE with a body for `/delete`, and POST for all.
public struct InterLinkAPI: Sendable {
    let core: any PodAPI
    let auth: TokenAuthenticator?
    let metrics = APIMetrics()

    public init(core: any PodAPI, auth: TokenAuthenticator?) {
        self.core = core
        self.auth = auth
    }

    typealias Route = RouteTable<InterLinkAPI>.Route

    static let routes: [String: Route] = [
        "/create": Route(methods: ["POST", "PUT"], open: false) { await $0.create($1) },
        "/delete": Route(methods: ["DELETE", "POST"], open: false) { await $0.delete($1) },
        "/status": Route(methods: ["GET", "POST"], open: false) { await $0.status($1) },
        "/getLogs": Route(methods: ["GET", "POST"], open: false) { await $0.logs($1) },
        "/pinglink": Route(methods: ["POST", "GET", "HEAD"], open: false) { await $0.ping($1) },
        "/updateCache": Route(methods: ["POST", "PUT"], open: false) { await $0.updateCache($1) },
        "/metrics": Route(methods: ["GET", "HEAD"], open: false) { api, _ in await api.metricsResponse() },
        "/healthz": Route(methods: ["GET", "HEAD"], open: true) { _, _ in .text(200, "ok\n") },
        "/readyz": Route(methods: ["GET", "HEAD"], open: true) { api, _ in await api.readiness() },
    ]
    static let table = RouteTable(routes: routes, logMessage: "request")

    /// The `HTTPHandler` to give the server.
    public var handler: HTTPHandler { { request in await self.handle(request) } }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await Self.table.dispatch(request, to: self, auth: auth, metrics: metrics)
    }

    // MARK: - Handlers

    func create(_ request: HTTPRequest) async -> HTTPResponse {
        var create: PodCreateRequests
        do { create = try decode(PodCreateRequests.self, request) } catch { return error.response }
        if let problem = Self.admit(&create) { return .error(400, problem) }
        do {
            let answer = try await core.create(create)
            return encoded(answer)
        } catch {
            return .error(error.httpStatus, error.description)
        }
    }

    func delete(_ request: HTTPRequest) async -> HTTPResponse {
        let pod: Pod
        do { pod = try decode(Pod.self, request) } catch { return error.response }
        guard !pod.uid.isEmpty else { return .error(400, "pod to delete has no metadata.uid") }
        do {
            try await core.delete(pod)
            return .text(200, "pod \(pod.namespace)/\(pod.name) deleted\n")
        } catch {
            return .error(error.httpStatus, error.description)
        }
    }

    func status(_ request: HTTPRequest) async -> HTTPResponse {
        // The VK sends an array; a single object is accepted too.
        let pods: [Pod]
        if request.body.first(where: { !Self.isJSONSpace($0) }) == UInt8(ascii: "{") {
            do { pods = [try decode(Pod.self, request)] } catch { return error.response }
        } else {
            do { pods = try decode([Pod].self, request) } catch { return error.response }
        }
        if let bad = pods.first(where: { $0.uid.isEmpty }) {
            return .error(400, "pod \(bad.namespace)/\(bad.name) in /status has no metadata.uid")
        }
        return encoded(await core.status(pods))
    }

    func logs(_ request: HTTPRequest) async -> HTTPResponse {
        var req: LogStruct
        do { req = try decode(LogStruct.self, request) } catch { return error.response }
        if let problem = Self.problem(with: req) { return .error(400, problem) }
        req.Opts = PodBounds.clamped(req.Opts)
        let stream: AsyncThrowingStream<Data, any Error>
        do { stream = try await core.logs(req) } catch { return .error(error.httpStatus, error.description) }
        // Streamed (chunked) with or without Follow: a job's whole log never has
        // to fit in this process's memory.
        let headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
        return HTTPResponse(status: 200, headers: headers, body: .stream(stream))
    }

    func ping(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return encoded(try await core.ping() ?? PingResponse(status: "ok"))
        } catch {
            return .error(error.httpStatus, error.description)
        }
    }

    func updateCache(_ request: HTTPRequest) async -> HTTPResponse {
        let pod: Pod
        do { pod = try decode(Pod.self, request) } catch { return error.response }
        await core.updateCache(pod)
        return .text(200, "ok\n")
    }

    // MARK: - Helpers

    /// Every 400 problem of a create request, or nil: names, the spec's numbers,
    /// probes and hooks, volume paths, quantities, and the projected maps' keys.
    static func problem(with create: PodCreateRequests) -> String? {
        Validation.problem(with: create.pod) ?? Validation.problem(withSpecOf: create.pod)
            ?? Quantity.problem(withQuantitiesOf: create.pod) ?? Validation.problem(withProjectedMapsOf: create)
    }

    /// What every front door does with a create request before the core sees it
    /// (the VK's `/create`, the sidecar's): the 400 problem if any, else the
    /// numbers Kubernetes leaves unbounded clamped, once, so nothing downstream
    /// (timeouts, sleeps, Int32 conversions) sees them (PodBounds).
    static func admit(_ create: inout PodCreateRequests) -> String? {
        if let problem = problem(with: create) { return problem }
        let (pod, notes) = PodBounds.clamped(create.pod)
        if !notes.isEmpty {
            Log.warn("pod numbers clamped", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid,
                                             "changes": notes.joined(separator: "; ")])
        }
        create.pod = pod
        return nil
    }

    func metricsResponse() async -> HTTPResponse {
        .text(200, await core.metrics() + metrics.render(), contentType: "text/plain; version=0.0.4")
    }

    func readiness() async -> HTTPResponse {
        await core.isReady() ? .text(200, "ready\n") : .error(503, "not ready: loading desired state")
    }

    /// The 400 problems WIRE.md lists for `LogStruct`, or nil.
    static func problem(with r: LogStruct) -> String? {
        if r.Opts.Tail > 0 && r.Opts.Bytes > 0 { return "Tail and Bytes (LimitBytes) cannot both be set" }
        if r.Opts.SinceSeconds > 0 && r.Opts.SinceTime != nil { return "SinceSeconds and SinceTime cannot both be set" }
        if r.Opts.Tail < 0 || r.Opts.Bytes < 0 || r.Opts.SinceSeconds < 0 { return "Tail, Bytes and SinceSeconds must not be negative" }
        if let since = r.Opts.SinceTime, RFC3339.date(since) == nil { return "SinceTime \"\(since)\" is not an RFC 3339 time" }
        if !Validation.isDNSLabel(r.Namespace) { return "Namespace \"\(r.Namespace)\" is not a valid DNS label" }
        if !Validation.isUUID(r.PodUID) { return "PodUID \"\(r.PodUID)\" is not a UUID" }
        if r.ContainerName.isEmpty { return "ContainerName is required" }
        return nil
    }

    static func isJSONSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 }

    func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest) throws(HTTPResponseError) -> T {
        guard !request.body.isEmpty else { throw HTTPResponseError(.error(400, "request body is empty; expected JSON")) }
        do {
            return try WireJSON.decode(type, from: request.body)
        } catch {
            throw HTTPResponseError(.error(400, WireJSON.describe(error)))
        }
    }

    func encoded<T: Encodable>(_ value: T) -> HTTPResponse {
        do { return .json(200, try WireJSON.encode(value)) } catch {
            return .error(500, "could not encode the answer: \(error)")
        }
    }
}

/// A ready error response travelling as an error through decode helpers.
struct HTTPResponseError: Error {
    let response: HTTPResponse
    init(_ response: HTTPResponse) { self.response = response }
}
