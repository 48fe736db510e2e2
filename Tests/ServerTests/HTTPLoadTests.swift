import Foundation
@testable import Server
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 18 point 4, short versions, against the real binary (counted from
/// /proc): many keep-alive connections, slowloris, and clients that vanish
/// mid-body or mid-follow. The long versions are `make load`.
@Suite("HTTP load and slow clients", .serialized, .enabled(if: ServerProcess.binary != nil, "INTERLINK_TEST_BINARY is not set"),
       .timeLimit(.minutes(3)))
struct HTTPLoadTests {
    static let statusBody = "[]"
    /// `make load` runs these LOAD_SCALE times longer (INTERLINK_LOAD_SCALE); 1 in `make test`.
    static let scale = max(1, Double(ProcessInfo.processInfo.environment["INTERLINK_LOAD_SCALE"] ?? "") ?? 1)

    @Test("1,000 concurrent keep-alive connections poll /status with zero errors and flat memory")
    func thousandKeepAliveConnections() async throws {
        let server = try await ServerProcess(extraConfig: "MaxConnections: 4000")
        defer { server.stop() }
        let request = server.vkRequest("GET", "/status", body: Self.statusBody)
        let fdsBefore = server.openFDs

        // A warm-up round, then one long round sampled a third of the way in and at its end,
        // both times with the same 1,000 connections open.
        let warm = await LoadDriver.run(port: server.port, connections: 1000, seconds: 1, request: request)
        #expect(warm.errors.isEmpty, "warm-up: \(warm.errors.prefix(5)) (\(warm.errors.count) errors)")
        let run = await LoadDriver.run(port: server.port, connections: 1000, seconds: 6 * Self.scale, request: request) { server.rssKiB }
        #expect(run.connections == 1000)
        #expect(run.errors.isEmpty, "\(run.errors.prefix(5)) (\(run.errors.count) errors)")
        #expect(run.responses >= 2000)
        // Flat: twice the requests on the same connections cost no more memory than noise.
        #expect(run.samples.count == 2)
        if run.samples.count == 2 {
            #expect(run.samples[1] <= run.samples[0] + 8 * 1024, "RSS went from \(run.samples[0]) KiB to \(run.samples[1]) KiB under steady load")
        }
        // And every connection's descriptor is given back once the clients leave.
        let fdsAfter = await server.settle({ server.openFDs }, atMost: fdsBefore)
        #expect(fdsAfter <= fdsBefore, "descriptors: \(fdsBefore) before, \(fdsAfter) after")
    }

    @Test("300 slowloris connections sending a header byte at a time do not stop a normal client being served within the read timeout")
    func slowloris() async throws {
        let readTimeout = 3.0 * Self.scale
        let server = try await ServerProcess(extraConfig: "ReadTimeoutSeconds: \(readTimeout)")
        defer { server.stop() }
        let attackers = Slowloris(port: server.port, connections: 300)
        let attack = Task.detached { attackers.run(seconds: readTimeout * 2) }
        let status = server.vkRequest("GET", "/status", body: Self.statusBody)
        var served = 0
        let end = Date().addingTimeInterval(readTimeout * 2)
        while Date() < end {
            let c = try await RawHTTPClient.connect(port: server.port)
            try await c.send(status)
            let r = try await c.readResponse(timeout: readTimeout)
            #expect(r.status == 200)
            served += 1
            await c.close()
            try await Task.sleep(for: .milliseconds(200))
        }
        let cutOff = await attack.value
        #expect(served > 0)
        #expect(attackers.opened == 300)
        // Every attacker was cut off at the head deadline, well before the attack ended.
        #expect(cutOff == attackers.opened, "\(cutOff) of \(attackers.opened) slowloris connections were closed by the server")
    }

    @Test("clients that vanish mid-body leak no descriptors or threads")
    func vanishMidBody() async throws {
        let server = try await ServerProcess()
        defer { server.stop() }
        let head = "POST /create HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(server.token)\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"pod\":"
        // One round first, so lazily started runtime threads are in the baseline.
        try await vanish(server, head, count: 5)
        let fds = await server.settle({ server.openFDs }, atMost: 0, seconds: 1)
        let threads = await server.settle({ server.threads }, atMost: 0, seconds: 1)
        try await vanish(server, head, count: Int(100 * Self.scale))
        let fdsAfter = await server.settle({ server.openFDs }, atMost: fds)
        let threadsAfter = await server.settle({ server.threads }, atMost: threads)
        #expect(fdsAfter <= fds, "descriptors: \(fds) before, \(fdsAfter) after")
        #expect(threadsAfter <= threads, "threads: \(threads) before, \(threadsAfter) after")
        #expect(try await RawHTTPClient.exchange(port: server.port, server.vkRequest("GET", "/status", body: "[]")).status == 200)
    }

    @Test("clients that vanish mid-Follow log stream leak no descriptors or threads")
    func vanishMidFollow() async throws {
        let server = try await ServerProcess(extraConfig: "MockRunSeconds: 600")
        defer { server.stop() }
        let uid = "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"
        let create = String(decoding: try Fixture.data("vk-create.json"), as: UTF8.self)
            .replacingOccurrences(of: "\"interlink.mock/run-seconds\":\"1\"", with: "\"interlink.mock/run-seconds\":\"600\"")
        #expect(try await RawHTTPClient.exchange(port: server.port, server.vkRequest("POST", "/create", body: create)).status == 200)
        let follow = server.vkRequest("GET", "/getLogs", body:
            "{\"Namespace\":\"default\",\"PodUID\":\"\(uid)\",\"PodName\":\"test-pod-7c9d\",\"ContainerName\":\"main\",\"Opts\":{\"Follow\":true}}")
        // The container must be running before its log can be followed.
        var streaming = false
        for _ in 0..<100 where !streaming {
            let c = try await RawHTTPClient.connect(port: server.port)
            try await c.send(follow)
            if let r = try? await c.readHead(timeout: 5), r == 200 { streaming = true }
            await c.abort()
            if !streaming { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(streaming, "the follow never started: \(server.log().suffix(2000))")
        try await followAndVanish(server, follow, count: 3)
        let fds = await server.settle({ server.openFDs }, atMost: 0, seconds: 1)
        let threads = await server.settle({ server.threads }, atMost: 0, seconds: 1)
        try await followAndVanish(server, follow, count: Int(30 * Self.scale))
        let fdsAfter = await server.settle({ server.openFDs }, atMost: fds)
        let threadsAfter = await server.settle({ server.threads }, atMost: threads)
        #expect(fdsAfter <= fds, "descriptors: \(fds) before, \(fdsAfter) after")
        #expect(threadsAfter <= threads, "threads: \(threads) before, \(threadsAfter) after")
    }

    private func vanish(_ server: ServerProcess, _ head: String, count: Int) async throws {
        var clients: [RawHTTPClient] = []
        for _ in 0..<count {
            let c = try await RawHTTPClient.connect(port: server.port)
            try await c.send(head)
            clients.append(c)
        }
        try await Task.sleep(for: .milliseconds(200))
        for c in clients { await c.abort() }
    }

    private func followAndVanish(_ server: ServerProcess, _ follow: String, count: Int) async throws {
        var clients: [RawHTTPClient] = []
        for _ in 0..<count {
            let c = try await RawHTTPClient.connect(port: server.port)
            try await c.send(follow)
            #expect(try await c.readHead(timeout: 10) == 200)
            clients.append(c)
        }
        for c in clients { await c.abort() }
    }
}

/// Connections that each send a request head one byte at a time and never finish it.
final class Slowloris: @unchecked Sendable {  // fds are touched only by run()
    let port: Int
    private var fds: [Int32] = []
    private(set) var opened = 0

    init(port: Int, connections: Int) {
        self.port = port
        for _ in 0..<connections {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc == 0 { fds.append(fd) } else { close(fd) }
        }
        opened = fds.count
    }

    /// Sends one byte per connection every 50 ms for `seconds`; returns how many the server closed.
    func run(seconds: Double) -> Int {
        let head = Array("GET /status HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8)
        var sent = [Int](repeating: 0, count: fds.count)
        var closed = [Bool](repeating: false, count: fds.count)
        let end = Date().addingTimeInterval(seconds)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while Date() < end {
            for (i, fd) in fds.enumerated() where !closed[i] {
                var byte = sent[i] < head.count ? head[sent[i]] : UInt8(ascii: "a")
                if Glibc.send(fd, &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) == 1 { sent[i] += 1 }
                // The server's answer (408) or its close ends this attacker.
                let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { closed[i] = true }
            }
            usleep(50_000)
        }
        for fd in fds { close(fd) }
        return closed.filter { $0 }.count
    }
}

extension RawHTTPClient {
    /// Closes with a TCP reset (SO_LINGER 0): the client vanishes without a goodbye.
    func abort() async {
        await withRawFD { fd in
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        }
        await close()
    }

    /// Reads up to the end of a response head; returns its status.
    func readHead(timeout: Double) async throws -> Int {
        try await readStatusLine(timeout: timeout)
    }
}
