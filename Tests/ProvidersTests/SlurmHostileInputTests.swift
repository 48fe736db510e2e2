import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// Hostile pod values run through the generated script (with bash, outside
/// Slurm): they arrive byte-exact in the container and none of them executes.
@Suite struct SlurmHostileInputTests {
    static let hostile = [
        "a; touch CANARY", "$(touch CANARY)", "`touch CANARY`", "it's", "\"dq\" \\ back", "line1\nline2\n",
        "#SBATCH --wrap=touch CANARY", "${PATH}", "'$(touch CANARY)'", "ünïcødé ✓", "e\u{301}'\u{301}; touch CANARY", "",
    ]

    @Test func quotingPreservesEveryValue() async throws {
        for value in Self.hostile {
            let r = try await SlurmFixtures.bash(["-c", "printf %s \(ShellQuote.quote(value))"])
            #expect(r.stdoutText == value)
        }
    }

    @Test func hostileArgsEnvAndAnnotationsDoNotExecute() async throws {
        let root = SlurmFixtures.tempDir("hostile")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = "\(root)/out"
        // The container writes each argument NUL-terminated, and the env values, to files we compare.
        let body = #"for a in "$@"; do printf '%s\0' "$a"; done > "$OUT.args"; printf '%s\0' "$H0" "$H1" "$H4" "$H5" > "$OUT.env""#
        let c = Container(name: "c", image: "ignored", command: ["/bin/bash", "-c", body, "argv0"], args: Self.hostile)
        let pod = Pod(metadata: ObjectMeta(name: "evil", namespace: "ns", uid: "u-1",
                                           annotations: ["slurm-job.vk.io/pre-exec": "touch \(root)/CANARY",
                                                         "slurm-job.vk.io/image-root": "$(touch CANARY)"]),
                      spec: PodSpec(containers: [c], restartPolicy: "Never"))
        let env: [(name: String, value: String)] = [(name: "OUT", value: out), (name: "H0", value: Self.hostile[1]),
                                                   (name: "H1", value: Self.hostile[2]), (name: "H4", value: Self.hostile[5]),
                                                   (name: "H5", value: Self.hostile[10])]
        var config = SlurmFixtures.config(runtime: "none", dataRoot: root)
        config.commandPrefix = ""
        let script = try SlurmScript.render(pod: DesiredPod(request: PodCreateRequests(pod: pod)), mounts: MaterialisedPod(),
                                            env: ["c": env], config: config)
        let path = "\(root)/job.sh"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        let r = try await ProcessRunner.run("/bin/bash", [path], workingDirectory: root)
        #expect(r.exitCode == 0, "script failed: \(r.stderrText)")

        let args = FileManager.default.contents(atPath: "\(out).args").map { String(decoding: $0, as: UTF8.self) }
        #expect(args == Self.hostile.map { $0 + "\0" }.joined())
        let envOut = FileManager.default.contents(atPath: "\(out).env").map { String(decoding: $0, as: UTF8.self) }
        #expect(envOut == [1, 2, 5, 10].map { Self.hostile[$0] + "\0" }.joined())
        let files = try FileManager.default.contentsOfDirectory(atPath: root)
        #expect(!files.contains("CANARY"), "a hostile value ran as code")
    }

    @Test func smuggledSbatchLinesInFlagsAreRejected() {
        var d = SlurmFixtures.richPod()
        d.request.pod.metadata.annotations?["slurm-job.vk.io/flags"] = "--qos=x\n#SBATCH --uid=0"
        #expect(throws: ProviderError.self) {
            _ = try SlurmScript.render(pod: d, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                       config: SlurmFixtures.config(runtime: "none"))
        }
    }

    @Test func volumeMountsWithoutAMountNamespaceFailWithAClearReason() async throws {
        let root = SlurmFixtures.tempDir("nons")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A node where unshare -m is refused.
        try FileManager.default.createDirectory(atPath: "\(root)/bin", withIntermediateDirectories: true)
        // A link to false, not a script written here: a process forked meanwhile by a
        // parallel test could hold a fresh script open, and running it fail with ETXTBSY.
        #expect(symlink("/bin/false", "\(root)/bin/unshare") == 0)
        let c = Container(name: "c", image: "x", command: ["touch", "\(root)/ran"], volumeMounts: [VolumeMount(name: "v", mountPath: "/data")])
        let pod = Pod(metadata: ObjectMeta(name: "m", namespace: "ns", uid: "u-2"), spec: PodSpec(containers: [c]))
        var config = SlurmFixtures.config(runtime: "none", dataRoot: root)
        config.commandPrefix = ""
        let script = try SlurmScript.render(pod: DesiredPod(request: PodCreateRequests(pod: pod)),
                                            mounts: MaterialisedPod(mounts: ["c": [Mount(hostPath: root, containerPath: "/data", readOnly: true)]]),
                                            env: [:], config: config)
        try Data(script.utf8).write(to: URL(fileURLWithPath: "\(root)/job.sh"))
        let r = try await ProcessRunner.run("/bin/bash", ["\(root)/job.sh"], environment: ["PATH": "\(root)/bin:/usr/bin:/bin"])
        #expect(r.exitCode == 126)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/ran"))
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: "u-2", attempt: 0)
        let exit = try SlurmFiles.containerFiles(layout, "c").exit
        #expect(exit?.code == 126)
        #expect(exit?.reason == "MountNamespaceUnavailable")
        #expect(exit?.message?.contains("private mount namespace") == true)
    }
}
