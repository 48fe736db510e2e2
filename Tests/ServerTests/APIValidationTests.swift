import Foundation
import Model
import Reconciler
@testable import Server
import Testing

/// What `/create` and `/getLogs` accept: names exactly as Kubernetes accepts
/// them, and every number from a pod or a request either refused (when
/// Kubernetes refuses it) or clamped to the bound PodBounds documents.
@Suite("API edge validation: names, numbers, probes, volume paths")
struct APIValidationTests {
    let uid = "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"

    /// A create body with raw JSON spliced in, so numbers can be anything JSON can say.
    func body(name: String = "p", spec: String = "", container: String = "", volumes: String = "[]",
              maps: String = "null") -> Data {
        Data("""
        {"pod": {"metadata": {"name": "\(name)", "namespace": "default", "uid": "\(uid)"},
                 "spec": {"containers": [{"name": "main", "image": "busybox"\(container)}], "volumes": \(volumes)\(spec)}},
         "configmaps": null, "secrets": null, "projectedvolumesmaps": \(maps)}
        """.utf8)
    }

    func create(_ data: Data) async -> (HTTPResponse, FakeCore) {
        let core = FakeCore()
        let r = await InterLinkAPI(core: core, auth: nil).handle(vkRequest("POST", "/create", body: data, op: "CreatePod"))
        return (r, core)
    }

    @Test(arguments: [
        "multi-container-partial-fail-" + "3f2b9c1e-8d4a-4e6f-9b2a-1c3d5e7f9a0b",   // 65 characters, no dots
        String(repeating: "a", count: 100) + "." + String(repeating: "b", count: 100) + "." + String(repeating: "c", count: 51),
        String(repeating: "x", count: 253),
        "a", "a.b-c.0",
    ])
    func podNamesKubernetesAcceptsAreAccepted(name: String) async throws {
        let (r, core) = await create(body(name: name))
        #expect(r.status == 200, "\(name.count) characters: \(bodyText(r))")
        #expect(core.calls.withLock { $0.created.first?.pod.name } == name)
    }

