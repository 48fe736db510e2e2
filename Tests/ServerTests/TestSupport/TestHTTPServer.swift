import FoundationEssentials
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

/// Starts a real `HTTPServer` on 127.0.0.1 port 0 (or a unix socket) for one
/// test and always shuts it down afterwards, so tests cannot leak threads or ports.
enum TestHTTPServer {
    /// Echoes what the server parsed: `METHOD target body-length:body`.
    static let echo: HTTPHandler = { request in
        .text(200, "\(request.method) \(request.target) \(request.body.count):\(String(decoding: request.body, as: UTF8.self))")
    }

    static func with<T>(
        listen: ListenAddress = .tcp(host: "127.0.0.1", port: 0),
        configure: (inout HTTPServerConfig) -> Void = { _ in },
        handler: @escaping HTTPHandler = echo,
        _ body: (HTTPServer, Int) async throws -> T
    ) async throws -> T {
        var config = HTTPServerConfig(listen: listen)
        configure(&config)
        let server = HTTPServer(config: config, handler: handler)
        try server.start()
        do {
            let result = try await body(server, server.boundPort ?? 0)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// A fresh directory for unix sockets (short path: sun_path holds 107 bytes).
    static func tempDir() -> String {
        var template = Array("/tmp/ilhttp-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
}

/// "GET /x HTTP/1.1" with a Host header and an optional body (Content-Length framed).
func rawRequest(_ method: String = "GET", _ target: String = "/", body: String? = nil, headers: [String] = []) -> String {
    var s = "\(method) \(target) HTTP/1.1\r\nHost: test\r\n"
    for h in headers { s += h + "\r\n" }
    if let body { s += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { s += "\r\n" }
    return s
}
