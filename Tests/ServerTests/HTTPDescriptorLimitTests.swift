import Foundation
@testable import Server
import Testing

/// The descriptor budget: the cap derived from RLIMIT_NOFILE, and the real
/// binary under a tiny limit surviving a flood that runs accept() out of
/// descriptors (EMFILE is transient: backed off and retried, never fatal).
@Suite("HTTP descriptor limit", .timeLimit(.minutes(2)))
struct HTTPDescriptorLimitTests {
    @Test("the connection cap leaves a quarter of the descriptors and the server's own reserve free")
    func capFromLimit() {
        #expect(DescriptorLimit.connectionCap(configured: 1024, descriptors: 1_048_576) == 1024)
        #expect(DescriptorLimit.connectionCap(configured: 1_000_000, descriptors: 20_000) == 20_000 - 5_000 - 64)
        #expect(DescriptorLimit.connectionCap(configured: 1024, descriptors: 40) == 1)
    }

    static var binary: String? {
        ProcessInfo.processInfo.environment["INTERLINK_TEST_BINARY"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
    }

    @Test("the real binary with 40 descriptors survives a 300-connection flood and then serves the VK",
          .enabled(if: binary != nil, "INTERLINK_TEST_BINARY is not set"))
    func floodUnderATinyDescriptorLimit() async throws {
        let dir = TestHTTPServer.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try await Self.freePort()
        try "tok3n\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try """
        InterlinkAddress: http://127.0.0.1
        InterlinkPort: \(port)
        DataRootFolder: \(dir)/data
        Provider: mock
        VKTokenFile: \(dir)/token
        InstanceName: fd-\(UUID().uuidString.lowercased().prefix(8))
        """.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        let log = dir + "/log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Soft and hard limit both 40: raising to the hard limit cannot escape it.
        p.arguments = ["-c", "ulimit -n 40 && exec \"$0\" serve --config \"$1\"", Self.binary!, dir + "/config.yaml"]
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }

        var ready = false
        for _ in 0..<200 where !ready {
            if let r = try? await RawHTTPClient.exchange(port: port, rawRequest("GET", "/readyz")), r.status == 200 { ready = true }
            else { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "interlink did not become ready: \(String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self))")
        guard ready else { return }

        var flood: [RawHTTPClient] = []
        for _ in 0..<300 {
            guard let c = try? await RawHTTPClient.connect(port: port) else { continue }
            try? await c.send("POST /create HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n")
            flood.append(c)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(p.isRunning, "interlink exited under the flood")
        for c in flood { await c.close() }

        // Once the flood is gone the VK is served again (the server notices closes asynchronously).
        let status = rawRequest("GET", "/status", body: "[]", headers: ["Authorization: Bearer tok3n", "Content-Type: application/json"])
        var answer = 0
        for _ in 0..<100 where answer != 200 {
            answer = (try? await RawHTTPClient.exchange(port: port, status))?.status ?? 0
            if answer != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer == 200)
        #expect(p.isRunning)
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(text.contains("MaxConnections lowered to fit the descriptor limit"))
        #expect(text.contains("accept is out of resources, backing off"), "the flood never ran accept() out of descriptors")
    }

    static func freePort() async throws -> Int {
        try await TestHTTPServer.with { server, port in port }
    }
}
