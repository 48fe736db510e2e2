import Foundation
import Model
import Providers
import Testing

/// One InterLink with a Slurm and a Docker backend (`Providers:`): pods routed
/// by annotation run on their own backend only; status, logs and delete work
/// for both; a pod naming an unknown backend fails with a clear reason.
@Suite("Routing to several backends end to end", .serialized,
       .enabled(if: TestEnv.hasSlurm && TestEnv.hasDocker, "needs Slurm, Docker and INTERLINK_TEST_BINARY"))
struct RoutingEndToEndTests {
    @Test func podsRunOnTheBackendTheirAnnotationNamesAndOnlyThere() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: """
        Providers:
          - Name: hpc
            Kind: slurm
            ContainerRuntime: none
          - Name: box
            Kind: docker
            Default: true
            DockerHost: \(TestEnv.dockerHost ?? "")
        """, environment: ["SLURM_CONF": TestEnv.slurmConf ?? ""]) { il in
            func pod(_ name: String, _ backend: String) -> Pod {
                Pods.make(name, containers: [Pods.shell("main", "echo hello from \(name); sleep 60")],
                          annotations: [RoutingRule.annotation: backend])
            }
            let tag = UUID().uuidString.prefix(6).lowercased()
            let onSlurm = [pod("rt-\(tag)-s1", "hpc"), pod("rt-\(tag)-s2", "hpc")]
            let onDocker = [pod("rt-\(tag)-d1", "box"), pod("rt-\(tag)-d2", "box")]
            for p in onSlurm + onDocker { #expect(try await il.create(PodCreateRequests(pod: p)).status == 200) }
            for p in onSlurm + onDocker {
                let (s, _) = try await il.waitForStatus(p, timeout: 120) { $0.phase == .running }
                #expect(s.phase == .running)
            }
            for p in onSlurm + onDocker {
                let deadline = Date().addingTimeInterval(30)
                var text = ""
                while Date() < deadline {
                    text = try await il.logText(p, "main")
                    if !text.isEmpty { break }
                    try await Task.sleep(nanoseconds: 300_000_000)
                }
                #expect(text == "hello from \(p.name)\n", "\(p.name)")
            }
            // Each backend sees exactly its own pods.
            for p in onSlurm {
                #expect(try await SlurmCLI.jobs(ofPod: p.uid).count == 1, "\(p.name) on Slurm")
                #expect(try await DockerCLI.containers(ofPod: p.uid).isEmpty, "\(p.name) must not be on Docker")
            }
            for p in onDocker {
                #expect(try await DockerCLI.containers(ofPod: p.uid).count == 1, "\(p.name) on Docker")
                #expect(try await SlurmCLI.jobs(ofPod: p.uid).isEmpty, "\(p.name) must not be on Slurm")
            }
            let ping = try await il.request("POST", "/pinglink", body: nil)
            #expect(ping.status == 200)
            let answer = try JSONDecoder().decode(PingResponse.self, from: ping.body)
            #expect(answer.status?.contains("hpc: ") == true && answer.status?.contains("box: ") == true, "\(answer)")

            let lost = pod("rt-\(tag)-x", "nowhere")
            #expect(try await il.create(PodCreateRequests(pod: lost)).status == 200)
            let (ls, _) = try await il.waitForStatus(lost, timeout: 60) { $0.phase == .failed }
            #expect(ls.containers.first?.state.terminated?.message?.contains("names no backend") == true, "\(ls)")

            for p in onSlurm + onDocker + [lost] { #expect(try await il.delete(p).status == 200) }
            for p in onSlurm + onDocker { _ = try await il.waitForStatus(p, timeout: 120) { $0.containers.isEmpty } }
            for p in onSlurm { #expect(try await SlurmCLI.jobs(ofPod: p.uid).isEmpty) }
            for p in onDocker { #expect(try await DockerCLI.containers(ofPod: p.uid).isEmpty) }
        }
    }
}
