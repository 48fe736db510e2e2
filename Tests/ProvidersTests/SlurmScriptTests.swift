import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers

/// The generated job script: pinned by golden files, valid bash, and inert
/// against hostile pod values.
@Suite struct SlurmScriptTests {
    static let goldenDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

    func checkGolden(_ runtime: String, configure: (inout InterLinkConfig) -> Void = { _ in }) async throws {
        var config = SlurmFixtures.config(runtime: runtime)
        configure(&config)
        let script = try SlurmScript.render(pod: SlurmFixtures.richPod(), mounts: SlurmFixtures.richMounts(),
                                            env: SlurmFixtures.richEnv, config: config)
        let path = "\(Self.goldenDir)/slurm-\(runtime).sh"
        if ProcessInfo.processInfo.environment["INTERLINK_UPDATE_GOLDEN"] == "1" {
            try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        }
        let golden = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        #expect(golden == script, "script for \(runtime) differs from \(path) (INTERLINK_UPDATE_GOLDEN=1 rewrites it)")
        let syntax = try await SlurmFixtures.bash(["-n", "-c", script])
        #expect(syntax.succeeded, "bash -n: \(syntax.stderrText)")
    }

    @Test func apptainerScriptMatchesGolden() async throws { try await checkGolden("apptainer") }
    @Test func dockerScriptMatchesGolden() async throws {
        try await checkGolden("docker") { $0.dockerHost = "unix:///tmp/ilt/docker/docker.sock" }
    }
    @Test func noneScriptMatchesGolden() async throws { try await checkGolden("none") }

    @Test func resourcesBecomeSbatchLinesAndAnnotationFlagsWin() throws {
        let script = try SlurmScript.render(pod: SlurmFixtures.richPod(), mounts: SlurmFixtures.richMounts(),
                                            env: SlurmFixtures.richEnv, config: SlurmFixtures.config(runtime: "none"))
        let lines = script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH") }.map(String.init)
        #expect(lines.contains("#SBATCH --cpus-per-task=2"))      // 1500m + 250m rounded up
        #expect(lines.contains("#SBATCH --mem=320M"))             // 256Mi + 64Mi
        #expect(lines.contains("#SBATCH --gres=gpu:1"))
        #expect(lines.contains("#SBATCH --time=30"))              // the annotation overrides activeDeadlineSeconds
        #expect(!lines.contains("#SBATCH --time=10"))
        #expect(lines.contains("#SBATCH -pgpu"))
        #expect(lines.contains("#SBATCH --qos=high"))
        #expect(!lines.contains("#SBATCH --partition=batch"))      // -p in the annotation overrides the site flag
        #expect(lines.contains("#SBATCH --account=proj1"))
    }

    @Test func flagsWithNewlinesOrNonOptionsAreRejected() {
        let bad: [(String, String)] = [
            ("--qos=high\n#SBATCH --wrap=id", "line break"),
            ("--qos=high\r\n#SBATCH --x", "line break"),
            ("rm -rf /", "is not a Slurm option"),
            ("--job-name=other", "set by InterLink"),
            ("--comment=\"a", "unterminated quote"),
            ("--$(id)=1", "is not a Slurm option"),
            ("--time=1\u{07}", "control character"),
        ]
        for (flags, why) in bad {
            #expect {
                _ = try SlurmFlags.parse(flags, source: "annotation slurm-job.vk.io/flags")
            } throws: { error in
                let text = (error as? ProviderError)?.description ?? ""
                return text.contains(why) && text.hasPrefix("annotation slurm-job.vk.io/flags")
            }
        }
    }

    @Test func laterFlagsOverrideEarlierOnes() throws {
        let a = try SlurmFlags.parse("--time=10 --partition=a", source: "config")
        let b = try SlurmFlags.parse("-t 20 --comment='two words'", source: "annotation")
        #expect(SlurmFlags.merge([a, b]).map(\.text) == ["--partition=a", "-t20", "--comment=\"two words\""])
    }

    @Test func preExecIsIgnoredUnlessAllowed() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/pre-exec"] = "touch /tmp/pre-exec-ran"
        var config = SlurmFixtures.config(runtime: "none")
        let off = try SlurmScript.render(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv, config: config)
        #expect(!off.contains("touch /tmp/pre-exec-ran"))
        config.allowPreExec = true
        let on = try SlurmScript.render(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv, config: config)
        #expect(on.contains("\ntouch /tmp/pre-exec-ran\n"))
    }

    @Test func unknownRuntimeIsAClearError() {
        #expect(throws: ProviderError.unavailable("containerRuntime \"lxc\" is not supported; use apptainer, singularity, docker, podman or none")) {
            _ = try SlurmScript.render(pod: SlurmFixtures.richPod(), mounts: SlurmFixtures.richMounts(),
                                       env: SlurmFixtures.richEnv, config: SlurmFixtures.config(runtime: "lxc"))
        }
    }
}
