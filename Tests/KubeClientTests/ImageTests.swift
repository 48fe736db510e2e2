import Foundation
import Model
import Providers
import Testing

private let env = ProcessInfo.processInfo.environment
/// Set by scripts/test.sh after `scripts/image.sh` built the image.
private let image = env["INTERLINK_TEST_KUBE_IMAGE"]
private let dockerHost = env["INTERLINK_TEST_DOCKER_HOST"]

/// The image `make image` builds, under the test dockerd: it starts the way
/// the Deployment runs it (non-root, read-only root filesystem, data on a
/// writable volume, no network) and answers `/healthz` and `/readyz`.
@Suite(.enabled(if: image != nil && dockerHost != nil, "set INTERLINK_TEST_KUBE_IMAGE (scripts/test.sh builds it with scripts/image.sh)"))
struct ImageTests {
    func docker(_ args: [String], timeout: Double = 60) async throws -> ProcessResult {
        var e = env
        e["DOCKER_HOST"] = dockerHost
        return try await ProcessRunner.run("docker", args, environment: e, timeout: timeout)
    }

    /// An HTTP GET from inside the container with bash's /dev/tcp (the image has no curl).
    func get(_ container: String, _ path: String) async throws -> String {
        let script = "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET \(path) HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3"
        return try await docker(["exec", container, "bash", "-c", script]).stdoutText
    }

    @Test func startsNonRootOnAReadOnlyRootAndAnswersHealthz() async throws {
        let name = "il-image-test-\(UUID().uuidString.prefix(8).lowercased())"
        let run = try await docker(["run", "-d", "--name", name, "--network", "none", "--read-only",
                                    "--tmpfs", "/tmp", "--tmpfs", "/var/lib/interlink:uid=10001,gid=10001",
                                    image!, "serve", "--config", "/etc/interlink/InterLinkConfig.yaml"])
        #expect(run.succeeded, "\(run.stderrText)")
        defer { Task { _ = try? await docker(["rm", "-f", name]) } }
        var health = ""
        for _ in 0..<100 {
            health = (try? await get(name, "/healthz")) ?? ""
            if health.contains("200") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let logs = try await docker(["logs", name])
        #expect(health.hasPrefix("HTTP/1.1 200") || health.hasPrefix("HTTP/1.0 200"), "healthz: \(health)\nlogs: \(logs.stderrText)")
        #expect(try await get(name, "/readyz").contains(" 200 "))
        #expect(try await docker(["exec", name, "id", "-u"]).stdoutText.trimmed == "10001")
        let tools = try await docker(["exec", name, "bash", "-c", "command -v docker sbatch squeue scancel sinfo"])
        #expect(tools.stdoutText.split(separator: "\n").count == 5, "docker CLI and Slurm client tools: \(tools.stdoutText)")
    }
}
