import FoundationEssentials
import Model

/// One front door's routes and the code every route shares, so the VK's API
/// (`InterLinkAPI`) and the plugin API (`SidecarAPI`) cannot drift apart:
/// path normalisation (one trailing `/` ignored), 404 for unknown paths, 405
/// with `Allow`, the bearer token (401 with `WWW-Authenticate`, checked once
/// the headers are in through `checkHead`, and again by `dispatch` because the
/// token file may change in between), request metrics and the log level by status.
struct RouteTable<Context: Sendable>: Sendable {
    /// A route: the methods it takes, whether it is open (no token), its handler.
    struct Route: Sendable {
        var methods: Set<String>
        var open: Bool
        var handle: @Sendable (Context, HTTPRequest) async -> HTTPResponse
    }

    let routes: [String: Route]
    /// The log line's message ("request", "sidecar request").
    let logMessage: String

    static func normalised(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    static func unauthorized(_ authorization: String?) -> HTTPResponse {
        var r = HTTPResponse.error(401, authorization == nil
                                   ? "missing bearer token (Authorization: Bearer <token>)"
                                   : "invalid bearer token")
        r.headers.add("WWW-Authenticate", "Bearer")
        return r
    }

    func dispatch(_ request: HTTPRequest, to context: Context, auth: TokenAuthenticator?,
                  metrics: APIMetrics) async -> HTTPResponse {
        let path = Self.normalised(request.path)
        let response: HTTPResponse
        let routeName: String
        if let route = routes[path] {
            routeName = path
            if !route.methods.contains(request.method) {
                let allowed = route.methods.sorted()
                var r = HTTPResponse.error(405, "\(request.method) is not allowed on \(path); use \(allowed.joined(separator: " or "))")
                r.headers.add("Allow", allowed.joined(separator: ", "))
                response = r
            } else if !route.open, let auth, !auth.authorize(request.headers["Authorization"]) {
                response = Self.unauthorized(request.headers["Authorization"])
            } else {
                response = await route.handle(context, request)
            }
        } else {
            routeName = "other"
            response = .error(404, "no route \(path)")
        }
        metrics.record(route: routeName, status: response.status)
        log(request, path: path, status: response.status)
        return response
    }

    /// The server's head check: a route that needs the token and lacks it gets
    /// its 401 as soon as the headers are in, before the body is read or
    /// `100 Continue` is sent, so an unauthenticated client cannot make the
    /// server wait for (or buffer) a body. A request with the right token marks
    /// its connection authenticated. Routes that do not exist or do not take the
    /// method are left to `dispatch`, so their answers stay 404 and 405.
    func checkHead(_ request: HTTPRequest, auth: TokenAuthenticator?, metrics: APIMetrics) -> HTTPHeadVerdict {
        let path = Self.normalised(request.path)
        guard let route = routes[path], route.methods.contains(request.method), !route.open, let auth else {
            return .proceed
        }
        let authorization = request.headers["Authorization"]
        if auth.authorize(authorization) { return .authenticated }
        metrics.record(route: path, status: 401)
        log(request, path: path, status: 401, extra: ["before": "body"])
        return .reject(Self.unauthorized(authorization))
    }

    private func log(_ request: HTTPRequest, path: String, status: Int, extra: [String: String] = [:]) {
        var fields = ["method": request.method, "path": path, "status": String(status),
                      "session": request.headers["InterLink-Http-Session"] ?? "", "remote": request.remote]
        fields.merge(extra) { $1 }
        if status >= 500 { Log.error(logMessage, fields) }
        else if status >= 400 { Log.info(logMessage, fields) }
        else { Log.debug(logMessage, fields) }
    }
}
