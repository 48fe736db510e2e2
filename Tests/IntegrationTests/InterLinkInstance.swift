import Foundation
import Model
import Providers
import Testing

/// Environment the test scripts export (see scripts/test.sh).
enum TestEnv {
    static let env = ProcessInfo.processInfo.environment
    static var binary: String? { env["INTERLINK_TEST_BINARY"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil } }
    static var dockerHost: String? { env["INTERLINK_TEST_DOCKER_HOST"] }
    static var image: String { env["INTERLINK_TEST_IMAGE"] ?? "interlink-test/busybox:latest" }
    static var slurmConf: String? { env["INTERLINK_TEST_SLURM_CONF"] }
    static var hasBinary: Bool { binary != nil }
    static var hasDocker: Bool { binary != nil && dockerHost != nil }
    static var hasSlurm: Bool { binary != nil && slurmConf != nil }
}

struct HTTPAnswer {
    var status: Int
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum InstanceError: Error, CustomStringConvertible {
    case notReady(String)
    case timeout(String)
    var description: String {
        switch self { case .notReady(let s), .timeout(let s): return s }
    }
}

/// A real `interlink serve` process on a free port with its own data root,
/// driven over HTTP with curl (the reference client).
final class InterLinkInstance: @unchecked Sendable {
    let dir: URL
    let port: Int
    let configPath: String
    let token = "integration-token-\(UUID().uuidString)"
    var process: BackgroundProcess?
    var environment: [String: String]

