import Foundation
import HTTPClient
import Providers
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let env = ProcessInfo.processInfo.environment
private let binary = env["INTERLINK_TEST_BINARY"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
private let dockerHost = env["INTERLINK_TEST_DOCKER_HOST"]
private let image = env["INTERLINK_TEST_IMAGE"] ?? "interlink-test/busybox:latest"
private let slurmConf = env["INTERLINK_TEST_SLURM_CONF"]

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A real `interlink vk` process.
final class VKProcess: @unchecked Sendable {
    let process = Process()
    let kubeletPort: Int
    let dir: String

    init(server: ContractServer, dir: String, node: String, instance: String, provider: String, leader: Bool, extra: String = "",
         environment: [String: String] = [:]) throws {
        self.dir = dir
        kubeletPort = freePort()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = dir + "/InterLinkConfig.yaml"
        try """
        InterlinkAddress: unix://\(dir)/il.sock
        DataRootFolder: \(dir)/data
        Provider: \(provider)
        MockRunSeconds: 600
        ReconcileIntervalSeconds: 0.5
        InstanceName: \(instance)
        \(dockerHost.map { "DockerHost: \($0)" } ?? "")
        Kubernetes:
          Server: \(server.url)
          TokenFile: \(server.tokenFile)
          CAFile: \(server.pki.caFile)
          QPS: 50
          Burst: 100
        VirtualKubelet:
          NodeName: \(node)
          InternalIP: 127.0.0.1
          KubeletListenAddress: 127.0.0.1
          KubeletPort: \(kubeletPort)
          KubeletCertFile: \(server.pki.serverCert)
          KubeletKeyFile: \(server.pki.serverKey)
          KubeletCAFile: \(server.pki.caFile)
          LeaderElection: \(leader)
          LeaderElectionNamespace: vk
          LeaseDuration: 4
          RenewDeadline: 3
          RetryPeriod: 0.5
          PingIntervalSeconds: 1
        \(extra)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: binary!)
        process.arguments = ["vk", "--config", config]
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        FileManager.default.createFile(atPath: dir + "/log", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/log"))
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "" }
    func kill9() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    func terminate() { process.terminate(); process.waitUntilExit() }
}

@Suite(.enabled(if: binary != nil && opensslAvailable, "set INTERLINK_TEST_BINARY"), .serialized)
struct VKBinaryTests {
    let http = HTTPClient()

    /// `interlink vk` with mTLS on the kubelet port: a pod created in the API
    /// server runs to Succeeded; logs need a client certificate from the CA.
    @Test func vkCommandRunsAPodAndServesLogsOnMutualTLS() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try VKProcess(server: s, dir: dir + "/a", node: "vk-bin", instance: "vkb-\(UUID().uuidString.lowercased().prefix(8))",
                               provider: "mock", leader: false)
        defer { vk.terminate() }
        var p = podObject("bin-pod", node: "vk-bin", runSeconds: 1)
        p["metadata"] = (p["metadata"] as! [String: Any]).merging(["annotations": ["interlink.mock/run-seconds": "1"]]) { $1 }
        try await s.seed([p])
        try await eventually("succeeded", timeout: 30) { try await s.pod("bin-pod")?[path: "status.phase"] as? String == "Succeeded" }
        #expect(try await s.nodes().first?[path: "status.daemonEndpoints.kubeletEndpoint.Port"] as? Int == vk.kubeletPort)
        let url = "https://127.0.0.1:\(vk.kubeletPort)/containerLogs/vk/bin-pod/main?tailLines=1"
        let withCert = try await http.send(HTTPClientRequest(url: url, caFile: s.pki.caFile, clientCert: s.pki.clientCert, clientKey: s.pki.clientKey))
        #expect(withCert.status == 200)
        #expect(String(decoding: withCert.body, as: UTF8.self) == "exiting with code 0\n")
        // Without a client certificate the handshake is refused.
        await #expect(throws: (any Error).self) { _ = try await http.send(HTTPClientRequest(url: url, caFile: s.pki.caFile)) }
        // The REST API keeps serving (ctl, an upstream VK).
        let ping = try await http.send(HTTPClientRequest(method: "POST", url: "http://localhost/pinglink", unixSocketPath: dir + "/a/il.sock"))
        #expect(ping.status == 200)
        // Delete through the API server finishes.
        _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/bin-pod", ["gracePeriodSeconds": 30])
        try await eventually("deleted", timeout: 30) { try await s.pod("bin-pod") == nil }
    }

    /// Two replicas on real Docker: SIGKILL of the leader hands over within
    /// the lease duration, and the running pod stays running exactly once.
    @Test(.enabled(if: dockerHost != nil, "needs the test dockerd"))
    func twoReplicasSIGKILLOfTheLeaderHandsOverAndThePodKeepsRunningOnce() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let instance = "vkha-\(UUID().uuidString.lowercased().prefix(8))"
        let a = try VKProcess(server: s, dir: dir + "/a", node: "vk-ha", instance: instance, provider: "docker", leader: true)
        defer { a.terminate() }
        try await eventually("a leads", timeout: 20) { a.log.contains("became leader") }
        let b = try VKProcess(server: s, dir: dir + "/b", node: "vk-ha", instance: instance, provider: "docker", leader: true)
        defer { b.terminate() }
        try await eventually("b stands by", timeout: 20) { b.log.contains("standing by") }
        let p = podObject("ha-pod", node: "vk-ha", containers: [["name": "main", "image": image, "command": ["/bin/sh", "-c"], "args": ["echo up; sleep 300"]]])
        try await s.seed([p])
        try await eventually("running", timeout: 60) { try await s.pod("ha-pod")?[path: "status.phase"] as? String == "Running" }
        let uid = try #require(try await s.pod("ha-pod")?[path: "metadata.uid"] as? String)
        func containers() async throws -> [String] {
            let r = try await ProcessRunner.run("docker", ["-H", dockerHost!, "ps", "-q", "--filter", "label=interlink.pod-uid=\(uid)"], timeout: 30)
            return r.stdoutText.split(separator: "\n").map(String.init)
        }
        let before = try await containers()
        #expect(before.count == 1)
        a.kill9()
        let killed = Date()
        try await eventually("b leads", timeout: 20) { b.log.contains("became leader") }
        #expect(Date().timeIntervalSince(killed) <= 4 + 3)  // lease duration, plus slack for a loaded machine
        try await Task.sleep(for: .seconds(4))  // b's reconcile ticks have run
        #expect(try await containers() == before)  // adopted: same container, no duplicate, not cancelled
        // b took over that very container as the pod's job (by the event path's idempotent
        // create or the resync's adoption, whichever came first).
        #expect(b.log.contains(before[0]), "the new leader's log names container \(before[0]) as the pod's job")
        #expect(!b.log.contains("cancelled backend job"))
        #expect(try await s.pod("ha-pod")?[path: "status.phase"] as? String == "Running")
        // Clean up: delete through the API server; the new leader stops it.
        _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/ha-pod", ["gracePeriodSeconds": 1])
        try await eventually("deleted", timeout: 60) { try await s.pod("ha-pod") == nil }
        #expect(try await containers().isEmpty)
    }

    /// On the real Slurm: pods from the API server run as jobs, reach
    /// Succeeded/Failed with their exit codes, and their logs come from the
    /// kubelet endpoint.
    @Test(.enabled(if: slurmConf != nil, "needs the test Slurm"))
    func slurmPodsFromTheAPIServerFinishWithExitCodesAndLogs() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try VKProcess(server: s, dir: dir + "/a", node: "vk-slurm", instance: "vks-\(UUID().uuidString.lowercased().prefix(8))",
                               provider: "slurm", leader: false, extra: "ContainerRuntime: none",
                               environment: ["SLURM_CONF": slurmConf!])
        defer { vk.terminate() }
        let sh: (String, String) -> [[String: Any]] = { name, script in [["name": name, "image": "none", "command": ["/bin/sh", "-c"], "args": [script]]] }
        try await s.seed([podObject("s-ok", node: "vk-slurm", containers: sh("main", "echo hello from slurm")),
                          podObject("s-bad", node: "vk-slurm", containers: sh("main", "echo failing; exit 3"))])
        try await eventually("s-ok succeeded", timeout: 120) { try await s.pod("s-ok")?[path: "status.phase"] as? String == "Succeeded" }
        try await eventually("s-bad failed", timeout: 120) { try await s.pod("s-bad")?[path: "status.phase"] as? String == "Failed" }
        #expect(try await s.pod("s-bad")?[path: "status.containerStatuses.0.state.terminated.exitCode"] as? Int == 3)
        let url = "https://127.0.0.1:\(vk.kubeletPort)/containerLogs/vk/s-ok/main"
        let r = try await http.send(HTTPClientRequest(url: url, caFile: s.pki.caFile, clientCert: s.pki.clientCert, clientKey: s.pki.clientKey))
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self).contains("hello from slurm"), "\(vk.log.suffix(3000))")
    }

    /// On the real Docker: the same, with the test image.
    @Test(.enabled(if: dockerHost != nil, "needs the test dockerd"))
    func dockerPodsFromTheAPIServerFinishWithExitCodesAndLogs() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try VKProcess(server: s, dir: dir + "/a", node: "vk-docker", instance: "vkd-\(UUID().uuidString.lowercased().prefix(8))",
                               provider: "docker", leader: false)
        defer { vk.terminate() }
        let sh: (String, String) -> [[String: Any]] = { name, script in [["name": name, "image": image, "command": ["/bin/sh", "-c"], "args": [script]]] }
        try await s.seed([podObject("d-ok", node: "vk-docker", containers: sh("main", "echo hello from docker")),
                          podObject("d-bad", node: "vk-docker", containers: sh("main", "echo failing; exit 3"))])
        try await eventually("d-ok succeeded", timeout: 120) { try await s.pod("d-ok")?[path: "status.phase"] as? String == "Succeeded" }
        try await eventually("d-bad failed", timeout: 120) { try await s.pod("d-bad")?[path: "status.phase"] as? String == "Failed" }
        #expect(try await s.pod("d-bad")?[path: "status.containerStatuses.0.state.terminated.exitCode"] as? Int == 3)
        let url = "https://127.0.0.1:\(vk.kubeletPort)/containerLogs/vk/d-ok/main?timestamps=true"
        let r = try await http.send(HTTPClientRequest(url: url, caFile: s.pki.caFile, clientCert: s.pki.clientCert, clientKey: s.pki.clientKey))
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self).contains("hello from docker"), "\(vk.log.suffix(3000))")
        for name in ["d-ok", "d-bad"] { _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/\(name)", ["gracePeriodSeconds": 1]) }
        try await eventually("deleted", timeout: 60) { try await s.pods().isEmpty }
    }
}