    @Test(arguments: [String(repeating: "x", count: 254), "Upper", "under_score", "-lead", "trail-", ".dot", "dot.",
                      "a..b", "a.-b", "sp ace", ""])
    func podNamesKubernetesRefusesAre400(name: String) async throws {
        let (r, core) = await create(body(name: name))
        #expect(r.status == 400)
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test(arguments: [("3000000", Int64(86_400)), ("9223372036854775807", Int64(86_400)), ("86400", Int64(86_400)),
                      ("0", Int64(0)), ("45", Int64(45))])
    func gracePeriodsAboveTheBoundAreClampedBeforeTheCoreSeesThem(raw: String, stored: Int64) async throws {
        let (r, core) = await create(body(spec: #", "terminationGracePeriodSeconds": \#(raw)"#))
        #expect(r.status == 200, "\(bodyText(r))")
        #expect(core.calls.withLock { $0.created.first?.pod.spec?.terminationGracePeriodSeconds } == stored)
    }

    @Test func aProbesGracePeriodIsClampedToo() async throws {
        let probe = #", "livenessProbe": {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 9223372036854775807}"#
        let (r, core) = await create(body(container: probe))
        #expect(r.status == 200, "\(bodyText(r))")
        #expect(core.calls.withLock { $0.created.first?.pod.containers.first?.livenessProbe?.terminationGracePeriodSeconds } == 86_400)
    }

    @Test(arguments: [
        (#", "terminationGracePeriodSeconds": -1"#, "terminationGracePeriodSeconds"),
        (#", "terminationGracePeriodSeconds": -9223372036854775808"#, "terminationGracePeriodSeconds"),
        (#", "terminationGracePeriodSeconds": 9223372036854775808"#, "number"),   // beyond Int64: a decode error
        (#", "terminationGracePeriodSeconds": 1e30"#, "number"),
        (#", "activeDeadlineSeconds": 0"#, "activeDeadlineSeconds"),
        (#", "activeDeadlineSeconds": 9223372036854775807"#, "activeDeadlineSeconds"),
        (#", "activeDeadlineSeconds": 2147483648"#, "activeDeadlineSeconds"),
        (#", "securityContext": {"runAsUser": -1}"#, "runAsUser"),
        (#", "securityContext": {"fsGroup": 4294967296}"#, "fsGroup"),
    ])
    func podNumbersKubernetesRefusesAre400(spec: String, mentions: String) async throws {
        let (r, core) = await create(body(spec: spec))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains(mentions) == true, "\(errorMessage(r) ?? "")")
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test func theLargestActiveDeadlineKubernetesAllowsIsAccepted() async throws {
        let (r, _) = await create(body(spec: #", "activeDeadlineSeconds": 2147483647"#))
        #expect(r.status == 200, "\(bodyText(r))")
    }

    @Test(arguments: [
        (#", "resources": {"limits": {"cpu": "1e400"}}"#, "cpu"),
        (#", "resources": {"limits": {"memory": "99999999Ei"}}"#, "memory"),
        (#", "resources": {"requests": {"cpu": "-1"}}"#, "negative"),
        (#", "resources": {"limits": {"nvidia.com/gpu": "one"}}"#, "nvidia.com/gpu"),
        (#", "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}}]"#, "positive"),
        (#", "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 2147483648}"#, "number"),
        (#", "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": -5}"#, "periodSeconds"),
        (#", "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}"#, "successThreshold"),
        (#", "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}"#, "exactly one"),
        (#", "readinessProbe": {}"#, "exactly one"),
        (#", "startupProbe": {"httpGet": {"port": 70000}}"#, "port"),
        (#", "startupProbe": {"httpGet": {"port": "no_such"}}"#, "port"),
        (#", "startupProbe": {"httpGet": {"port": 80, "path": "/x\r\nHost: evil"}}"#, "path"),
        (#", "startupProbe": {"httpGet": {"port": 80, "httpHeaders": [{"name": "X", "value": "a\r\nb: c"}]}}"#, "header"),
        (#", "startupProbe": {"httpGet": {"port": 80, "scheme": "FTP"}}"#, "scheme"),
        (#", "lifecycle": {"preStop": {"sleep": {"seconds": 31}}}"#, "grace period"),
        (#", "lifecycle": {"postStart": {"exec": {"command": []}}}"#, "command"),
        (#", "ports": [{"containerPort": 0}]"#, "containerPort"),
        (#", "securityContext": {"runAsGroup": 2147483648}"#, "runAsGroup"),
        (#", "terminationMessagePolicy": "Sometimes""#, "terminationMessagePolicy"),
    ])
    func containerNumbersAndProbesKubernetesRefusesAre400(container: String, mentions: String) async throws {
        let (r, core) = await create(body(container: container))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains(mentions) == true, "\(errorMessage(r) ?? "")")
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test func probesAndHooksKubernetesAcceptsAreRecordedWhole() async throws {
        let container = """
        , "ports": [{"name": "http", "containerPort": 8080}],
          "startupProbe": {"tcpSocket": {"port": "http"}, "failureThreshold": 30, "periodSeconds": 1},
          "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [{"name": "X-Probe", "value": "1"}]}},
          "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "successThreshold": 2},
          "lifecycle": {"postStart": {"exec": {"command": ["touch", "/tmp/started"]}}, "preStop": {"sleep": {"seconds": 5}}},
          "terminationMessagePolicy": "FallbackToLogsOnError", "workingDir": "/work",
          "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "readOnlyRootFilesystem": true}
        """
        let (r, core) = await create(body(container: container))
        #expect(r.status == 200, "\(bodyText(r))")
        let c = try #require(core.calls.withLock { $0.created.first?.pod.containers.first })
        #expect(c.startupProbe?.tcpSocket?.port == .string("http"))
        #expect(c.livenessProbe?.httpGet?.httpHeaders == [HTTPHeader(name: "X-Probe", value: "1")])
        #expect(c.readinessProbe?.effectiveSuccessThreshold == 2)
        #expect(c.lifecycle?.preStop?.sleep?.seconds == 5)
        #expect(c.securityContext?.readOnlyRootFilesystem == true)
    }

    /// A Go-VK-shaped request (Go's JSON of PodCreateRequests: nulls, server fields, the
    /// kube-api-access-* and a downwardAPI volume resolved into projectedvolumesmaps,
    /// no kube-root-ca.crt in configmaps, the suite's annotations, a 65-character name).
    @Test func theServiceAccountVolumeAsTheGoVKSendsItIsAcceptedAndRecordedByteExact() async throws {
        let (r, core) = await create(try Fixture.data("vk-create-service-account.json"))
        #expect(r.status == 200, "\(bodyText(r))")
        let sent = try #require(core.calls.withLock { $0.created.first })
        #expect(sent.pod.name.count == 65)
        #expect(sent.configmaps == nil)
        let map = try #require(sent.projectedvolumesmaps?.first { $0.metadata.name == "kube-api-access-q7w2z" })
        #expect(map.data?["ca.crt"] == "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\n-----END CERTIFICATE-----\n")
        #expect(map.data?["namespace"] == "interlink")
        #expect(sent.pod.volumes.first?.projected?.sources?.first?.serviceAccountToken?.path == "token")
    }

    @Test(arguments: ["../etc/passwd", "/abs", "a/../../b", "..data", "a//b"])
    func projectedMapKeysEscapingTheVolumeAre400(key: String) async throws {
        let maps = #"[{"metadata": {"name": "kube-api-access-x"}, "data": {"\#(key)": "x"}}]"#
        let (r, core) = await create(body(maps: maps))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains("projectedvolumesmaps") == true, "\(errorMessage(r) ?? "")")
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test func itemPathsEscapingTheirVolumeAre400() async throws {
        let volumes = #"[{"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "../../x"}]}}]"#
        let (r, _) = await create(body(volumes: volumes))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains("../../x") == true)
    }

    func logs(_ opts: String) async -> (HTTPResponse, FakeCore) {
        let core = FakeCore(knownUIDs: [uid])
        let data = Data(#"{"Namespace": "default", "PodUID": "\#(uid)", "PodName": "p", "ContainerName": "main", "Opts": {\#(opts)}}"#.utf8)
        return (await InterLinkAPI(core: core, auth: nil).handle(vkRequest("GET", "/getLogs", body: data)), core)
    }

    @Test func hugeLogCountsAreClampedToTheirBounds() async throws {
        for (opts, check) in [(#""Tail": 9223372036854775807"#, { (o: LogOpts) in o.Tail == PodBounds.maxLogTail }),
                              (#""Bytes": 9223372036854775807"#, { (o: LogOpts) in o.Bytes == PodBounds.maxLogBytes }),
                              (#""SinceSeconds": 9223372036854775807"#, { (o: LogOpts) in o.SinceSeconds == PodBounds.maxLogSinceSeconds })] {
            let (r, core) = await logs(opts)
            #expect(r.status == 200, "\(opts)")
            let got = try #require(core.calls.withLock { $0.logs.first?.Opts })
            #expect(check(got), "\(opts) -> \(got)")
        }
    }

    @Test(arguments: [#""Tail": -9223372036854775808"#, #""Bytes": -1"#, #""SinceSeconds": -1"#,
                      #""Tail": 9223372036854775808"#, #""Bytes": 1e19"#, #""SinceSeconds": "10""#])
    func negativeOrUnrepresentableLogCountsAre400(opts: String) async throws {
        let (r, core) = await logs(opts)
        #expect(r.status == 400)
        #expect(core.calls.withLock { $0.logs.isEmpty })
    }

    @Test func deleteTakesAPodWithAnyGracePeriod() async throws {
        let core = FakeCore()
        let pod = #"{"metadata": {"name": "p", "namespace": "default", "uid": "\#(uid)"}, "spec": {"containers": [], "terminationGracePeriodSeconds": 9223372036854775807}}"#
        let r = await InterLinkAPI(core: core, auth: nil).handle(vkRequest("DELETE", "/delete", body: Data(pod.utf8)))
        #expect(r.status == 200)
        #expect(core.calls.withLock { $0.deleted.map(\.uid) } == [uid])
    }
}
