import Foundation
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

/// The real `interlink serve` (INTERLINK_TEST_BINARY) on the mock provider with
/// a token, for tests that count its descriptors, threads and memory from
/// /proc, where other tests running in this process cannot disturb the figures.
final class ServerProcess: @unchecked Sendable {  // immutable after init
    static var binary: String? {
        ProcessInfo.processInfo.environment["INTERLINK_TEST_BINARY"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
    }

    let dir: String
    let port: Int
    let token = "tok3n"
    let process = Process()
    var logPath: String { dir + "/log" }

    /// `ulimit` (soft = hard) when given; `extraConfig` is appended to the YAML;
    /// `ready` tells when the server answers (default: a plain `GET /readyz`).
    init(ulimitFiles: Int? = nil, scheme: String = "http", extraConfig: String = "",
         ready: (@Sendable (Int) async -> Bool)? = nil) async throws {
        dir = TestHTTPServer.tempDir()
        port = try await TestHTTPServer.with { _, port in port }
        try "\(token)\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try """
        InterlinkAddress: \(scheme)://127.0.0.1
        InterlinkPort: \(port)
        DataRootFolder: \(dir)/data
        Provider: mock
        VKTokenFile: \(dir)/token
        ReconcileIntervalSeconds: 0.5
        InstanceName: ht-\(UUID().uuidString.lowercased().prefix(8))
        \(extraConfig)
        """.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let limit = ulimitFiles.map { "ulimit -n \($0) && " } ?? ""
        process.arguments = ["-c", "\(limit)exec \"$0\" serve --config \"$1\"", Self.binary!, dir + "/config.yaml"]
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        for _ in 0..<200 {
            if let ready {
                if await ready(port) { return }
            } else if let r = try? await RawHTTPClient.exchange(port: port, rawRequest("GET", "/readyz")), r.status == 200 {
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        throw ServerProcessError(message: "interlink did not become ready: \(log())")
    }

    func log() -> String { String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self) }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Open descriptors of the server process.
    var openFDs: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? -1 }
    /// Threads of the server process.
    var threads: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task").count) ?? -1 }
    /// Resident memory of the server process in KiB.
    var rssKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// Waits (bounded) until `value()` is at most `target`; returns the last value seen.
    func settle(_ value: () -> Int, atMost target: Int, seconds: Double = 15) async -> Int {
        var v = value()
        let end = Date().addingTimeInterval(seconds)
        while v > target && Date() < end {
            try? await Task.sleep(for: .milliseconds(100))
            v = value()
        }
        return v
    }

    func vkRequest(_ method: String, _ path: String, body: String) -> String {
        rawRequest(method, path, body: body, headers: ["Content-Type: application/json", "Authorization: Bearer \(token)"])
    }

    struct ServerProcessError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}

/// Many keep-alive connections driven from one thread with poll(): each sends
/// a request, waits for the whole response (Content-Length framed), checks the
/// status, and sends the next until the time is up. Runs off the cooperative
/// pool. Every failure (refused connect, reset, non-200, a response not
/// complete within `responseTimeout`) is recorded.
enum LoadDriver {
    struct Result: Sendable {
        var connections = 0
        var responses = 0
        var errors: [String] = []
        /// `sample()` taken a third of the way through, and at the end with every connection still open.
        var samples: [Int] = []
    }

    static func run(port: Int, connections: Int, seconds: Double, request: String,
                    responseTimeout: Double = 20, sample: @escaping @Sendable () -> Int = { 0 }) async -> Result {
        await withCheckedContinuation { (c: CheckedContinuation<Result, Never>) in
            Thread.detachNewThread {
                c.resume(returning: runSync(port: port, connections: connections, seconds: seconds,
                                            request: Array(request.utf8), responseTimeout: responseTimeout, sample: sample))
            }
        }
    }

    private struct Conn { var fd: Int32; var buffer: [UInt8] = []; var sentAt = 0.0; var done = false }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func runSync(port: Int, connections: Int, seconds: Double, request: [UInt8], responseTimeout: Double,
                                sample: () -> Int) -> Result {
        var result = Result()
        var conns: [Conn] = []
        for _ in 0..<connections {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc != 0 { result.errors.append("connect: errno \(errno)"); close(fd); continue }
            conns.append(Conn(fd: fd))
        }
        result.connections = conns.count
        defer { for c in conns { close(c.fd) } }
        let end = now() + seconds
        var sampleAt = now() + seconds / 3
        func send(_ i: Int) -> Bool {
            conns[i].sentAt = now()
            return request.withUnsafeBytes { Glibc.send(conns[i].fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) } == request.count
        }
        for i in conns.indices where !send(i) { result.errors.append("send failed"); conns[i].done = true }
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        var fds = conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        while conns.contains(where: { !$0.done }) {
            for i in fds.indices { fds[i].fd = conns[i].done ? -1 : conns[i].fd; fds[i].revents = 0 }
            let n = poll(&fds, nfds_t(fds.count), 200)
            let t = now()
            if t >= sampleAt { result.samples.append(sample()); sampleAt = t >= end ? .infinity : end }
            if n < 0 && errno != EINTR { result.errors.append("poll: errno \(errno)"); break }
            for i in fds.indices where !conns[i].done {
                if fds[i].revents == 0 {
                    if t - conns[i].sentAt > responseTimeout { result.errors.append("no response within \(responseTimeout) s"); conns[i].done = true }
                    continue
                }
                let got = scratch.withUnsafeMutableBytes { recv(conns[i].fd, $0.baseAddress!, $0.count, 0) }
                if got <= 0 { result.errors.append(got == 0 ? "server closed a keep-alive connection" : "recv: errno \(errno)"); conns[i].done = true; continue }
                conns[i].buffer += scratch[0..<got]
                guard let (status, total) = complete(conns[i].buffer) else { continue }
                if status != 200 { result.errors.append("status \(status)") }
                result.responses += 1
                conns[i].buffer.removeFirst(total)
                if t >= end { conns[i].done = true } else if !send(i) { result.errors.append("send failed"); conns[i].done = true }
            }
        }
        if result.samples.count < 2 { result.samples.append(sample()) }
        return result
    }

    /// Status and total length when `b` holds a whole Content-Length-framed response.
    private static func complete(_ b: [UInt8]) -> (Int, Int)? {
        guard b.count >= 16 else { return nil }
        var headEnd = -1
        for i in 3..<b.count where b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 { headEnd = i + 1; break }
        guard headEnd > 0 else { return nil }
        let head = String(decoding: b[0..<headEnd], as: UTF8.self).lowercased()
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var length = 0
        if let r = head.range(of: "content-length:") {
            length = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return b.count >= headEnd + length ? (status, headEnd + length) : nil
    }
}