    init(provider: String, extraConfig: String = "", environment: [String: String] = [:]) throws {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("il-int-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        port = InterLinkInstance.freePort()
        let tokenPath = dir.appendingPathComponent("token").path
        try token.write(toFile: tokenPath, atomically: true, encoding: .utf8)
        configPath = dir.appendingPathComponent("InterLinkConfig.yaml").path
        let config = """
        InterlinkAddress: http://127.0.0.1
        InterlinkPort: \(port)
        DataRootFolder: \(dir.appendingPathComponent("data").path)
        Provider: \(provider)
        VKTokenFile: \(tokenPath)
        ReconcileIntervalSeconds: 0.5
        InstanceName: it-\(UUID().uuidString.lowercased().prefix(8))
        VerboseLogging: true
        \(extraConfig)
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        self.environment = env
    }

    var dataRoot: String { dir.appendingPathComponent("data").path }
    var logPath: String { dir.appendingPathComponent("interlink.log").path }

    func start() async throws {
        guard let binary = TestEnv.binary else { throw InstanceError.notReady("INTERLINK_TEST_BINARY not set") }
        process = try BackgroundProcess(binary, ["serve", "--config", configPath], environment: environment, logPath: logPath)
        for _ in 0..<200 {
            if let a = try? await request("GET", "/readyz", body: nil, timeout: 2), a.status == 200 { return }
            if let p = process, await p.wait(timeout: 0) != nil {
                throw InstanceError.notReady("interlink exited at start:\n\(p.log().suffix(3000))")
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        throw InstanceError.notReady("interlink did not become ready:\n\(process?.log().suffix(3000) ?? "")")
    }

    /// SIGTERM and wait; returns the exit code.
    @discardableResult
    func stop() async -> Int32? {
        guard let p = process else { return nil }
        p.kill(SIGTERM)
        let code = await p.wait(timeout: 60)
        if code == nil { p.kill(SIGKILL); _ = await p.wait(timeout: 10) }
        process = nil
        return code
    }

    func kill9() async {
        guard let p = process else { return }
        p.kill(SIGKILL)
        _ = await p.wait(timeout: 10)
        process = nil
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func request(_ method: String, _ path: String, body: Data?, timeout: Double = 30) async throws -> HTTPAnswer {
        var args = ["-sS", "-X", method, "--max-time", String(Int(timeout)), "-o", "-", "-w", "\n%{http_code}",
                    "-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(token)",
                    "-H", "InterLink-Http-Session: Test#1"]
        if body != nil { args += ["--data-binary", "@-"] }
        args.append("http://127.0.0.1:\(port)\(path)")
        let r = try await ProcessRunner.run("curl", args, stdin: body, timeout: timeout + 5)
        guard r.exitCode == 0, let nl = r.stdout.lastIndex(of: 0x0a) else {
            throw InstanceError.notReady("curl \(method) \(path) failed: \(r.stderrText)")
        }
        let status = Int(String(decoding: r.stdout[(nl + 1)...], as: UTF8.self)) ?? 0
        return HTTPAnswer(status: status, body: Data(r.stdout[..<nl]))
    }

    // MARK: The interLink API

    func create(_ req: PodCreateRequests) async throws -> HTTPAnswer {
        try await request("POST", "/create", body: try JSONEncoder().encode(req))
    }

    func delete(_ pod: Pod) async throws -> HTTPAnswer {
        try await request("DELETE", "/delete", body: try JSONEncoder().encode(pod))
    }

    func status(_ pod: Pod) async throws -> PodStatus {
        let a = try await request("GET", "/status", body: try JSONEncoder().encode([pod]))
        guard a.status == 200 else { throw InstanceError.notReady("/status answered \(a.status): \(a.text)") }
        return try JSONDecoder().decode([PodStatus].self, from: a.body)[0]
    }

    func logs(_ pod: Pod, container: String, opts: LogOpts = LogOpts()) async throws -> HTTPAnswer {
        let req = LogStruct(Namespace: pod.namespace, PodUID: pod.uid, PodName: pod.name, ContainerName: container, Opts: opts)
        return try await request("GET", "/getLogs", body: try JSONEncoder().encode(req))
    }

    /// Polls /status until `done` holds; returns every distinct phase seen on the way.
    @discardableResult
    func waitForStatus(_ pod: Pod, timeout: Double = 60, _ done: (PodStatus) -> Bool) async throws -> (PodStatus, [PodPhase]) {
        let deadline = Date().addingTimeInterval(timeout)
        var phases: [PodPhase] = []
        var last: PodStatus?
        while Date() < deadline {
            let s = try await status(pod)
            last = s
            let phase = PodPhase.derive(from: s.containers)
            if phases.last != phase { phases.append(phase) }
            if done(s) { return (s, phases) }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        throw InstanceError.timeout("pod \(pod.name) did not reach the expected state in \(timeout)s; last: \(String(describing: last)); phases \(phases)\nlog tail:\n\(log().suffix(4000))")
    }

    func cleanup() { try? FileManager.default.removeItem(at: dir) }

    /// Starts an instance, runs `body`, and always stops and removes it again.
    static func with(provider: String, extraConfig: String = "", environment: [String: String] = [:],
                     _ body: (InterLinkInstance) async throws -> Void) async throws {
        let il = try InterLinkInstance(provider: provider, extraConfig: extraConfig, environment: environment)
        do {
            try await il.start()
            try await body(il)
        } catch {
            await il.stop()
            if ProcessInfo.processInfo.environment["INTERLINK_KEEP_TEST_DIRS"] == nil { il.cleanup() }
            throw error
        }
        await il.stop()
        il.cleanup()
    }

    static func freePort() -> Int {
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
}

/// Pod builders for the tests.
enum Pods {
    static func make(_ name: String, namespace: String = "default", containers: [Container], initContainers: [Container]? = nil,
                     volumes: [Volume]? = nil, restartPolicy: String = "Never", annotations: [String: String]? = nil) -> Pod {
        var spec = PodSpec(containers: containers, initContainers: initContainers, volumes: volumes, restartPolicy: restartPolicy)
        spec.terminationGracePeriodSeconds = 2
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace, uid: UUID().uuidString.lowercased(),
                                        annotations: annotations), spec: spec)
    }

    /// A pod reading a ConfigMap and a Secret as files and as env; it prints
    /// `configMapAndSecretOutput` when both arrived right.
    static func withConfigMapAndSecret() -> (Pod, ConfigMap, Secret) {
        var main = shell("main", "cat /cfg/greeting; cat /sec/password; echo; echo \"$FROM_CM|$FROM_SECRET\"")
        main.volumeMounts = [VolumeMount(name: "cfg", mountPath: "/cfg"), VolumeMount(name: "sec", mountPath: "/sec")]
        main.env = [EnvVar(name: "FROM_CM", valueFrom: EnvVarSource(configMapKeyRef: KeySelector(name: "app", key: "greeting"))),
                    EnvVar(name: "FROM_SECRET", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "creds", key: "password")))]
        let pod = make("cm-secret", containers: [main], volumes: [
            Volume(name: "cfg", configMap: ConfigMapVolumeSource(name: "app")),
            Volume(name: "sec", secret: SecretVolumeSource(secretName: "creds")),
        ])
        let cm = ConfigMap(metadata: ObjectMeta(name: "app", namespace: "default"), data: ["greeting": "hello\n"])
        let secret = Secret(metadata: ObjectMeta(name: "creds", namespace: "default"), data: ["password": Data("s3cr3t".utf8).base64EncodedString()])
        return (pod, cm, secret)
    }
    static let configMapAndSecretOutput = "hello\ns3cr3t\nhello\n|s3cr3t\n"

    static func shell(_ name: String, _ script: String, image: String = TestEnv.image) -> Container {
        Container(name: name, image: image, command: ["/bin/sh", "-c"], args: [script])
    }
}

extension PodStatus {
    var phase: PodPhase { PodPhase.derive(from: containers) }
    func container(_ name: String) -> ContainerStatus? { containers.first { $0.name == name } ?? initContainers.first { $0.name == name } }
}
