import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// A parsed response as the raw client saw it.
struct RawHTTPResponse: Sendable {
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// Chunk payloads in arrival order when the body was chunked, else nil.
    var chunks: [[UInt8]]?

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

enum RawHTTPClientError: Error, CustomStringConvertible {
    case connect(String, Int32)
    case timeout(String)
    case closedEarly(String)
    case malformed(String)

    var description: String {
        switch self {
        case .connect(let a, let e): return "Cannot connect to \(a) (errno \(e))."
        case .timeout(let what): return "Timed out waiting for \(what)."
        case .closedEarly(let what): return "The server closed the connection while we waited for \(what)."
        case .malformed(let what): return "Malformed response: \(what)."
        }
    }
}

/// A test client on a raw socket: send exact bytes, read whole responses
/// (Content-Length, chunked, or until close), observe closes. Blocking socket
/// work runs on the client's own serial queue, never on the cooperative pool
/// (the server's handlers need that pool). Every wait has a generous upper
/// bound so a broken server fails a test instead of hanging it.
///
/// @unchecked Sendable: all mutable state (fd, buffer) is touched only on `queue`.
final class RawHTTPClient: @unchecked Sendable {
    static let defaultTimeout = 15.0

    private let queue = DispatchQueue(label: "RawHTTPClient")
    private var fd: Int32
    private var buffer: [UInt8] = []

    private init(fd: Int32) { self.fd = fd }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    static func connect(port: Int, host: String = "127.0.0.1") async throws -> RawHTTPClient {
        try await offPool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, host, &addr.sin_addr)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc != 0 { let e = errno; Glibc.close(fd); throw RawHTTPClientError.connect("\(host):\(port)", e) }
            return RawHTTPClient(fd: fd)
        }
    }

    static func connect(unixPath: String) async throws -> RawHTTPClient {
        try await offPool {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: unixPath.utf8)
                raw[unixPath.utf8.count] = 0
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc != 0 { let e = errno; Glibc.close(fd); throw RawHTTPClientError.connect(unixPath, e) }
            return RawHTTPClient(fd: fd)
        }
    }

    /// One connection, one raw request, one response.
    static func exchange(port: Int, _ raw: String) async throws -> RawHTTPResponse {
        let c = try await connect(port: port)
        try await c.send(raw)
        return try await c.readResponse()
    }

    func send(_ text: String) async throws { try await send(bytes: Array(text.utf8)) }

    /// Sends all bytes; a reset by the server (it may answer early and close) is not an error here.
    func send(bytes: [UInt8]) async throws {
        try await onQueue {
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                off += n
            }
        }
    }

    /// Reads one response. `forHEAD` means no body follows whatever the headers say.
    func readResponse(forHEAD: Bool = false, timeout: Double = defaultTimeout) async throws -> RawHTTPResponse {
        try await onQueue { try self.readResponseSync(forHEAD: forHEAD, deadline: Self.deadline(timeout)) }
    }

    /// True when the server closes (or resets) the connection within `timeout`; data before it is dropped.
    func waitForClose(timeout: Double = defaultTimeout) async -> Bool {
        (try? await onQueue { () -> Bool in
            let deadline = Self.deadline(timeout)
            while true {
                switch self.fill(deadline: deadline) {
                case .data: self.buffer.removeAll()
                case .closed: return true
                case .timeout: return false
                }
            }
        }) ?? false
    }

    func close() async {
        try? await onQueue {
            if self.fd >= 0 { Glibc.close(self.fd); self.fd = -1 }
        }
    }

    /// Runs `body` with the socket (for socket options), on the client's queue.
    func withRawFD(_ body: @escaping @Sendable (Int32) -> Void) async {
        try? await onQueue { if self.fd >= 0 { body(self.fd) } }
    }

    /// True when the server sent something (or closed) within `timeout`; nothing is consumed.
    func readable(timeout: Double) async -> Bool {
        (try? await onQueue { () -> Bool in
            if !self.buffer.isEmpty { return true }
            var p = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            return poll(&p, 1, Int32(timeout * 1000)) > 0
        }) ?? true
    }

    /// Reads a status line and headers only (a streamed body may never end); returns the status.
    func readStatusLine(timeout: Double) async throws -> Int {
        try await onQueue {
            let deadline = Self.deadline(timeout)
            let line = try self.readLine(deadline: deadline, what: "the status line")
            while try !self.readLine(deadline: deadline, what: "headers").isEmpty {}
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
    }

    // MARK: - Blocking internals (on `queue`)

    private enum Fill { case data, closed, timeout }

    private static func deadline(_ seconds: Double) -> Double { now() + seconds }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func fill(deadline: Double) -> Fill {
        let left = deadline - Self.now()
        guard left > 0 else { return .timeout }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(left * 1000))
        if rc == 0 { return .timeout }
        if rc < 0 { return errno == EINTR ? fill(deadline: deadline) : .closed }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 { return .closed }
        buffer += chunk[0..<n]
        return .data
    }

    private func readLine(deadline: Double, what: String) throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<i])
                if line.last == 13 { line.removeLast() }
                buffer.removeFirst(i + 1)
                return String(decoding: line, as: UTF8.self)
            }
            try need(deadline: deadline, what: what)
        }
    }

    private func readExactly(_ n: Int, deadline: Double, what: String) throws -> [UInt8] {
        while buffer.count < n { try need(deadline: deadline, what: what) }
        let out = Array(buffer[..<n])
        buffer.removeFirst(n)
        return out
    }

    private func need(deadline: Double, what: String) throws {
        switch fill(deadline: deadline) {
        case .data: return
        case .closed: throw RawHTTPClientError.closedEarly(what)
        case .timeout: throw RawHTTPClientError.timeout(what)
        }
    }

    private func readResponseSync(forHEAD: Bool, deadline: Double) throws -> RawHTTPResponse {
        let statusLine = try readLine(deadline: deadline, what: "the status line")
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw RawHTTPClientError.malformed("status line '\(statusLine)'")
        }
        var response = RawHTTPResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: [], body: [], chunks: nil)
        while true {
            let line = try readLine(deadline: deadline, what: "headers")
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPClientError.malformed("header '\(line)'") }
            response.headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })))
        }
        if forHEAD || status < 200 || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var chunks: [[UInt8]] = []
            while true {
                let sizeLine = try readLine(deadline: deadline, what: "a chunk size")
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw RawHTTPClientError.malformed("chunk size '\(sizeLine)'") }
                if size == 0 {
                    while try !readLine(deadline: deadline, what: "trailers").isEmpty {}
                    break
                }
                chunks.append(try readExactly(size, deadline: deadline, what: "chunk data"))
                guard try readLine(deadline: deadline, what: "chunk end").isEmpty else { throw RawHTTPClientError.malformed("chunk longer than its size") }
            }
            response.chunks = chunks
            response.body = chunks.flatMap { $0 }
        } else if let cl = response.header("Content-Length") {
            guard let n = Int(cl) else { throw RawHTTPClientError.malformed("Content-Length '\(cl)'") }
            response.body = try readExactly(n, deadline: deadline, what: "the body")
        } else {
            while true {
                switch fill(deadline: deadline) {
                case .data: continue
                case .closed: response.body = buffer; buffer = []; return response
                case .timeout: throw RawHTTPClientError.timeout("the end of a close-delimited body")
                }
            }
        }
        return response
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            queue.async { c.resume(with: Result { try body() }) }
        }
    }

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async { c.resume(with: Result { try body() }) }
        }
    }
}
