import Foundation
@testable import Model
import Testing

/// The container and volume fields later work needs decode as Kubernetes writes
/// them and survive a round trip through the journal's encoding.
@Suite("Model: probes, hooks, security context, downward API")
struct ContainerFieldsTests {
    static let podJSON = """
    {"metadata": {"name": "full", "namespace": "ns", "uid": "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"},
     "spec": {"serviceAccountName": "runner", "hostname": "h1", "activeDeadlineSeconds": 600,
      "securityContext": {"runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 3000},
      "containers": [{"name": "app", "image": "busybox", "workingDir": "/work",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "startupProbe": {"tcpSocket": {"port": "http"}, "failureThreshold": 30, "periodSeconds": 2},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTPS",
                          "httpHeaders": [{"name": "X-A", "value": "b"}]}, "initialDelaySeconds": 3, "timeoutSeconds": 2,
                          "terminationGracePeriodSeconds": 7},
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "successThreshold": 2},
        "lifecycle": {"postStart": {"httpGet": {"port": 80}}, "preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"runAsUser": 1001, "runAsGroup": 1002, "runAsNonRoot": true, "readOnlyRootFilesystem": true},
        "env": [{"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}]}],
      "volumes": [{"name": "podinfo", "downwardAPI": {"defaultMode": 420, "items": [
          {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
          {"path": "cpu", "mode": 256, "resourceFieldRef": {"containerName": "app", "resource": "requests.cpu", "divisor": "1m"}}]}},
        {"name": "kube-api-access-1", "projected": {"defaultMode": 420, "sources": [
          {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
          {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]},
     "status": {"phase": "Pending", "podIP": "10.0.0.5", "hostIP": "192.168.1.2"}}
    """

    @Test func everyFieldDecodesAsKubernetesWritesIt() throws {
        let pod = try WireJSON.decode(Pod.self, from: Data(Self.podJSON.utf8))
        let c = pod.containers[0]
        #expect(c.workingDir == "/work")
        #expect(c.ports == [ContainerPort(name: "http", containerPort: 8080, protocol: "TCP")])
        #expect(c.startupProbe?.tcpSocket?.port == .string("http"))
        #expect(c.startupProbe?.effectiveFailureThreshold == 30)
        #expect(c.livenessProbe?.httpGet?.port == .int(8080))
        #expect(c.livenessProbe?.httpGet?.scheme == "HTTPS")
        #expect(c.livenessProbe?.terminationGracePeriodSeconds == 7)
        #expect(c.readinessProbe?.exec?.command == ["cat", "/tmp/ready"])
        #expect(c.lifecycle?.postStart?.httpGet?.port == .int(80))
        #expect(c.lifecycle?.preStop?.exec?.command == ["sh", "-c", "sleep 1"])
        #expect(c.terminationMessagePolicy == "FallbackToLogsOnError")
        #expect(c.securityContext == SecurityContext(runAsUser: 1001, runAsGroup: 1002, readOnlyRootFilesystem: true).with { $0.runAsNonRoot = true })
        #expect(c.env?[0].valueFrom?.resourceFieldRef == ResourceFieldSelector(resource: "limits.memory", divisor: "1Mi"))
        #expect(c.env?[1].valueFrom?.fieldRef?.fieldPath == "status.podIP")
        #expect(pod.spec?.serviceAccountName == "runner")
        #expect(pod.spec?.securityContext?.fsGroup == 3000)
        #expect(pod.status?.podIP == "10.0.0.5")
        #expect(pod.volumes[0].downwardAPI?.items?[1].resourceFieldRef?.divisor == "1m")
        #expect(pod.volumes[0].unsupportedType == nil)
        #expect(pod.volumes[1].projected?.sources?[0].serviceAccountToken?.path == "token")
        #expect(pod.volumes[1].projected?.sources?[1].downwardAPI?.items?[0].fieldRef?.fieldPath == "metadata.namespace")
    }

    @Test func theJournalsEncodingRoundTripsEveryField() throws {
        let pod = try WireJSON.decode(Pod.self, from: Data(Self.podJSON.utf8))
        let again = try WireJSON.decode(Pod.self, from: try WireJSON.encode(pod))
        #expect(again == pod)
        #expect(again.containers[0].readinessProbe?.successThreshold == 2)
    }

