import FoundationEssentials
import Providers
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let binary = ProcessInfo.processInfo.environment["INTERLINK_TEST_BINARY"]

/// `interlink ctl` (the built binary) against the Python stand-in for the
/// interLink API in `TestServer`: what a user types and what the server gets.
@Suite(.enabled(if: binary != nil, "set INTERLINK_TEST_BINARY to the built interlink executable"))
struct CtlEndToEndTests {
    struct Run { var code: Int32; var out: String; var err: String }

    let stateDir = makeTempDir()

    func ctl(_ args: [String], token: String? = "tok-1") async throws -> Run {
        var env = ProcessInfo.processInfo.environment
        env["INTERLINK_CTL_STATE"] = stateDir + "/pods.json"
        env["INTERLINKCONFIGPATH"] = nil
        var extra: [String] = []
        if let token {
            try token.write(toFile: stateDir + "/token", atomically: true, encoding: .utf8)
            extra = ["--token-file", stateDir + "/token"]
        }
        let r = try await ProcessRunner.run(binary!, ["ctl"] + args + extra, environment: env, workingDirectory: stateDir, timeout: 60)
        return Run(code: r.exitCode, out: r.stdoutText, err: r.stderrText)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = stateDir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func recorded(_ server: TestServer, _ route: String) async throws -> [String: String] {
        let r = try await ProcessRunner.run("python3", ["-c", """
            import json, urllib.request
            d = json.load(urllib.request.urlopen("\(server.baseURL)/_recorded\(route)"))
            print(json.dumps({"method": d.get("method", ""), "body": d.get("body", ""),
                              "auth": dict(d.get("headers", [])).get("Authorization", ""),
                              "session": dict(d.get("headers", [])).get("InterLink-Http-Session", "")}))
            """])
        return try JSONDecoder().decode([String: String].self, from: r.stdout)
    }

    static let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hello"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","envFrom":[{"secretRef":{"name":"creds"}}]}]}}"#
    static let secret = #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"password":"s3cr3t"}}"#
    static let failing = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"failing","namespace":"jobs","annotations":{"interlink.mock/exit-code":"3"}},"spec":{"containers":[{"name":"fail","image":"busybox"}]}}"#

    @Test func createStatusLogsDelete() async throws {
        let server = try await TestServer.tcp(token: "tok-1")
        defer { server.stop() }
        let url = ["--url", server.baseURL]
        let podFile = try write("pod.json", Self.pod), secretFile = try write("secret.json", Self.secret)

        let created = try await ctl(["create", "-f", podFile, "-f", secretFile] + url)
        #expect(created.code == 0, "\(created.err)")
        #expect(created.out.hasPrefix("pod default/hello created (uid "))
        let sent = try await recorded(server, "/create")
        #expect(sent["method"] == "POST")
        #expect(sent["auth"] == "Bearer tok-1")
        #expect(sent["session"]?.hasPrefix("CreatePod#") == true)
        // stringData travels as base64 data, as the API server would store it.
        #expect(sent["body"]?.contains(#""data":{"password":"czNjcjN0"}"#) == true)

        let status = try await ctl(["status", "hello"] + url)
        #expect(status.code == 0)
        #expect(status.out.contains("default    hello  Running  1/1"))
        #expect(try await recorded(server, "/status")["method"] == "GET")

        let logs = try await ctl(["logs", "hello"] + url)
        #expect(logs.out == "log of main\n")
        let followed = try await ctl(["logs", "-f", "hello"] + url)
        #expect(followed.out == "log of main\nfollowed line\n")

        let deleted = try await ctl(["delete", "hello"] + url)
        #expect(deleted.out == "pod default/hello deleted\n")
        #expect(try await recorded(server, "/delete")["method"] == "DELETE")
        let gone = try await ctl(["status", "hello"] + url)
        #expect(gone.code == 1)
        #expect(gone.err.contains("no pod default/hello in the local index"))
    }

    @Test func failedContainerShowsItsExitCode() async throws {
        let server = try await TestServer.tcp(token: "tok-1")
        defer { server.stop() }
        let file = try write("failing.json", Self.failing)
        _ = try await ctl(["create", "-f", file, "--url", server.baseURL])
        let status = try await ctl(["status", "-n", "jobs", "failing", "--url", server.baseURL])
        #expect(status.out.contains("Failed"))
        #expect(status.out.contains("fail: Error (exit 3)"))
        let json = try await ctl(["status", "-o", "json", "--url", server.baseURL])
        #expect(json.out.contains(#""exitCode" : 3"#))
    }

    @Test func serverErrorIsOneLineOnStderr() async throws {
        let server = try await TestServer.tcp(token: "tok-1")
        defer { server.stop() }
        let r = try await ctl(["ping", "--url", server.baseURL], token: nil)
        #expect(r.code == 1)
        #expect(r.err == "error: missing or wrong bearer token\n")
    }

    @Test func nothingListeningSaysSo() async throws {
        let r = try await ctl(["ping", "--url", "unix://\(stateDir)/none.sock"])
        #expect(r.code == 1)
        #expect(r.err == "error: cannot connect to unix socket \(stateDir)/none.sock: No such file or directory (is interlink running?)\n")
    }

    @Test func usageErrorsExit2() async throws {
        let r = try await ctl(["logs"])
        #expect(r.code == 2)
        #expect(r.err == "interlink ctl: logs needs exactly one pod name or UID; see 'interlink ctl --help'\n")
    }

    /// The shipped examples parse and reach the server (needs the YAML reader).
    @Test(arguments: ["hello.yaml", "multi-container.yaml", "failing.yaml", "configmap-secret.yaml"])
    func examplesCreate(_ name: String) async throws {
        let server = try await TestServer.tcp(token: "tok-1")
        defer { server.stop() }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path
        let r = try await ctl(["create", "-f", examples + "/" + name, "--url", server.baseURL])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.err.isEmpty)
    }
}
