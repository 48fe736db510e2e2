import Foundation
import Model
import Testing

/// Numbers from a pod or a request never stop the server (issue 12.1): huge and
/// Int64-edge values on /create, /delete and /getLogs get a clamped behaviour
/// or a 400, and the server keeps answering. Driven over HTTP against the real
/// binary; the Docker variant is where a grace period of 3,000,000 s used to
/// abort the process on /delete (an Int32 conversion of the stop's timeout).
@Suite("Pod-controlled numbers never stop the server (real binary, real HTTP)", .serialized)
struct PodBoundsEndToEndTests {
    static func podJSON(name: String, uid: String, grace: String, image: String, script: String,
                        extraSpec: String = "") -> String {
        let args = String(decoding: try! JSONEncoder().encode([script]), as: UTF8.self)
        return """
        {"metadata": {"name": "\(name)", "namespace": "default", "uid": "\(uid)",
                      "annotations": {"interlink.mock/run-seconds": "600"}},
         "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": \(grace)\(extraSpec),
                  "containers": [{"name": "main", "image": "\(image)", "command": ["/bin/sh", "-c"], "args": \(args)}]}}
        """
    }

    static func create(_ il: InterLinkInstance, _ pod: String) async throws -> HTTPAnswer {
        try await il.request("POST", "/create", body: Data(#"{"pod": \#(pod), "configmaps": null, "secrets": null, "projectedvolumesmaps": null}"#.utf8))
    }

    static func exercise(_ il: InterLinkInstance, image: String) async throws {
        let uid = UUID().uuidString.lowercased()
        // The shell exits on TERM, so a stop with a long grace period ends as soon as it is delivered.
        let script = "trap 'exit 0' TERM; echo started; while true; do sleep 1; done"
        let pod = podJSON(name: "huge-grace", uid: uid, grace: "3000000", image: image, script: script)
        let created = try await create(il, pod)
        #expect(created.status == 200, "\(created.text)")
        let decoded = try JSONDecoder().decode(Pod.self, from: Data(pod.utf8))
        try await il.waitForStatus(decoded, timeout: 90) { $0.phase == .running }

        // Refused numbers, each a 400 with a JSON error, none reaching the store.
        for (grace, extra) in [("-1", ""), ("-9223372036854775808", ""), ("9223372036854775808", ""),
                               ("30", #", "activeDeadlineSeconds": 9223372036854775807"#),
                               ("30", #", "activeDeadlineSeconds": 0"#)] {
            let bad = podJSON(name: "bad-numbers", uid: UUID().uuidString.lowercased(), grace: grace, image: image,
                              script: "true", extraSpec: extra)
            let a = try await create(il, bad)
            #expect(a.status == 400, "grace \(grace) \(extra): \(a.status) \(a.text)")
            #expect(a.text.contains("\"error\""))
        }
        // Int64.max is clamped, not refused: Kubernetes itself has no upper bound.
        let maxGrace = podJSON(name: "max-grace", uid: UUID().uuidString.lowercased(), grace: "9223372036854775807",
                               image: image, script: script)
        #expect(try await create(il, maxGrace).status == 200)

        // Log options at the Int64 edges: clamped (200) or refused (400), never a crash.
        for (opts, want) in [(#""Tail": 9223372036854775807"#, 200), (#""Bytes": 9223372036854775807"#, 200),
                             (#""SinceSeconds": 9223372036854775807"#, 200), (#""Tail": -9223372036854775808"#, 400),
                             (#""SinceSeconds": 9223372036854775808"#, 400), (#""Bytes": -1"#, 400)] {
            let body = #"{"Namespace": "default", "PodUID": "\#(uid)", "PodName": "huge-grace", "ContainerName": "main", "Opts": {\#(opts)}}"#
            let a = try await il.request("GET", "/getLogs", body: Data(body.utf8))
            #expect(a.status == want, "\(opts): \(a.status) \(a.text)")
        }

        // The delete carries the pod as the VK sends it, grace period and all.
        let deleted = try await il.request("DELETE", "/delete", body: Data(pod.utf8))
        #expect(deleted.status == 200, "\(deleted.text)")
        let maxDecoded = try JSONDecoder().decode(Pod.self, from: Data(maxGrace.utf8))
        #expect(try await il.request("DELETE", "/delete", body: Data(maxGrace.utf8)).status == 200)
        try await il.waitForStatus(decoded, timeout: 120) { $0.containers.isEmpty }
        try await il.waitForStatus(maxDecoded, timeout: 120) { $0.containers.isEmpty }

        // Still serving, and still the same process.
        #expect(try await il.request("GET", "/healthz", body: nil).status == 200)
        #expect(await il.process?.wait(timeout: 0) == nil, "interlink exited:\n\(il.log().suffix(3000))")
        #expect(il.log().contains("clamped"), "the clamp is logged")
    }

    @Test(.enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY"))
    func onTheMock() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 600") { il in
            try await Self.exercise(il, image: "busybox")
            #expect(await il.stop() == 0)
        }
    }

    @Test(.enabled(if: TestEnv.hasDocker, "needs INTERLINK_TEST_BINARY and INTERLINK_TEST_DOCKER_HOST"))
    func onDocker() async throws {
        try await InterLinkInstance.with(provider: "docker", extraConfig: "DockerHost: \(TestEnv.dockerHost!)\nDockerNetwork: none") { il in
            try await Self.exercise(il, image: TestEnv.image)
            #expect(await il.stop() == 0)
        }
    }
}