    /// Probes, hooks, ports, envFrom and the security context sit behind one
    /// reference: setting one and clearing it again must leave a container equal
    /// (and hashing equal) to one that never had it, and every field is still written.
    @Test func aClearedRareFieldLeavesTheContainerAsItWas() throws {
        let plain = Container(name: "c", image: "busybox")
        var c = plain
        c.livenessProbe = Probe(exec: ExecAction(command: ["true"]))
        c.lifecycle = Lifecycle(preStop: LifecycleHandler(exec: ExecAction(command: ["sleep", "1"])))
        #expect(c != plain)
        var copy = c
        copy.livenessProbe?.periodSeconds = 3   // a change to a copy does not reach the original
        #expect(c.livenessProbe?.periodSeconds == nil)
        c.livenessProbe = nil
        c.lifecycle = nil
        #expect(c == plain)
        #expect(c.hashValue == plain.hashValue)
        // Volume sources and an env var's valueFrom are kept the same way.
        var v = Volume(name: "v", emptyDir: EmptyDirVolumeSource())
        #expect(v != Volume(name: "v"))
        v.emptyDir = nil
        #expect(v == Volume(name: "v"))
        var e = EnvVar(name: "IP", valueFrom: EnvVarSource(fieldRef: FieldSelector(fieldPath: "status.podIP")))
        let before = e
        e.valueFrom?.fieldRef?.fieldPath = "status.hostIP"
        #expect(before.valueFrom?.fieldRef?.fieldPath == "status.podIP")
        #expect(try WireJSON.decode(EnvVar.self, from: try WireJSON.encode(e)) == e)
        let pod = try WireJSON.decode(Pod.self, from: Data(Self.podJSON.utf8))
        let json = String(decoding: try WireJSON.encode(pod.containers[0]), as: UTF8.self)
        for key in ["workingDir", "securityContext", "ports", "startupProbe", "livenessProbe", "readinessProbe", "lifecycle",
                    "terminationMessagePath", "terminationMessagePolicy", "env"] {
            #expect(json.contains("\"\(key)\":"), "\(key) missing from \(json)")
        }
        #expect(try WireJSON.decode(Container.self, from: Data(json.utf8)) == pod.containers[0])
    }

    @Test func unsetProbeNumbersTakeKubernetesDefaults() {
        let p = Probe(exec: ExecAction(command: ["true"]), periodSeconds: 0)
        #expect(p.effectiveInitialDelaySeconds == 0)
        #expect(p.effectiveTimeoutSeconds == 1)
        #expect(p.effectivePeriodSeconds == 10)   // 0 means "default", as the API server defaults it
        #expect(p.effectiveSuccessThreshold == 1)
        #expect(p.effectiveFailureThreshold == 3)
    }

    @Test func aPortOutsideInt32IsADecodeError() {
        let json = #"{"port": 4294967296}"#
        #expect(throws: (any Error).self) { try WireJSON.decode(TCPSocketAction.self, from: Data(json.utf8)) }
    }
}

@Suite("Validation: Kubernetes' name rules")
struct NameValidationTests {
    @Test func podNamesAreDNSSubdomainsWithoutAPerPartLimit() {
        #expect(Validation.isDNSSubdomain("multi-container-partial-fail-3f2b9c1e-8d4a-4e6f-9b2a-1c3d5e7f9a0b"))
        #expect(Validation.isDNSSubdomain(String(repeating: "a", count: 253)))
        #expect(Validation.isDNSSubdomain(String(repeating: "a", count: 200) + "." + String(repeating: "b", count: 52)))
        #expect(!Validation.isDNSSubdomain(String(repeating: "a", count: 254)))
        for bad in ["", ".", "a.", ".a", "a..b", "-a", "a-", "a.-b", "a_b", "A", "a b", "ä"] {
            #expect(!Validation.isDNSSubdomain(bad), "\(bad)")
        }
    }

    @Test func namespacesStayDNSLabels() {
        #expect(Validation.isDNSLabel(String(repeating: "a", count: 63)))
        #expect(!Validation.isDNSLabel(String(repeating: "a", count: 64)))
        #expect(!Validation.isDNSLabel("a.b"))
        #expect(!Validation.isDNSLabel(""))
    }

    @Test(arguments: ["token", "ca.crt", "sub/dir/file", "a.b/c..d", String(repeating: "n", count: 255)])
    func volumeFilePathsThatStayInside(path: String) { #expect(Validation.isVolumeFilePath(path)) }

    @Test(arguments: ["", "/abs", "..", "../x", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "..data", "x\u{0}",
                      String(repeating: "n", count: 256)])
    func volumeFilePathsThatWouldEscapeOrBreak(path: String) { #expect(!Validation.isVolumeFilePath(path)) }

    @Test func fileAndDirectoryClashesAreFound() {
        #expect(Validation.conflictingPaths(["a", "b", "a/b/c"])! == ("a", "a/b/c"))
        #expect(Validation.conflictingPaths(["a/b", "a/c", "ab"]) == nil)
    }
}

private extension SecurityContext {
    func with(_ change: (inout SecurityContext) -> Void) -> SecurityContext {
        var copy = self
        change(&copy)
        return copy
    }
}
