import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// subPath and other volume paths are pinned on the compute node right before
/// each container starts, in the job script: an earlier container may have turned
/// a directory of a volume into a symbolic link leading out of the pod's
/// directory, and a sibling may do so between the job's check and the runtime's
/// mount. Run with bash, `echo` standing in for `docker` (or real docker, through
/// `Tools/swap-then-docker`, where a test needs the mount itself).
@Suite struct SlurmMountCheckTests {
    struct Job {
        let root: String
        let script: String
        let layout: SlurmLayout
        let subDir: String
        let uid: String
    }

    static let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Tools").path
    static var canMount: Bool { getuid() == 0 }

    func job(restartPolicy: String = "Never", withInit: Bool = true, mainCommand: [String] = ["cat", "/mnt/etc/hostname"],
             runtimePath: String = "/bin/echo", image: String = "busybox", pinning: String = "auto",
             uid: String = "22222222-3333-4444-5555-666666666666") throws -> Job {
        let root = SlurmFixtures.tempDir("mnt")
        let vol = [VolumeMount(name: "work", mountPath: "/data")]
        var main = Container(name: "main", image: image, command: mainCommand)
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/mnt", subPath: "sub")]
        let swap = Container(name: "swap", image: image, command: ["true"], volumeMounts: vol)
        let pod = Pod(metadata: ObjectMeta(name: "m", namespace: "ns", uid: uid),
                      spec: PodSpec(containers: [main], initContainers: withInit ? [swap] : [],
                                    volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())], restartPolicy: restartPolicy))
        let desired = DesiredPod(request: PodCreateRequests(pod: pod))
        var config = SlurmFixtures.config(runtime: "docker", dataRoot: root)
        config.commandPrefix = ""
        config.slurmRestartBackoffSeconds = 1
        config.subPathPinning = pinning
        config.dockerHost = DockerTest.host
        // echo stands in for docker: each container's log then holds the runtime's argv.
        // (A script written by the test could not be run reliably: a process forked
        // meanwhile by a parallel test may hold it open, and exec fails with ETXTBSY;
        // the stand-ins that must act are committed under Tools/.)
        config.containerRuntimePath = runtimePath
        let workspace = PodWorkspace(dataRoot: root, namespace: "ns", uid: desired.uid)
        let mounts = try workspace.materialise(desired, allowHostPath: false)
        let sub = try #require(mounts.mounts["main"]?.first?.hostPath)
        let script = try SlurmScript.render(pod: desired, mounts: mounts, env: [:], config: config)
        return Job(root: root, script: script, layout: SlurmLayout(dataRoot: root, namespace: "ns", uid: desired.uid, attempt: 0),
                   subDir: sub, uid: uid)
    }

    /// Runs the job script; `nodeCannotMount` puts a `mount` that fails as for a
    /// user who is not root first on PATH.
    func run(_ j: Job, nodeCannotMount: Bool = false) async throws -> ProcessResult {
        try Data(j.script.utf8).write(to: URL(fileURLWithPath: "\(j.root)/job.sh"))
        var env = ProcessInfo.processInfo.environment
        if nodeCannotMount { env["PATH"] = "\(Self.tools)/no-mount:\(env["PATH"] ?? "/usr/bin:/bin")" }
        return try await ProcessRunner.run("/bin/bash", ["\(j.root)/job.sh"], environment: env, workingDirectory: j.root)
    }

    func calls(_ j: Job) -> String {
        ["swap", "main"].compactMap { FileManager.default.contents(atPath: j.layout.log($0)) }
            .map { String(decoding: $0, as: UTF8.self) }.joined()
    }

    /// The main container's log lines without their timestamps.
    func mainOutput(_ j: Job) -> String {
        let text = String(decoding: FileManager.default.contents(atPath: j.layout.log("main")) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).dropFirst().joined() }.joined(separator: "\n")
    }

    /// A directory outside the pod holding `f` with `marker`: what no container may read.
    func hostDirectory(_ marker: String) throws -> String {
        let dir = SlurmFixtures.tempDir("host")
        try Data("\(marker)\n".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        return dir
    }

    /// A job on real docker whose main container prints `f` of its subPath (the
    /// volume holds "volume-original"), with `Tools/swap-then-docker` told to swap
    /// that subPath for a link to `host` right before docker runs it.
    func swapJob(to host: String) throws -> Job {
        let j = try job(withInit: false, mainCommand: ["cat", "/mnt/f"], runtimePath: "\(Self.tools)/swap-then-docker",
                        image: DockerTest.image, uid: UUID().uuidString.lowercased())
        try Data("volume-original\n".utf8).write(to: URL(fileURLWithPath: j.subDir + "/f"))
        try Data("\(j.subDir)\n\(host)\n".utf8).write(to: URL(fileURLWithPath: j.root + "/il-test-swap"))
        return j
    }

    /// The race the job's check alone cannot close: a sibling swaps the subPath for
    /// a link to the host after the job's last check and before docker mounts it.
    /// Pinned, docker binds the inode the check opened, so the container reads
    /// the volume. (On the code before the pins the container read the host's file.)
    @Test(.enabled(if: DockerTest.enabled && Self.canMount, "needs the test dockerd and root"))
    func aSwapAfterTheLastCheckCannotRedirectAPinnedVolumePath() async throws {
        let host = try hostDirectory("host-marker-5120")
        defer { try? FileManager.default.removeItem(atPath: host) }
        let j = try swapJob(to: host)
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        let r = try await run(j)
        #expect(!FileManager.default.fileExists(atPath: j.root + "/il-test-swap"), "the stand-in never swapped: \(r.stderrText)")
        #expect(!mainOutput(j).contains("host-marker-5120"), "the container read the host through the swapped subPath")
        #expect(mainOutput(j) == "volume-original", "\(mainOutput(j)) \(r.stderrText)")
        #expect(r.exitCode == 0, "\(r.stderrText)")
        // The pin went with the run: nothing stays mounted below the pod directory.
        #expect(SubPathPins.mountPoints(under: j.layout.podDir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: j.layout.pin(container: 0, mount: 0)))
    }

    /// The control, and the fallback where the job cannot mount: the volume path is
    /// checked, not pinned, so the same swap after the check reaches the host (the
    /// residual the README names), and the job says so in its output.
    @Test(.enabled(if: DockerTest.enabled, "needs the test dockerd"))
    func whereTheJobCannotMountTheSameSwapIsOnlyChecked() async throws {
        let host = try hostDirectory("host-marker-7331")
        defer { try? FileManager.default.removeItem(atPath: host) }
        let j = try swapJob(to: host)
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        let r = try await run(j, nodeCannotMount: true)
        #expect(mainOutput(j) == "host-marker-7331", "the seam did not reproduce the race: \(mainOutput(j)) \(r.stderrText)")
        #expect(r.stderrText.contains("checked right before each run, not pinned (SubPathPinning auto): mount: only root"), "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: j.layout.pin(container: 0, mount: 0)), "the link is removed after the run")
    }

    /// `SubPathPinning: required` on a node where the job cannot mount: the
    /// container is refused with the reason, the runtime never asked.
    @Test func requiredRefusesAContainerWhoseVolumePathCannotBePinned() async throws {
        let j = try job(pinning: "required")
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        let r = try await run(j, nodeCannotMount: true)
        #expect(r.exitCode == 126, "\(r.stderrText)")
        #expect(calls(j).isEmpty, "the runtime was asked to run: \(calls(j))")
        let exit = try SlurmFiles.containerFiles(j.layout, "swap").exit
        #expect(exit?.reason == "InvalidVolumePath")
        #expect(exit?.message?.contains("SubPathPinning is required") == true, "\(exit?.message ?? "")")
        #expect(exit?.message?.contains("only root") == true, "the mount's own error is kept: \(exit?.message ?? "")")
    }

    /// A link whose target is inside the pod directory is refused as well: the
    /// opened inode's own path must be the volume path itself.
    @Test(.enabled(if: Self.canMount, "needs root"))
    func aLinkLeadingElsewhereInsideThePodIsRefused() async throws {
        let j = try job()
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        let other = j.layout.podDir + "/elsewhere"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: j.subDir)
        #expect(symlink(other, j.subDir) == 0)
        let r = try await run(j)
        #expect(r.exitCode == 126, "\(r.stderrText)")
        #expect(!calls(j).contains("-0-main"), "the runtime was asked to mount the link: \(calls(j))")
        #expect(try SlurmFiles.containerFiles(j.layout, "main").exit?.reason == "InvalidVolumePath")
        #expect(SubPathPins.mountPoints(under: j.layout.podDir).isEmpty, "a refused run leaves no pin")
    }

    @Test func aSubPathTurnedIntoASymlinkIsRefusedAtMountTime() async throws {
        let j = try job()
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        // What an init container can do between create and the main container's start.
        try FileManager.default.removeItem(atPath: j.subDir)
        #expect(symlink("/", j.subDir) == 0)
        let r = try await run(j)
        #expect(r.exitCode == 126, "\(r.stderrText)")
        #expect(calls(j).contains("--name il-test-22222222-3333-4444-5555-666666666666-0-swap"))
        #expect(!calls(j).contains("-0-main"), "the runtime was asked to mount the link: \(calls(j))")
        let exit = try SlurmFiles.containerFiles(j.layout, "main").exit
        #expect(exit?.code == 126)
        #expect(exit?.reason == "InvalidVolumePath")
        #expect(exit?.message?.contains("symbolic link \(j.subDir)") == true, "\(exit?.message ?? "")")
    }

    @Test func aLinkDeeperInThePathIsRefusedToo() async throws {
        let j = try job()
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        // The volume directory above the subPath replaced by a link.
        let volume = String(j.subDir.dropLast("/sub".count))
        try FileManager.default.moveItem(atPath: volume, toPath: volume + ".real")
        #expect(symlink(volume + ".real", volume) == 0)
        let r = try await run(j)
        #expect(r.exitCode == 126)
        #expect(try SlurmFiles.containerFiles(j.layout, "swap").exit?.reason == "InvalidVolumePath")
        #expect(calls(j).isEmpty)
    }

    /// The check runs before every run, restarts by the in-job supervisor too:
    /// a container restarted after a directory of its volume became a link is
    /// refused, not started with the link followed. Before, only the first run was
    /// checked, so a restart of a container that swapped its own subPath mounted `/`.
    @Test func aRestartAfterTheSubPathBecameASymlinkIsRefused() async throws {
        let j = try job(restartPolicy: "Always")
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        func mainRuns() -> Int { calls(j).components(separatedBy: "-0-main").count - 1 }
        // Bounded: a job that keeps restarting the container past the link is killed at 30 s.
        try Data(j.script.utf8).write(to: URL(fileURLWithPath: "\(j.root)/job.sh"))
        let job = Task { try await ProcessRunner.run("/bin/bash", ["\(j.root)/job.sh"], workingDirectory: j.root, timeout: 30) }
        for _ in 0..<200 where mainRuns() == 0 { try await Task.sleep(for: .milliseconds(50)) }
        try #require(mainRuns() >= 1, "the main container never ran: \(calls(j))")
        // What the container itself (or a sibling) can do while it runs.
        try FileManager.default.removeItem(atPath: j.subDir)
        #expect(symlink("/", j.subDir) == 0)
        let runsAtSwap = mainRuns()
        let r: ProcessResult
        do { r = try await job.value } catch {
            Issue.record("the job kept restarting the container past the link: \(error)")
            return
        }
        #expect(r.exitCode == 126, "\(r.stderrText)")
        // One run may have been starting as the link appeared; none after it was checked.
        #expect(mainRuns() <= runsAtSwap + 1, "the runtime was asked to mount the link: \(calls(j))")
        let exit = try SlurmFiles.containerFiles(j.layout, "main").exit
        #expect(exit?.code == 126)
        #expect(exit?.reason == "InvalidVolumePath")
    }

    @Test func ordinaryVolumePathsAreMounted() async throws {
        let j = try job()
        defer { try? FileManager.default.removeItem(atPath: j.root) }
        let r = try await run(j)
        #expect(r.exitCode == 0, "\(r.stderrText)")
        // The runtime mounts the pin, never the volume path itself; the pins go with the run.
        #expect(calls(j).contains("-v \(j.layout.pin(container: 1, mount: 0)):/mnt"), "\(calls(j))")
        #expect(!calls(j).contains(j.subDir + ":"), "\(calls(j))")
        #expect(SubPathPins.mountPoints(under: j.layout.podDir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: j.layout.pin(container: 1, mount: 0)))
    }

    @Test func aTerminationMessageIsReadUpTo4096BytesWhateverTheContainerWrote() throws {
        let root = SlurmFixtures.tempDir("term")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layout = SlurmLayout(dataRoot: root, namespace: "ns", uid: "u", attempt: 0)
        try FileManager.default.createDirectory(atPath: "\(layout.jobDir)/term", withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 1 << 20).write(to: URL(fileURLWithPath: layout.terminationLog("c")))
        #expect(try SlurmFiles.containerFiles(layout, "c").terminationMessage?.utf8.count == 4096)
        try Data().write(to: URL(fileURLWithPath: layout.terminationLog("c")))
        #expect(try SlurmFiles.containerFiles(layout, "c").terminationMessage == nil)
    }
}
