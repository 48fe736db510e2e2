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

    @Test("the real binary with 40 descriptors survives a 300-connection flood and then serves the VK",
          .enabled(if: ServerProcess.binary != nil, "INTERLINK_TEST_BINARY is not set"))
    func floodUnderATinyDescriptorLimit() async throws {
        // Soft and hard limit both 40: raising to the hard limit cannot escape it.
        let server = try await ServerProcess(ulimitFiles: 40)
        defer { server.stop() }
        let port = server.port

        var flood: [RawHTTPClient] = []
        for _ in 0..<300 {
            guard let c = try? await RawHTTPClient.connect(port: port) else { continue }
            // A wrong token gets 401 before the body, then a lingering close that holds the
            // descriptor outside the cap: with 40 descriptors, accept() runs out.
            try? await c.send("POST /create HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong\r\nContent-Length: 5000\r\n\r\n")
            flood.append(c)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.process.isRunning, "interlink exited under the flood")
        for c in flood { await c.close() }

        // Once the flood is gone the VK is served again (the server notices closes asynchronously).
        let status = server.vkRequest("GET", "/status", body: "[]")
        var answer = 0
        for _ in 0..<100 where answer != 200 {
            answer = (try? await RawHTTPClient.exchange(port: port, status))?.status ?? 0
            if answer != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer == 200)
        #expect(server.process.isRunning)
        let text = server.log()
        #expect(text.contains("MaxConnections lowered to fit the descriptor limit"))
        #expect(text.contains("accept is out of resources, backing off"), "the flood never ran accept() out of descriptors")
    }
}
