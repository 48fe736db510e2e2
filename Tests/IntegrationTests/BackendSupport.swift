import Foundation
import Model
import Providers
import Testing

/// Runs the docker CLI against the test daemon.
enum DockerCLI {
    static func run(_ args: [String]) async throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["DOCKER_HOST"] = TestEnv.dockerHost
        return try await ProcessRunner.run("docker", args, environment: env, timeout: 60)
    }

    /// IDs of every container (any state) of a pod.
    static func containers(ofPod uid: String) async throws -> [String] {
        let r = try await run(["ps", "-a", "-q", "--filter", "label=interlink.pod-uid=\(uid)"])
        return r.stdoutText.split(separator: "\n").map(String.init)
    }

    static func inspect(_ id: String) async throws -> [String: Any] {
        let r = try await run(["inspect", id])
        let arr = try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]]
        return arr?.first ?? [:]
    }
}

extension InterLinkInstance {
    /// Logs of one container as text (non-follow).
    func logText(_ pod: Pod, _ container: String) async throws -> String {
        let a = try await logs(pod, container: container)
        guard a.status == 200 else { throw InstanceError.notReady("/getLogs answered \(a.status): \(a.text)") }
        return a.text
    }
}

/// Compares a container's log with what it must be, showing both escaped on failure.
func expectLog(_ il: InterLinkInstance, _ pod: Pod, _ container: String, _ expected: String,
               sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let got = try await il.logText(pod, container)
    #expect(got == expected, "log of \(container): got \(got.debugDescription), expected \(expected.debugDescription)", sourceLocation: sourceLocation)
}

/// Values that must arrive byte-exact and never be interpreted.
enum Hostile {
    static let values = [
        "plain",
        "with \"double\" and 'single' quotes",
        "multi\nline\nvalue",
        "dollar $HOME and $(id) and ${PATH} and `id`",
        "semi; echo pwned; rm -rf /tmp/x",
        "unicode: héllo wörld ✓ 日本",
        "",
        "--privileged",
        "trailing backslash \\",
    ]
}
