import Foundation
import Model
import Providers

/// A real `interlink sidecar --provider KIND` process listening on a unix
/// socket, with its own config and data root; `kill9()` and `start()` crash
/// and restart it on the same socket and state, as an operator would.
final class SidecarProcess: @unchecked Sendable {  // used from one test task at a time
    let dir: URL
    let kind: String
    let configPath: String
    var process: BackgroundProcess?
    let environment: [String: String]
    private var starts = 0

    var socket: String { dir.appendingPathComponent("plugin.sock").path }
    var logPath: String { dir.appendingPathComponent("sidecar-\(starts).log").path }

    /// TCP port when listening on `http://127.0.0.1` (`tcpPort`), else nil (unix socket).
    let tcpPort: Int?

    init(kind: String, extraConfig: String = "", environment: [String: String] = [:], tcp: Bool = false) throws {
        dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("il-sc-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.kind = kind
        configPath = dir.appendingPathComponent("SidecarConfig.yaml").path
        tcpPort = tcp ? InterLinkInstance.freePort() : nil
        let listen = tcpPort.map { "SidecarURL: http://127.0.0.1\nSidecarPort: \($0)" }
            ?? "SidecarURL: unix://\(dir.appendingPathComponent("plugin.sock").path)"
        let config = """
        \(listen)
        DataRootFolder: \(dir.appendingPathComponent("data").path)
        ReconcileIntervalSeconds: 0.5
        InstanceName: sc-\(UUID().uuidString.lowercased().prefix(8))
        VerboseLogging: true
        \(extraConfig)
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        self.environment = env
    }

    func start() async throws {
        guard let binary = TestEnv.binary else { throw InstanceError.notReady("INTERLINK_TEST_BINARY not set") }
        starts += 1
        process = try BackgroundProcess(binary, ["sidecar", "--provider", kind, "--config", configPath],
                                        environment: environment, logPath: logPath)
        for _ in 0..<200 {
            if let r = try? await ProcessRunner.run("curl", curlTarget + ["-sS", "-o", "/dev/null", "-w", "%{http_code}", url("/readyz")], timeout: 5),
               r.stdoutText == "200" { return }
            if let p = process, await p.wait(timeout: 0) != nil {
                throw InstanceError.notReady("interlink sidecar exited at start:\n\(p.log().suffix(3000))")
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        throw InstanceError.notReady("interlink sidecar did not become ready:\n\(process?.log().suffix(3000) ?? "")")
    }

    var curlTarget: [String] { tcpPort == nil ? ["--unix-socket", socket] : [] }
    func url(_ path: String) -> String { tcpPort.map { "http://127.0.0.1:\($0)\(path)" } ?? "http://localhost\(path)" }

    /// A request as the upstream interLink server sends it to its plugin (any method, JSON body, session header).
    func upstreamRequest(_ method: String, _ path: String, body: Data?, session: String) async throws -> HTTPAnswer {
        var args = curlTarget + ["-sS", "-X", method, "--max-time", "30", "-o", "-", "-w", "\n%{http_code}",
                                 "-H", "Content-Type: application/json", "-H", "InterLink-Http-Session: \(session)"]
        if body != nil { args += ["--data-binary", "@-"] }
        args.append(url(path))
        let r = try await ProcessRunner.run("curl", args, stdin: body, timeout: 35)
        guard r.exitCode == 0, let nl = r.stdout.lastIndex(of: 0x0a) else {
            throw InstanceError.notReady("curl \(method) \(path) failed: \(r.stderrText)")
        }
        return HTTPAnswer(status: Int(String(decoding: r.stdout[(nl + 1)...], as: UTF8.self)) ?? 0, body: Data(r.stdout[..<nl]))
    }

    func kill9() async {
        guard let p = process else { return }
        p.kill(SIGKILL)
        _ = await p.wait(timeout: 10)
        process = nil
    }

    func stop() async {
        guard let p = process else { return }
        p.kill(SIGTERM)
        if await p.wait(timeout: 60) == nil { p.kill(SIGKILL); _ = await p.wait(timeout: 10) }
        process = nil
    }

    func logs() -> String {
        (1...max(1, starts)).map { (try? String(contentsOfFile: dir.appendingPathComponent("sidecar-\($0).log").path, encoding: .utf8)) ?? "" }
            .joined(separator: "\n---- restart ----\n")
    }

    /// The log lines (every start) that name `uid`, the last 40 of them.
    func logs(of uid: String) -> String {
        logs().split(separator: "\n").filter { $0.contains(uid) || $0.hasPrefix("---- restart") }.suffix(40).joined(separator: "\n")
    }

    func cleanup() { try? FileManager.default.removeItem(at: dir) }
}

/// A file every pod's container appends its pod name to when it runs, so a
/// test can count how many times each pod really ran on the backend.
struct RunLedger {
    let dir: String
    var file: String { dir + "/runs" }

    init() throws {
        dir = "/tmp/il-runs-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
    }

    /// Pod name -> number of runs.
    func counts() -> [String: Int] {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") { out[String(line), default: 0] += 1 }
        return out
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}
