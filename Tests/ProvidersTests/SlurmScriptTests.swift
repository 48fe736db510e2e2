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

    func sbatchLines(_ desired: DesiredPod = SlurmFixtures.richPod(), _ config: InterLinkConfig = SlurmFixtures.config(runtime: "none")) throws -> [String] {
        let script = try SlurmScript.render(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv, config: config)
        return script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH") }.map(String.init)
    }

    @Test func resourcesBecomeSbatchLinesAndThePodsOwnFlagsReplaceThem() throws {
        let lines = try sbatchLines()
        #expect(lines.contains("#SBATCH --cpus-per-task=2"))      // 1500m + 250m rounded up
        #expect(lines.contains("#SBATCH --mem=320M"))             // 256Mi + 64Mi
        #expect(lines.contains("#SBATCH --gres=gpu:1"))
        #expect(lines.contains("#SBATCH --time=10"))              // activeDeadlineSeconds 600 bounds the annotation's -t 30
        #expect(!lines.contains("#SBATCH -t30"))
        #expect(lines.contains("#SBATCH --constraint=gpu"))
        #expect(lines.contains("#SBATCH --partition=batch"))
        #expect(lines.contains("#SBATCH --account=proj1"))
    }

    @Test func anOwnedOptionInTheAnnotationIsIgnoredAndNotedNotFatal() throws {
        let job = try SlurmScript.renderJob(pod: SlurmFixtures.richPod(), mounts: SlurmFixtures.richMounts(),
                                            env: SlurmFixtures.richEnv, config: SlurmFixtures.config(runtime: "none"))
        let names = job.script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH --job-name") || $0.hasPrefix("#SBATCH -J") }
        #expect(names == ["#SBATCH --job-name=il-test.11111111-2222-3333-4444-555555555555.2"])
        #expect(job.script.contains("\n#SBATCH --comment=interlink:il-test:11111111-2222-3333-4444-555555555555:2\n"))
        #expect(job.notes.first?.contains("--job-name=test-pod-cfg ignored") == true, "\(job.notes)")
        #expect(job.notes.count == 2)   // and -t 30 bounded by activeDeadlineSeconds
    }

    @Test func theSitesFlagsWinOverThePodsUnlessTheSiteLetsPodsOverride() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = "-p gpu --qos=high"
        var config = SlurmFixtures.config(runtime: "none")
        config.slurmAllowedFlags += ["partition", "qos"]
        let job = try SlurmScript.renderJob(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv, config: config)
        #expect(job.script.contains("\n#SBATCH --partition=batch\n"))
        #expect(!job.script.contains("-pgpu"))
        #expect(job.script.contains("\n#SBATCH --qos=high\n"))   // the site sets no qos
        #expect(job.notes == ["annotation slurm-job.vk.io/flags: -pgpu ignored, the site sets --partition=batch (SlurmFlags)"])
        config.slurmPodFlagsOverrideSite = true
        let lines = try sbatchLines(desired, config)
        #expect(lines.contains("#SBATCH -pgpu"))
        #expect(!lines.contains("#SBATCH --partition=batch"))
    }

    @Test func aShorterTimeFromTheAnnotationIsKeptALongerOneCannotLiftTheDeadline() throws {
        var desired = SlurmFixtures.richPod()   // activeDeadlineSeconds 600
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = "-t 5"
        #expect(try sbatchLines(desired).contains("#SBATCH -t5"))
        for long in ["-t 2800", "--time=1-00:00:00", "--time=UNLIMITED", "--time=10:01"] {
            desired.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = long
            let job = try SlurmScript.renderJob(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                                config: SlurmFixtures.config(runtime: "none"))
            #expect(job.script.contains("\n#SBATCH --time=10\n"), "\(long)")
            #expect(job.notes.contains { $0.contains("activeDeadlineSeconds 600") }, "\(long): \(job.notes)")
        }
        // Without a deadline the pod's own limit stands (upstream's suite puts -t 2800 on every pod).
        desired.request.pod.spec?.activeDeadlineSeconds = nil
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = "-t 2800"
        #expect(try sbatchLines(desired).contains("#SBATCH -t2800"))
    }

    @Test func aCustomTerminationMessagePathIsWhereTheDockerRuntimeBindsTheMessageFile() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.spec?.containers[0].terminationMessagePath = "/var/run/why"
        let job = try SlurmScript.renderJob(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                            config: SlurmFixtures.config(runtime: "docker"))
        let name = desired.pod.containers[0].name
        #expect(job.script.contains("/term/\(name):/var/run/why"), "the container's own path")
        #expect(job.script.contains(":/dev/termination-log"), "the others keep Kubernetes' default")
        desired.request.pod.spec?.containers[0].terminationMessagePath = "/var/run/a:b"
        #expect(throws: ProviderError.self) {
            _ = try SlurmScript.renderJob(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                          config: SlurmFixtures.config(runtime: "docker"))
        }
    }

    @Test func securityContextBecomesDockerFlagsOrANoteWhereTheRuntimeCannotHonourIt() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.spec?.securityContext = PodSecurityContext(runAsUser: 1000, runAsGroup: 100)
        desired.request.pod.spec?.containers[0].securityContext = SecurityContext(runAsUser: 1234, readOnlyRootFilesystem: true)
        func job(_ runtime: String) throws -> (script: String, notes: [String]) {
            try SlurmScript.renderJob(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                      config: SlurmFixtures.config(runtime: runtime))
        }
        let docker = try job("docker")
        #expect(docker.script.contains("-w /data --user=1234:100 --read-only --entrypoint=sh"))   // container wins, pod's group
        #expect(docker.script.contains(":/dev/termination-log --user=1000:100 -- alpine"))               // the pod's for the sidecar
        #expect(docker.notes.allSatisfy { !$0.contains("runAs") })
        let apptainer = try job("apptainer")
        #expect(!apptainer.script.contains("--user"))
        #expect(apptainer.notes.contains { $0.contains("container main: runAsUser/runAsGroup are not honoured by apptainer") })
        let none = try job("none")
        #expect(none.notes.contains { $0.contains("container main: readOnlyRootFilesystem is not honoured by runtime none") })
        desired.request.pod.spec?.containers[1].securityContext = SecurityContext()
        desired.request.pod.spec?.containers[1].securityContext?.privileged = true
        #expect(throws: ProviderError.invalidPod("container sidecar asks to be privileged, which the Slurm provider does not allow")) {
            _ = try job("docker")
        }
    }

    @Test func slurmTimeLimitsAreReadInEveryForm() {
        #expect(SlurmTime.seconds("30") == 1800)
        #expect(SlurmTime.seconds("30:15") == 1815)
        #expect(SlurmTime.seconds("2:00:00") == 7200)
        #expect(SlurmTime.seconds("1-2") == 93600)
        #expect(SlurmTime.seconds("1-0:30") == 88200)
        #expect(SlurmTime.seconds("1-00:00:10") == 86410)
        #expect(SlurmTime.seconds("UNLIMITED") == nil)
        #expect(SlurmTime.seconds("99999999999999999999") == nil)
        #expect(SlurmTime.seconds("1:2:3:4") == nil)
    }

    @Test func aPodsMemoryPerCPUReplacesTheMemoryDerivedFromItsLimits() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = "--mem-per-cpu=2G"
        let lines = try sbatchLines(desired)
        #expect(lines.contains("#SBATCH --mem-per-cpu=2G"))
        #expect(!lines.contains { $0.hasPrefix("#SBATCH --mem=") })   // sbatch refuses both
    }

    @Test func flagsWithNewlinesOrNonOptionsAreRejected() {
        let bad: [(String, String)] = [
            ("--qos=high\n#SBATCH --wrap=id", "line break"),
            ("--qos=high\r\n#SBATCH --x", "line break"),
            ("rm -rf /", "is not a Slurm option"),
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

    @Test func laterFlagsOfTheSameGroupOverrideEarlierOnes() throws {
        let a = try SlurmFlags.parse("--time=10 --partition=a --mem=1G", source: "config")
        let b = try SlurmFlags.parse("-t 20 --time 25 --mem-per-gpu=2G", source: "annotation")
        #expect(SlurmFlags.lastPerGroup(a + b).map(\.text) == ["--partition=a", "--time=25", "--mem-per-gpu=2G"])
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
