import FoundationEssentials
import Model
import Reconciler

/// The interLink -> plugin API (WIRE.md, "interLink -> plugin"), served by
/// `interlink sidecar` so that an interLink server (upstream's, or ours with
/// `Provider: remote`) can use this project's providers as its plugin:
///
/// - `/create` takes one `RetrievedPodData` (an array of them, as early
///   upstream versions sent, is answered with an array of `CreateStruct`);
/// - `/delete` a `Pod`; `/getLogs` a `LogStruct` (keys matched
///   case-insensitively, as Go's decoder does);
/// - `/status` a `[Pod]`, answered `[PodStatus]`; an empty array is upstream's
///   ping and is answered with the capacity (`PingResponse`), or 503 when the
///   backend does not answer.
///
/// Same rules as `InterLinkAPI`: any of the methods the Go code uses (GET
/// with a body...), bearer token when configured, `{"error": ...}` on 4xx/5xx,
/// requests recorded through the same `PodAPI` (so the sidecar's own
/// reconciler and journal make it heal by itself).
public struct SidecarAPI: Sendable {
    let api: InterLinkAPI
    /// Whether the backend has been observed since start. Until then `/status` of pods
    /// answers 503: a restarted sidecar's view is not yet the backend's, and a caller
    /// (our remote provider, upstream's server) would read "unknown" as lost work.
    let observed: @Sendable () async -> Bool

    public init(core: any PodAPI, auth: TokenAuthenticator?, observed: @escaping @Sendable () async -> Bool = { true }) {
        api = InterLinkAPI(core: core, auth: auth)
        self.observed = observed
    }

    typealias Route = RouteTable<SidecarAPI>.Route

    static let routes: [String: Route] = [
        "/create": Route(methods: ["POST", "PUT"], open: false) { await $0.create($1) },
        "/delete": Route(methods: ["DELETE", "POST"], open: false) { await $0.api.delete($1) },
        "/status": Route(methods: ["GET", "POST"], open: false) { await $0.status($1) },
        "/getLogs": Route(methods: ["GET", "POST"], open: false) { await $0.logs($1) },
        "/metrics": Route(methods: ["GET", "HEAD"], open: false) { s, _ in await s.api.metricsResponse() },
        "/healthz": Route(methods: ["GET", "HEAD"], open: true) { _, _ in .text(200, "ok\n") },
        "/readyz": Route(methods: ["GET", "HEAD"], open: true) { s, _ in await s.api.readiness() },
    ]
    static let table = RouteTable(routes: routes, logMessage: "sidecar request")

    public var handler: HTTPHandler { { request in await self.handle(request) } }

    /// 401 before the body, as on the VK's API (`RouteTable.checkHead`).
    public var headCheck: HTTPHeadCheck {
        { request in Self.table.checkHead(request, auth: self.api.auth, metrics: self.api.metrics) }
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await Self.table.dispatch(request, to: self, auth: api.auth, metrics: api.metrics)
    }

    // MARK: - Handlers

    func create(_ request: HTTPRequest) async -> HTTPResponse {
        let many = Self.startsWithArray(request.body)
        let items: [RetrievedPodData]
        do {
            items = many ? try api.decode([RetrievedPodData].self, request) : [try api.decode(RetrievedPodData.self, request)]
        } catch { return error.response }
        var answers: [CreateStruct] = []
        for item in items {
            var create = item.createRequest
            if let problem = InterLinkAPI.admit(&create) { return .error(400, problem) }
            do { answers.append(try await api.core.create(create)) } catch {
                return .error(error.httpStatus, error.description)
            }
        }
        return many ? api.encoded(answers) : api.encoded(answers[0])
    }

    func status(_ request: HTTPRequest) async -> HTTPResponse {
        let trimmed = request.body.filter { !InterLinkAPI.isJSONSpace($0) }
        // Upstream pings with GET /status and `[]`; an empty body is taken the same way.
        if trimmed.isEmpty || trimmed.elementsEqual("[]".utf8) || trimmed.elementsEqual("null".utf8) {
            do { return api.encoded(try await api.core.ping() ?? PingResponse(status: "ok")) } catch {
                return .error(error.httpStatus, error.description)
            }
        }
        guard await observed() else {
            return .error(503, "not ready: the backend has not been observed since this sidecar started")
        }
        return await api.status(request)
    }

    func logs(_ request: HTTPRequest) async -> HTTPResponse {
        let req: LogStruct
        do { req = try api.decode(FoldedLogStruct.self, request).value } catch { return error.response }
        if let problem = InterLinkAPI.problem(with: req) { return .error(400, problem) }
        let stream: AsyncThrowingStream<Data, any Error>
        do { stream = try await api.core.logs(req) } catch { return .error(error.httpStatus, error.description) }
        let headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
        return HTTPResponse(status: 200, headers: headers, body: .stream(stream))
    }

    static func startsWithArray(_ body: Data) -> Bool {
        body.first(where: { !InterLinkAPI.isJSONSpace($0) }) == UInt8(ascii: "[")
    }
}
