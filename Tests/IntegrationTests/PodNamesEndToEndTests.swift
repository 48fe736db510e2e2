import Foundation
import Model
import Testing

/// Pod names exactly as Kubernetes accepts them (DNS-1123 subdomain: up to 253
/// characters, no 63-character limit per part) run on a real backend; the
/// backend's own names are derived by the provider. 254 characters is a 400.
@Suite("Pod names as Kubernetes accepts them (real binary, real HTTP)", .serialized)
struct PodNamesEndToEndTests {
    static let longest = String(repeating: "a", count: 120) + "." + String(repeating: "b", count: 70) + "."
        + String(repeating: "c", count: 61)   // 253 characters, two parts longer than 63

    static func run(_ il: InterLinkInstance, image: String) async throws {
        #expect(longest.utf8.count == 253)
        let names = ["multi-container-partial-fail-" + UUID().uuidString.lowercased(), longest]
        var pods: [Pod] = []
        for name in names {
            let pod = Pods.make(name, containers: [Pods.shell("main", "echo named \(name.count)", image: image)])
            let a = try await il.create(PodCreateRequests(pod: pod))
            #expect(a.status == 200, "\(name.count) characters: \(a.text)")
            pods.append(pod)
        }
        for pod in pods {
            let (final, _) = try await il.waitForStatus(pod, timeout: 90) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(pod.name.count) characters: \(final)")
            #expect(final.name == pod.name)
        }
        let tooLong = Pods.make(String(repeating: "x", count: 254), containers: [Pods.shell("main", "true", image: image)])
        let refused = try await il.create(PodCreateRequests(pod: tooLong))
        #expect(refused.status == 400)
        #expect(refused.text.contains("253"))
        for pod in pods { _ = try await il.delete(pod) }
        for pod in pods { try await il.waitForStatus(pod, timeout: 90) { $0.containers.isEmpty } }
    }

    @Test(.enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY"))
    func onTheMock() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 1") { il in
            try await Self.run(il, image: "busybox")
        }
    }

    @Test(.enabled(if: TestEnv.hasDocker, "needs INTERLINK_TEST_BINARY and INTERLINK_TEST_DOCKER_HOST"))
    func onDocker() async throws {
        try await InterLinkInstance.with(provider: "docker", extraConfig: "DockerHost: \(TestEnv.dockerHost!)\nDockerNetwork: none") { il in
            try await Self.run(il, image: TestEnv.image)
        }
    }

    @Test(.enabled(if: TestEnv.hasSlurm, "needs INTERLINK_TEST_BINARY and INTERLINK_TEST_SLURM_CONF"))
    func onSlurm() async throws {
        try await InterLinkInstance.with(provider: "slurm", extraConfig: "ContainerRuntime: none",
                                         environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""]) { il in
            try await Self.run(il, image: TestEnv.image)
        }
    }
}
