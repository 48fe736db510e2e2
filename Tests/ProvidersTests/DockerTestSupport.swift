import Config
import FoundationEssentials
import Support
import Testing
import Model
@testable import Providers

/// Shared by the Docker tests that run against the real dockerd started by
/// `scripts/dockerd.sh` (they are skipped when INTERLINK_TEST_DOCKER_HOST is unset).
enum DockerTest {
    static var host: String? { ProcessInfo.processInfo.environment["INTERLINK_TEST_DOCKER_HOST"] }
    static var enabled: Bool { host != nil }
    static var image: String { ProcessInfo.processInfo.environment["INTERLINK_TEST_IMAGE"] ?? "interlink-test/busybox:latest" }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// A provider with its own instance name and data root, so tests running in
    /// parallel never observe each other's containers.
    static func provider(instance: String = "ilt-\(UInt32.random(in: 0...UInt32.max))", dataRoot: String? = nil,
                         configure: (inout InterLinkConfig) -> Void = { _ in }) -> (DockerProvider, InterLinkConfig) {
        var config = InterLinkConfig()
        config.provider = .docker
        config.dockerHost = host
        config.dockerNetwork = "none"
        config.instanceName = instance
        // Pod directories are per namespace and UID, so all tests can share one data root.
        config.dataRootFolder = dataRoot ?? "/tmp/interlink-test/docker-provider"
        configure(&config)
        return (DockerProvider(config: config), config)
    }

    static func pod(_ containers: [Container], inits: [Container]? = nil, volumes: [Volume]? = nil,
                    name: String = "pod", namespace: String = "default", uid: String = UUID().uuidString.lowercased(),
                    configmaps: [ConfigMap]? = nil, secrets: [Secret]? = nil, attempt: Int = 0,
                    annotations: [String: String]? = nil) -> DesiredPod {
        var spec = PodSpec(containers: containers, initContainers: inits, volumes: volumes, restartPolicy: "Never")
        spec.terminationGracePeriodSeconds = 1
        let meta = ObjectMeta(name: name, namespace: namespace, uid: uid, annotations: annotations)
        return DesiredPod(request: PodCreateRequests(pod: Pod(metadata: meta, spec: spec), configmaps: configmaps, secrets: secrets),
                          attempt: attempt)
    }

    static func sh(_ name: String, _ script: String) -> Container {
        Container(name: name, image: image, command: ["/bin/sh", "-c", script])
    }

    /// Observes until the pod's newest incarnation is finished (bounded, so a
    /// broken provider fails the test instead of hanging it). Like the planner's
    /// `.advance` action, it hands each observation's `dueToStart` to `advance`.
    static func waitFinished(_ p: DockerProvider, _ pod: DesiredPod) async throws -> JobObservation {
        for _ in 0..<600 {
            if let o = try await p.observe().first(where: { $0.podUID == pod.uid && $0.attempt == pod.attempt }) {
                if o.state == .finished { return o }
                if !o.dueToStart.isEmpty { try await p.advance(o.ref, start: o.dueToStart) }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "pod \(pod.name) did not finish within 60 s")
    }

    static func logs(_ p: DockerProvider, _ pod: DesiredPod, _ container: String, _ opts: LogOpts = LogOpts()) async throws -> String {
        var out = Data()
        for try await chunk in try await p.logs(ref(pod), container: container, options: opts) { out.append(chunk) }
        return String(decoding: out, as: UTF8.self)
    }

    static func ref(_ pod: DesiredPod, grace: Int = 1) -> JobRef {
        JobRef(podUID: pod.uid, namespace: pod.namespace, name: pod.name, jobID: "", attempt: pod.attempt,
               gracePeriodSeconds: grace, pod: pod.pod)
    }

    /// Removes what a test left, whatever happened in it.
    static func remove(_ p: DockerProvider, _ pods: [DesiredPod]) async {
        for pod in pods {
            try? await p.delete(ref(pod))
            try? await p.cleanup(ref(pod))
        }
    }

    /// Runs the docker CLI directly (to look behind the provider's back).
    static func docker(_ args: [String]) async throws -> ProcessResult {
        var env = ProcessEnvironment.current
        env["DOCKER_HOST"] = host
        return try await ProcessRunner.run("docker", args, environment: env)
    }

    /// One Go-template field of `docker inspect` (e.g. `{{.HostConfig.Memory}}`).
    static func inspect(_ id: String, _ format: String) async throws -> String {
        let r = try await docker(["inspect", "--format=\(format)", id])
        guard r.succeeded else { throw Failure(description: "docker inspect \(id) failed: \(r.stderrText)") }
        return r.stdoutText.trimmed
    }

    static func containers(instance: String) async throws -> [String] {
        let r = try await docker(["ps", "-a", "-q", "--filter", "label=interlink.managed=\(instance)"])
        return r.stdoutText.split(whereSeparator: \.isNewline).map(String.init)
    }
}
