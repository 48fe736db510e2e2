import FoundationEssentials
import Synchronization
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// subPath pinning (issue 12 point 5, the kubelet's fix for CVE-2017-1002101):
/// the subPath is walked without following links right before `docker start`
/// and the inode reached is bind-mounted onto a pin path Docker binds, so a
/// swap of a directory for a symbolic link after that last check cannot
/// redirect the mount (real dockerd; this process must be root beside it).
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"), .serialized)
struct DockerSubPathPinTests {
    typealias T = DockerTest

    /// A host directory holding `f` with `marker`, removed by `done`.
    static func hostDirectory(_ marker: String) throws -> String {
        let dir = "/tmp/interlink-test/pin-host-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "\(marker)\n".write(toFile: dir + "/f", atomically: true, encoding: .utf8)
        return dir
    }

    /// An init container fills `d/f` of an emptyDir; `main` mounts `d` by subPath and prints `f`.
    static func pod(_ mainScript: String = "cat /sub/f") -> DesiredPod {
        var fill = T.sh("fill", "mkdir -p /work/d && echo volume-original > /work/d/f")
        fill.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var main = T.sh("main", mainScript)
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/sub", subPath: "d")]
        return T.pod([main], inits: [fill], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
    }

    /// Installs the swap a racing container would make, after InterLink's last
    /// look and before `docker start`: `d` is moved aside and replaced by a
    /// link to `hostDir`. Returns what the pod's mountinfo held at that moment.
    final class Seen: Sendable {
        let mounts = Mutex<[String]?>(nil)
        var value: [String]? { mounts.withLock { $0 } }
    }

    static func swapBeforeStart(_ p: DockerProvider, _ ws: PodWorkspace, to hostDir: String) -> Seen {
        let seen = Seen()
        let volume = ws.volumeDirectory("work")
        p.testHooks.beforeSubPathStart = { r in
            guard r.container == "main" else { return }
            seen.mounts.withLock { $0 = SubPathPins.mountPoints(under: ws.root) }
            #expect(rename(volume + "/d", volume + "/d-moved") == 0)
            #expect(symlink(hostDir, volume + "/d") == 0)
        }
        return seen
    }

    static func mainMountSource(_ pod: DesiredPod) async throws -> String {
        let ids = try await T.docker(["ps", "-a", "-q", "--no-trunc", "--filter", "label=interlink.pod-uid=\(pod.uid)",
                                      "--filter", "label=interlink.container=main"]).stdoutText.trimmed
        return try await T.inspect(ids, "{{range .Mounts}}{{if eq .Destination \"/sub\"}}{{.Source}}{{end}}{{end}}")
    }

    /// The regression test: without a pin (today's check-at-start, the control
    /// test below) the container reads the host marker.
    @Test func aSwapAfterTheLastCheckCannotRedirectAPinnedSubPath() async throws {
        let hostDir = try Self.hostDirectory("host-marker-4417")
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let (p, config) = T.provider()
        try #require(try p.pinning.availability() == .on, "pinning is not available here: run the tests as root beside dockerd")
        let pod = Self.pod()
        let ws = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
        let seen = Self.swapBeforeStart(p, ws, to: hostDir)
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        let logs = (try? await T.logs(p, pod, "main")) ?? ""
        #expect(!logs.contains("host-marker-4417"), "the container read the host through the swapped subPath: \(logs)")
        #expect(logs == "volume-original\n")
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        // Docker bound the pin, which was mounted when the swap came and detached after the start.
        let source = try await Self.mainMountSource(pod)
        #expect(source.hasPrefix(ws.pinRoot + "/main-0-0-0/"), "\(source)")
        #expect(seen.value?.contains(source) == true, "\(String(describing: seen.value))")
        #expect(SubPathPins.mountPoints(under: ws.root).isEmpty)
        #expect(FileManager.default.contents(atPath: hostDir + "/f") == Data("host-marker-4417\n".utf8))
        await T.remove(p, [pod])
        #expect(!WorkspaceFiles.exists(ws.root))
    }

    /// The control, and the fallback: with pinning off Docker binds the volume's
    /// path, so the same swap after the last check reaches the host (the
    /// residual the README names for the fallback path).
    @Test func withPinningOffTheSameSwapReachesTheHost() async throws {
        let hostDir = try Self.hostDirectory("host-marker-9902")
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let (p, config) = T.provider { $0.subPathPinning = "off" }
        #expect(try p.pinning.availability() == .off("SubPathPinning is off"))
        let pod = Self.pod()
        let ws = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
        _ = Self.swapBeforeStart(p, ws, to: hostDir)
        _ = try await p.create(pod)
        _ = try await T.waitFinished(p, pod)
        let logs = (try? await T.logs(p, pod, "main")) ?? ""
        #expect(logs == "host-marker-9902\n", "the seam did not reproduce the race: \(logs)")
        #expect(try await Self.mainMountSource(pod) == ws.volumeDirectory("work") + "/d")
        #expect(p.metricsText.contains("interlink_docker_subpath_pinning{instance=\"\(config.instanceName)\",mode=\"off\"} 0"))
        await T.remove(p, [pod])
    }

    /// Off, the check right before the start still refuses a subPath an init
    /// container turned into a link (today's behaviour).
    @Test func withPinningOffASubPathSwappedBeforeTheCheckIsRefused() async throws {
        let (p, _) = T.provider { $0.subPathPinning = "off" }
        var swap = T.sh("swap", "rm -rf /work/d && ln -s / /work/d")
        swap.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var main = T.sh("main", "ls /escape")
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/escape", subPath: "d")]
        let pod = T.pod([main], inits: [swap], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        let t = try #require(o.containers.first?.state.terminated)
        #expect(t.exitCode != 0)
        #expect(t.message?.contains("symbolic link") == true, "\(t)")
        await T.remove(p, [pod])
    }

    @Test func requiredRefusesAPodWithASubPathWhenPinningIsUnavailable() async throws {
        let (p, _) = T.provider { $0.subPathPinning = "required" }
        p.pinning.forceUnavailable("mount(2) is not permitted (test)")
        let pod = Self.pod()
        do {
            _ = try await p.create(pod)
            Issue.record("a pod with a subPath was created although pinning is required and unavailable")
        } catch let e as ProviderError {
            guard case .invalidPod(let m) = e else { Issue.record("\(e)"); return }
            #expect(m == "container main mounts a subPath, and SubPathPinning is required but unavailable: mount(2) is not permitted (test)")
        }
        #expect(p.metricsText.contains("mode=\"required\"} 0"))
        // A pod without subPaths is not concerned.
        let plain = T.pod([T.sh("main", "true")])
        _ = try await p.create(plain)
        #expect(try await T.waitFinished(p, plain).containers.first?.state.terminated?.exitCode == 0)
        await T.remove(p, [pod, plain])
    }

    /// Pins live only from the check to `docker start`: the running container
    /// keeps reading and writing the volume through its own bind, and nothing
    /// stays mounted under the pod's directory, during the run or after delete.
    @Test func pinsAreDetachedAfterTheStartAndNothingIsLeftAfterDelete() async throws {
        let (p, config) = T.provider()
        try #require(try p.pinning.availability() == .on)
        let pod = Self.pod("cat /sub/f; sleep 2; echo written > /sub/w; cat /sub/f; sleep 30")
        let ws = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
        _ = try await p.create(pod)
        var running = false
        for _ in 0..<200 where !running {
            if let o = try await p.observe().first(where: { $0.podUID == pod.uid }) {
                if !o.dueToStart.isEmpty { try await p.advance(o.ref, start: o.dueToStart) }
                running = o.containers.first?.state.running != nil
            }
            if !running { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(running)
        #expect(SubPathPins.mountPoints(under: ws.root).isEmpty)
        var written = false
        for _ in 0..<100 where !written {
            written = FileManager.default.contents(atPath: ws.volumeDirectory("work") + "/d/w") == Data("written\n".utf8)
            if !written { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(written, "the container's write through its subPath did not reach the volume")
        #expect(try await T.logs(p, pod, "main") == "volume-original\nvolume-original\n")
        await T.remove(p, [pod])
        #expect(SubPathPins.mountPoints(under: ws.root).isEmpty)
        #expect(!WorkspaceFiles.exists(ws.root))
    }

    /// A pin left mounted by a process that died between pinning and starting
    /// (here bound onto a host directory) is found in mountinfo by the next
    /// process and detached before the pod's directory is removed: the removal
    /// never descends through it.
    @Test func aPinLeftByADeadProcessIsDetachedByTheNextOneBeforeRemoval() async throws {
        let hostDir = try Self.hostDirectory("host-marker-6120")
        defer { try? FileManager.default.removeItem(atPath: hostDir) }
        let instance = "ilt-\(UInt32.random(in: 0...UInt32.max))"
        let (first, config) = T.provider(instance: instance)
        let pod = Self.pod()
        let ws = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
        _ = try await first.create(pod)
        _ = try await T.waitFinished(first, pod)
        // What the dead process left: a pin directory with a live bind in it.
        let pin = ws.pinRoot + "/main-0-0-7/0"
        try FileManager.default.createDirectory(atPath: pin, withIntermediateDirectories: true)
        let fd = open(hostDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        let e = SubPathPins.pin(fd, at: pin)
        close(fd)
        try #require(e == 0, "mount: \(String(cString: strerror(e)))")
        #expect(SubPathPins.mountPoints(under: ws.root) == [SubPathPins.canonicalPath(pin)])

        // The next process knows nothing of it but what the kernel says.
        let (next, _) = T.provider(instance: instance)
        try await next.delete(T.ref(pod))
        try await next.cleanup(T.ref(pod))
        #expect(SubPathPins.mountPoints(under: ws.root).isEmpty)
        #expect(!WorkspaceFiles.exists(ws.root))
        #expect(FileManager.default.contents(atPath: hostDir + "/f") == Data("host-marker-6120\n".utf8),
                "removing the pod's directory deleted through the pin into the host")
    }
}

/// `/proc/self/mountinfo` as the kernel writes it.
@Suite struct MountinfoParsingTests {
    @Test func theMountPointIsTheFifthFieldWithOctalEscapesUndone() {
        let text = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            812 27 8:1 /tmp/x /data/pod\\040one/subpaths/main-0-0-0/0 rw,relatime shared:1 - ext4 /dev/sda1 rw
            813 27 8:1 /y /a\\134b\\011c rw - ext4 /dev/sda1 rw

            """
        #expect(SubPathPins.parseMountPoints(text) == ["/proc", "/data/pod one/subpaths/main-0-0-0/0", "/a\\b\tc"])
    }

    @Test func aBackslashWithoutThreeOctalDigitsIsKept() {
        #expect(SubPathPins.unescape("/a\\09") == "/a\\09")
        #expect(SubPathPins.unescape("/a\\") == "/a\\")
        #expect(SubPathPins.unescape("/end\\040") == "/end ")
    }
}
