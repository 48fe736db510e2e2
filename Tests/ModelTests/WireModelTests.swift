import Foundation
@testable import Model
import Testing

func fixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

@Suite("Wire model: what the Go VK sends and reads")
struct WireModelTests {
    @Test func decodesAGoMarshalledCreateRequestWithNullsAndServerFields() throws {
        let req = try WireJSON.decode(PodCreateRequests.self, from: try fixture("vk-create.json"))
        #expect(req.pod.name == "test-pod-7c9d")
        #expect(req.pod.restartPolicy == .never)
        #expect(req.secrets == nil)                      // Go's nil slice arrives as null
        #expect(req.pod.containers[0].resources?.limits?["memory"] == "128Mi")
        #expect(req.pod.volumes.count == 2)
        #expect(req.projectedvolumesmaps?.first?.data?["token"] != nil)
    }

    @Test func decodesStatusAsGoWritesItIncludingNullInitContainers() throws {
        let statuses = try WireJSON.decode([PodStatus].self, from: try fixture("go-podstatus.json"))
        #expect(statuses[0].JID == "4242")
        #expect(statuses[0].initContainers.isEmpty)
        #expect(statuses[0].containers[0].state.terminated?.exitCode == 3)
        #expect(statuses[0].containers[0].restartCount == 2)
    }

    @Test func encodesContainerStatusWithTheFieldsGoAlwaysWrites() throws {
        let s = PodStatus(name: "p", UID: "u", namespace: "n", JID: "j",
                          containers: [ContainerStatus(name: "c", state: .waiting("ContainerCreating"))])
        let json = try #require(try JSONSerialization.jsonObject(with: try WireJSON.encode(s)) as? [String: Any])
        #expect(Set(json.keys) == ["name", "UID", "namespace", "JID", "containers", "initContainers"])
        let c = try #require((json["containers"] as? [[String: Any]])?.first)
        for key in ["name", "image", "imageID", "ready", "restartCount", "state", "lastState"] {
            #expect(c[key] != nil, "ContainerStatus must always carry \(key)")
        }
        #expect((c["state"] as? [String: Any])?["waiting"] != nil)
    }

    @Test func aZeroGoTimeInLogOptionsMeansUnset() throws {
        let json = #"{"Namespace":"ns","PodUID":"u","PodName":"p","ContainerName":"c","Opts":{"SinceTime":"0001-01-01T00:00:00Z","Tail":5}}"#
        let l = try WireJSON.decode(LogStruct.self, from: Data(json.utf8))
        #expect(l.Opts.SinceTime == nil)
        #expect(l.Opts.Tail == 5)
        let set = #"{"Namespace":"ns","PodUID":"u","PodName":"p","ContainerName":"c","Opts":{"SinceTime":"2026-11-29T10:00:00Z"}}"#
        #expect(try WireJSON.decode(LogStruct.self, from: Data(set.utf8)).Opts.SinceTime == "2026-11-29T10:00:00Z")
    }

    @Test func quantitiesDecodeFromStringsAndFromBareNumbers() throws {
        let json = #"{"limits":{"cpu":2,"memory":"1Gi"},"requests":{"cpu":0.5}}"#
        let r = try WireJSON.decode(ResourceRequirements.self, from: Data(json.utf8))
        #expect(r.limits?["cpu"]?.text == "2")
        #expect(r.limits?["memory"]?.text == "1Gi")
        #expect(r.requests?["cpu"]?.text == "0.5")
    }

    @Test func restartPolicyDefaultsToAlwaysAsInKubernetes() {
        #expect(Pod(metadata: ObjectMeta(name: "p"), spec: PodSpec(containers: [])).restartPolicy == .always)
    }

    @Test func decodingErrorsNameThePath() {
        let bad = #"{"pod":{"metadata":{"name":5}}}"#
        do {
            _ = try WireJSON.decode(PodCreateRequests.self, from: Data(bad.utf8))
            Issue.record("expected a decoding error")
        } catch {
            let text = WireJSON.describe(error)
            #expect(text.contains("pod.metadata.name"), "\(text)")
        }
    }
}

@Suite("Pod phase as the VK derives it")
struct PodPhaseTests {
    func c(_ s: ContainerState) -> ContainerStatus { ContainerStatus(name: "c", state: s) }
    let done0 = ContainerState.terminated(ContainerStateTerminated(exitCode: 0))
    let done1 = ContainerState.terminated(ContainerStateTerminated(exitCode: 1))

    @Test func phases() {
        #expect(PodPhase.derive(from: []) == .unknown)
        #expect(PodPhase.derive(from: [c(.waiting("ContainerCreating"))]) == .pending)
        #expect(PodPhase.derive(from: [c(.running(since: nil)), c(done0)]) == .running)
        #expect(PodPhase.derive(from: [c(done0), c(done0)]) == .succeeded)
        #expect(PodPhase.derive(from: [c(done0), c(done1)]) == .failed)
    }
}

@Suite("Validation of names and identifiers")
struct ValidationTests {
    @Test(arguments: ["default", "a", "kube-system", String(repeating: "a", count: 63)])
    func validDNSLabels(_ s: String) { #expect(Validation.isDNSLabel(s)) }

    @Test(arguments: ["", "-a", "a-", "A", "a_b", "a.b", String(repeating: "a", count: 64), "ü"])
    func invalidDNSLabels(_ s: String) { #expect(!Validation.isDNSLabel(s)) }

    @Test func uuids() {
        #expect(Validation.isUUID("0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"))
        #expect(!Validation.isUUID("0f8c2a5e3b1d4c7a9e2f1a2b3c4d5e6f"))
        #expect(!Validation.isUUID("0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6g"))
    }

    @Test func podProblemsAreSentencesNamingTheField() {
        let noUID = Pod(metadata: ObjectMeta(name: "p", namespace: "default"), spec: PodSpec(containers: []))
        #expect(Validation.problem(with: noUID)?.contains("uid") == true)
        let shellUID = Pod(metadata: ObjectMeta(name: "p", namespace: "default", uid: "a;rm -rf /"), spec: nil)
        #expect(Validation.problem(with: shellUID) != nil)
        let dup = Pod(metadata: ObjectMeta(name: "p", namespace: "default", uid: "u"),
                      spec: PodSpec(containers: [Container(name: "c", image: "i"), Container(name: "c", image: "i")]))
        #expect(Validation.problem(withSpecOf: dup)?.contains("twice") == true)
    }
}

@Suite("RFC 3339 times")
struct RFC3339Tests {
    @Test func roundTripsAndAcceptsFractionsAndOffsets() throws {
        let d = try #require(RFC3339.date("2026-11-29T10:00:00Z"))
        #expect(RFC3339.string(d) == "2026-11-29T10:00:00Z")
        #expect(RFC3339.date("2026-11-29T10:00:00.123456Z") != nil)
        #expect(RFC3339.date("2026-11-29T11:00:00+01:00") == d)
        #expect(RFC3339.date("yesterday") == nil)
    }
}

@Suite("Images that could read as flags")
struct ImageValidationTests {
    @Test(arguments: ["-v/:/host", "--privileged", "busybox\n--rm"])
    func imagesStartingWithADashOrHoldingNewlinesAreRefused(image: String) {
        let pod = Pod(metadata: ObjectMeta(name: "p", namespace: "default", uid: "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"),
                      spec: PodSpec(containers: [Container(name: "c", image: image)]))
        #expect(Validation.problem(withSpecOf: pod)?.contains("invalid image") == true)
    }
}
