import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// subPath and other volume paths are checked on the compute node right before
/// each container starts, in the job script: an earlier container may have turned
/// a directory of a volume into a symbolic link leading out of the pod's
/// directory. Run with bash, `echo` standing in for `docker`.
@Suite struct SlurmMountCheckTests {
    struct Job {
        let root: String
        let script: String
        let layout: SlurmLayout
        let subDir: String
    }

    func job(restartPolicy: String = "Never") throws -> Job {
        let root = SlurmFixtures.tempDir("mnt")
        let vol = [VolumeMount(name: "work", mountPath: "/data")]
        var main = Container(name: "main", image: "busybox", command: ["cat", "/mnt/etc/hostname"])
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/mnt", subPath: "sub")]
        let swap = Container(name: "swap", image: "busybox", command: ["true"], volumeMounts: vol)
        let pod = Pod(metadata: ObjectMeta(name: "m", namespace: "ns", uid: "22222222-3333-4444-5555-666666666666"),
                      spec: PodSpec(containers: [main], initContainers: [swap],
                                    volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())], restartPolicy: restartPolicy))
        let desired = DesiredPod(request: PodCreateRequests(pod: pod))
        var config = SlurmFixtures.config(runtime: "docker", dataRoot: root)
        config.commandPrefix = ""
        config.slurmRestartBackoffSeconds = 1
        // echo stands in for docker: each container's log then holds the runtime's argv.
        // (A script written by the test could not be run reliably: a process forked
        // meanwhile by a parallel test may hold it open, and exec fails with ETXTBSY.)
        config.containerRuntimePath = "/bin/echo"
        let workspace = PodWorkspace(dataRoot: root, namespace: "ns", uid: desired.uid)
        let mounts = try workspace.materialise(desired, allowHostPath: false)
        let sub = try #require(mounts.mounts["main"]?.first?.hostPath)
        let script = try SlurmScript.render(pod: desired, mounts: mounts, env: [:], config: config)
        return Job(root: root, script: script, layout: SlurmLayout(dataRoot: root, namespace: "ns", uid: desired.uid, attempt: 0), subDir: sub)
    }

    func run(_ j: Job) async throws -> ProcessResult {
        try Data(j.script.utf8).write(to: URL(fileURLWithPath: "\(j.root)/job.sh"))
        return try await ProcessRunner.run("/bin/bash", ["\(j.root)/job.sh"], workingDirectory: j.root)
    }

    func calls(_ j: Job) -> String {
        ["swap", "main"].compactMap { FileManager.default.contents(atPath: j.layout.log($0)) }
            .map { String(decoding: $0, as: UTF8.self) }.joined()
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
        #expect(calls(j).contains("-v \(j.subDir):/mnt"))
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
