import FoundationEssentials
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// Environment values never reach a `docker create` argv, which any user of the
/// host can read in /proc (real dockerd, through a docker wrapper that records
/// every argv it is given).
@Suite(.enabled(if: DockerTest.enabled, "INTERLINK_TEST_DOCKER_HOST is not set: start scripts/dockerd.sh"))
struct DockerSecretsTests {
    typealias T = DockerTest

    @Test func secretEnvValuesAreNeverInDockersArgvYetTheContainerSeesThem() async throws {
        let dir = "/tmp/interlink-test/docker-argv-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let real = try #require(ProcessRunner.resolve("docker"))
        // The wrapper records argv, and the mode of an env file while docker reads it.
        let wrapper = """
        #!/bin/sh
        for a in "$@"; do printf '%s\\n' "$a" >> \(dir)/argv; case "$a" in --env-file=*) stat -c %a "${a#--env-file=}" >> \(dir)/modes;; esac; done
        exec "\(real)" "$@"
        """
        // Written through a close-on-exec descriptor: a child forked meanwhile by a
        // parallel test must not keep it open for writing (exec would fail, ETXTBSY).
        let fd = open(dir + "/docker", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        _ = Data(wrapper.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        for _ in 0..<50 {  // until no child still holds it from before its exec
            if let r = try? await ProcessRunner.run(dir + "/docker", ["--version"]), r.succeeded { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let (p, config) = T.provider { $0.dockerPath = dir + "/docker" }
        var c = T.sh("main", "printf '%s|%s|%s\\n' \"$PASSWORD\" \"$DOCKER_CONFIG\" \"$MULTI\"")
        c.env = [EnvVar(name: "PASSWORD", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "creds", key: "password"))),
                 EnvVar(name: "DOCKER_CONFIG", value: "cli-reads-this-value-417"),
                 EnvVar(name: "MULTI", value: "line-one\nline-two")]
        let secret = Secret(metadata: ObjectMeta(name: "creds", namespace: "default"),
                            data: ["password": Data("hunter2-secret-9931".utf8).base64EncodedString()])
        let pod = T.pod([c], secrets: [secret])
        _ = try await p.create(pod)
        let o = try await T.waitFinished(p, pod)
        #expect(o.containers.first?.state.terminated?.exitCode == 0)
        #expect(try await T.logs(p, pod, "main") == "hunter2-secret-9931|cli-reads-this-value-417|line-one\nline-two\n")
        let argv = try String(contentsOfFile: dir + "/argv", encoding: .utf8)
        #expect(argv.contains("create"), "the wrapper saw the create")
        for value in ["hunter2-secret-9931", "cli-reads-this-value-417", "line-one"] {
            #expect(!argv.contains(value), "\(value) appeared in docker's argv")
        }
        #expect(try String(contentsOfFile: dir + "/modes", encoding: .utf8) == "600\n", "the env file is 0600")
        let podDir = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid).root
        let left = try FileManager.default.contentsOfDirectory(atPath: podDir).filter { $0.hasPrefix(".env") }
        #expect(left.isEmpty, "the env file is removed after create")
        await T.remove(p, [pod])
    }
}
