import Foundation
import HTTPClient
import Model
import Synchronization
import Testing

private let binary = ProcessInfo.processInfo.environment["INTERLINK_TEST_BINARY"]

/// `interlink serve`'s service group: SIGTERM while creates pour in stops
/// intake, lets the requests in flight finish, exits 0, and every pod that got
/// a 200 is there after a restart.
@Suite(.enabled(if: binary != nil, "set INTERLINK_TEST_BINARY to the built interlink executable"))
struct LifecycleTests {
    let dir = makeTempDir()
    var socket: String { dir + "/il.sock" }
    let http = HTTPClient()

    func writeConfig() throws -> String {
        let path = dir + "/InterLinkConfig.yaml"
        try """
        InterlinkAddress: unix://\(socket)
        DataRootFolder: \(dir)/data
        Provider: mock
        MockRunSeconds: 600
        ReconcileIntervalSeconds: 0.5
        InstanceName: lc-\(UUID().uuidString.lowercased().prefix(8))
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func start(_ config: String) async throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary!)
        p.arguments = ["serve", "--config", config]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: { FileManager.default.createFile(atPath: dir + "/log", contents: nil); return dir + "/log" }()))
        try p.run()
        for _ in 0..<200 {
            if let r = try? await send("GET", "/readyz", nil), r.status == 200 { return p }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestServer.TestServerError(message: "interlink did not become ready")
    }

    func send(_ method: String, _ path: String, _ body: Data?) async throws -> HTTPClientResponse {
        try await http.send(HTTPClientRequest(method: method, url: "http://localhost" + path,
                                              headers: [("Content-Type", "application/json")], body: body,
                                              timeoutSeconds: 20, unixSocketPath: socket))
    }

    /// Waits for the process to end by itself; nil if it is still running after `seconds`.
    func exitCode(_ p: Process, within seconds: Double) async -> Int32? {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while p.isRunning && ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(50)) }
        if p.isRunning { p.terminate(); kill(p.processIdentifier, SIGKILL); return nil }
        return p.terminationStatus
    }

    @Test func sighupReloadsTheLogLevelAndKeepsServing() async throws {
        let config = try writeConfig()
        let server = try await start(config)
        defer { kill(server.processIdentifier, SIGKILL) }
        try (String(contentsOfFile: config, encoding: .utf8) + "\nVerboseLogging: true\n").write(toFile: config, atomically: true, encoding: .utf8)
        kill(server.processIdentifier, SIGHUP)
        var log = ""
        for _ in 0..<50 {
            log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
            if log.contains("configuration reloaded") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(log.contains("configuration reloaded"))
        #expect(server.isRunning)
        #expect(try await send("GET", "/healthz", nil).status == 200)
        try await Task.sleep(for: .milliseconds(1500))  // a tick or two, now logged at debug
        log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
        #expect(log.contains("\"level\":\"debug\""), "the reload must switch to debug logging: \(log.suffix(500))")
        kill(server.processIdentifier, SIGTERM)
        #expect(await exitCode(server, within: 40) == 0)
    }

    static func pod(_ i: Int) -> Pod {
        Pod(metadata: ObjectMeta(name: "burst-\(i)", namespace: "lifecycle", uid: UUID().uuidString.lowercased()),
            spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))
    }

    @Test func sigtermDuringACreateBurstExitsZeroAndKeepsAcknowledgedPods() async throws {
        let config = try writeConfig()
        let server = try await start(config)
        let pods = (0..<60).map(Self.pod)
        let acknowledged = Acknowledged()
        let pid = server.processIdentifier
        let socket = self.socket, http = self.http
        await withTaskGroup(of: Void.self) { group in
            for pod in pods {
                group.addTask {
                    guard let body = try? WireJSON.encode(PodCreateRequests(pod: pod)),
                          let r = try? await http.send(HTTPClientRequest(method: "POST", url: "http://localhost/create", body: body,
                                                                         timeoutSeconds: 20, unixSocketPath: socket)),
                          r.status == 200 else { return }
                    let n = acknowledged.add(pod)
                    if n == 10 { kill(pid, SIGTERM) }  // mid-burst: the rest are in flight or not yet sent
                }
            }
        }
        let code = await exitCode(server, within: 40)
        #expect(code == 0, "interlink must exit 0 by itself after SIGTERM; log: \((try? String(contentsOfFile: dir + "/log", encoding: .utf8))?.suffix(2000) ?? "")")
        let log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
        #expect(!log.contains("grace period over"), "in-flight work must finish within the grace period, not be cut")
        let acked = acknowledged.pods
        #expect(acked.count >= 10)

        let again = try await start(config)
        defer { kill(again.processIdentifier, SIGKILL) }
        let answer = try await send("POST", "/status", try WireJSON.encode(acked))
        let statuses = try JSONDecoder().decode([PodStatus].self, from: answer.body)
        let missing = zip(acked, statuses).filter { $0.1.containers.isEmpty }.map { $0.0.name }
        #expect(missing.isEmpty, "acknowledged pods lost across the restart: \(missing)")
        kill(again.processIdentifier, SIGTERM)
        #expect(await exitCode(again, within: 40) == 0)
        let log2 = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
        #expect(!log2.contains("grace period over"), "an idle server stops at once")
    }
}

final class Acknowledged: Sendable {
    private let list = Mutex<[Pod]>([])
    func add(_ p: Pod) -> Int { list.withLock { $0.append(p); return $0.count } }
    var pods: [Pod] { list.withLock { $0 } }
}
