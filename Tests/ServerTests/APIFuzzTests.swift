import Foundation
import Model
@testable import Server
import Testing

/// Mutated VK requests thrown at every route: the API answers each with a
/// 2xx or 4xx and a JSON error, never a 5xx, and never crashes.
@Suite("API fuzzing with mutated VK requests")
struct APIFuzzTests {
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
    }

    @Test func mutatedBodiesNeverCauseA5xx() async throws {
        let api = InterLinkAPI(core: FakeCore(knownUIDs: ["0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"]), auth: nil)
        let cases: [(String, String, String)] = [("POST", "/create", "vk-create.json"), ("GET", "/status", "vk-status.json"),
                                                  ("DELETE", "/delete", "vk-delete.json"), ("GET", "/getLogs", "vk-getlogs.json"),
                                                  ("POST", "/updateCache", "vk-delete.json")]
        var rng = RNG(state: 0x5eed)
        let tokens: [[UInt8]] = ["null", "{}", "[]", "\"\"", "-1", "1e999", "\"\\u0000\"", "true", "{\"a\":", "]"].map { Array($0.utf8) }
        var seen: [Int: Int] = [:]
        for i in 0..<3000 {
            let (method, path, name) = cases[i % cases.count]
            var bytes = Array(try Fixture.data(name))
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: tokens.randomElement(using: &rng)!, at: at)
                default: bytes = Array(bytes[..<at])
                }
                if bytes.isEmpty { bytes = [0x7b] }
            }
            let r = await api.handle(vkRequest(method, path, body: Data(bytes)))
            seen[r.status, default: 0] += 1
            #expect(r.status < 500, "\(method) \(path) answered \(r.status) for \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            if r.status >= 400 { #expect(errorMessage(r)?.isEmpty == false) }
        }
        #expect((seen[400] ?? 0) > 100, "mutations should mostly be rejected: \(seen)")
    }
}
