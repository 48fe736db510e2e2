import FoundationEssentials
import Testing
import Model
@testable import Providers

/// subPath mounts are resolved without following symbolic links at the moment a
/// container starts, not only at create (CVE-2017-1002101): an init container
/// that swaps a directory of an emptyDir for a link to `/` must not hand the
/// host's files to the next container (real dockerd).
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerSubPathTests {
    typealias T = DockerTest

    @Test func anInitContainerSwappingASubPathForALinkToRootCannotExposeAHostFile() async throws {
        let secretDir = "/tmp/interlink-test/host-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: secretDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: secretDir) }
        try "host-only-content-5521\n".write(toFile: secretDir + "/secret", atomically: true, encoding: .utf8)

        let (p, _) = T.provider()
        var swap = T.sh("swap", "rm -rf /work/d && ln -s / /work/d && ls -la /work")
        swap.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var main = T.sh("main", "cat /escape\(secretDir)/secret; ls /escape")
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/escape", subPath: "d")]
        let pod = T.pod([main], inits: [swap], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.initContainers.first?.state.terminated?.exitCode == 0)
        let logs = (try? await T.logs(p, pod, "main")) ?? ""
        #expect(!logs.contains("host-only-content-5521"), "the main container read a host file: \(logs)")
        let t = try #require(o.containers.first?.state.terminated)
        #expect(t.exitCode != 0)
        #expect(t.message?.contains("symbolic link") == true, "\(t)")
        await T.remove(p, [pod])
    }

    @Test func aSubPathThatStaysARealDirectoryIsMountedAsUsual() async throws {
        let (p, _) = T.provider()
        var fill = T.sh("fill", "mkdir -p /work/a/b && echo inside > /work/a/b/f")
        fill.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var main = T.sh("main", "cat /sub/f")
        main.volumeMounts = [VolumeMount(name: "work", mountPath: "/sub", subPath: "a/b")]
        let pod = T.pod([main], inits: [fill], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(try await T.logs(p, pod, "main") == "inside\n")
        await T.remove(p, [pod])
    }

    /// Two main containers started together: the first, with the whole emptyDir,
    /// swaps the directory the second one mounts by subPath for a link to `/` as
    /// soon as it runs. One `docker start` of both started the swapper first and
    /// checked the second one's subPath before the swap, so Docker bound the host's
    /// `/` (a known gap of issue 12 point 5). Now containers with subPaths start
    /// first, one at a time, each checked right before its own start.
    @Test func aMainContainerSwappingASubPathOfAnotherMainStartedWithItCannotExposeAHostFile() async throws {
        let secretDir = "/tmp/interlink-test/host-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: secretDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: secretDir) }
        try "host-only-content-7731\n".write(toFile: secretDir + "/secret", atomically: true, encoding: .utf8)

        let (p, _) = T.provider()
        var swap = T.sh("swap", "rm -rf /work/d && ln -s / /work/d; sleep 3")
        swap.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var victim = T.sh("victim", "sleep 1; cat /escape\(secretDir)/secret; ls /escape | head -3")
        victim.volumeMounts = [VolumeMount(name: "work", mountPath: "/escape", subPath: "d")]
        let pod = T.pod([swap, victim], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first { $0.name == "swap" }?.state.terminated?.exitCode == 0)
        let logs = (try? await T.logs(p, pod, "victim")) ?? ""
        #expect(!logs.contains("host-only-content-7731"), "the second main container read a host file: \(logs)")
        await T.remove(p, [pod])
    }

    /// Started one at a time, containers with subPaths still all start, next to
    /// one without, each with its own directory.
    @Test func mainContainersWithAndWithoutSubPathsStartTogetherAsUsual() async throws {
        let (p, _) = T.provider()
        var fill = T.sh("fill", "mkdir -p /work/a /work/b && echo in-a > /work/a/f && echo in-b > /work/b/f")
        fill.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        var one = T.sh("one", "cat /sub/f")
        one.volumeMounts = [VolumeMount(name: "work", mountPath: "/sub", subPath: "a")]
        var two = T.sh("two", "cat /sub/f")
        two.volumeMounts = [VolumeMount(name: "work", mountPath: "/sub", subPath: "b")]
        var all = T.sh("all", "cat /work/a/f /work/b/f")
        all.volumeMounts = [VolumeMount(name: "work", mountPath: "/work")]
        let pod = T.pod([all, one, two], inits: [fill], volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.map { $0.state.terminated?.exitCode } == [0, 0, 0])
        #expect(try await T.logs(p, pod, "one") == "in-a\n")
        #expect(try await T.logs(p, pod, "two") == "in-b\n")
        #expect(try await T.logs(p, pod, "all") == "in-a\nin-b\n")
        await T.remove(p, [pod])
    }
}
