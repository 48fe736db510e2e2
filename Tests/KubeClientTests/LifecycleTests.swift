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

    func writeConfig(_ extra: String = "") throws -> String {
        let path = dir + "/InterLinkConfig.yaml"
        try """
        InterlinkAddress: unix://\(socket)
        DataRootFolder: \(dir)/data
        Provider: mock
        MockRunSeconds: 600
        ReconcileIntervalSeconds: 0.5
        InstanceName: lc-\(UUID().uuidString.lowercased().prefix(8))
        \(extra)
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

    @Test func serveWithPatchStatusWritesPodStatusToTheAPIServer() async throws {
        let api = try await ContractServer.start(); defer { api.stop() }
        let uid = UUID().uuidString.lowercased()
        try await api.seed([["metadata": ["name": "e2e", "namespace": "lifecycle", "uid": uid],
                             "spec": ["nodeName": "vk", "restartPolicy": "Never", "containers": [["name": "c", "image": "busybox"]]],
                             "status": ["phase": "Pending"]]])
        try "token-1".write(toFile: dir + "/kube-token", atomically: true, encoding: .utf8)
        let config = try writeConfig("""
        Kubernetes:
          PatchStatus: true
          Server: \(api.url)
          TokenFile: \(dir)/kube-token
          CAFile: \(api.pki.caFile)
        """)
        let server = try await start(config)
        defer { kill(server.processIdentifier, SIGKILL) }
        let pod = Pod(metadata: ObjectMeta(name: "e2e", namespace: "lifecycle", uid: uid,
                                           annotations: ["interlink.mock/run-seconds": "1"]),
                      spec: PodSpec(containers: [Container(name: "c", image: "busybox")], restartPolicy: "Never"))
        #expect(try await send("POST", "/create", try WireJSON.encode(PodCreateRequests(pod: pod))).status == 200)
        var phase = ""
        for _ in 0..<100 {
            let pods = try await api.pods()
            phase = ((pods.first?["status"] as? [String: Any])?["phase"] as? String) ?? ""
            if phase == "Succeeded" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(phase == "Succeeded")
        let metrics = String(decoding: try await send("GET", "/metrics", nil).body, as: UTF8.self)
        #expect(metrics.contains("interlink_status_patches_total{result=\"sent\"}"))
        kill(server.processIdentifier, SIGTERM)
        #expect(await exitCode(server, within: 40) == 0)
    }

    @Test func patchStatusWithoutAConnectionIsOneLineAndExit2() async throws {
        let config = try writeConfig("Kubernetes:\n  PatchStatus: true\n  Kubeconfig: \(dir)/missing-kubeconfig\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary!)
        p.arguments = ["serve", "--config", config]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 2)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("interlink:") }
        #expect(lines.count == 1 && lines[0].contains("missing-kubeconfig"), "\(text)")
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
