import FoundationEssentials
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

private func fileMode(_ path: String) -> Int {
    var st = stat()
    guard lstat(path, &st) == 0 else { return -1 }
    return Int(st.st_mode & 0o7777)
}

private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
private func text(_ path: String) -> String? { bytes(path).map { String(decoding: $0, as: UTF8.self) } }

/// Projected and downwardAPI volumes as the upstream Go VK sends them
/// (`remoteExecutionHandleVolumes`): the volume's sources stay in the pod, the
/// VK's resolution of all of them arrives as one ConfigMap in
/// `projectedvolumesmaps` named after the volume, and the sources' ConfigMaps
/// (`kube-root-ca.crt`) are *not* in `configmaps`.
@Suite struct ProjectedVolumeTests {
    let tmp = WorkspaceTempRoot()
    var ws: PodWorkspace { PodWorkspace(dataRoot: tmp.path, namespace: "ns1", uid: "u-1") }

    static let pem = "-----BEGIN CERTIFICATE-----\nMIIC/zCCAeegAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\ncm5ldGVz\n-----END CERTIFICATE-----\n"
    static let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnMxOmRlZmF1bHQifQ.c2ln"

    /// The volume admission adds to every pod (Kubernetes >= 1.24), as the API server stores it.
    static let kubeAPIAccess = """
    {"name": "kube-api-access-7xk2p", "projected": {"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}
    """

    /// What the Go VK marshals for it: Go's `json.Marshal` of a `v1.ConfigMap`
    /// whose only metadata is the volume's name.
    static func sentMap(_ name: String, _ data: [String: String]) throws -> String {
        let d = String(decoding: try JSONEncoder().encode(data), as: UTF8.self)
        return #"{"metadata": {"name": "\#(name)", "creationTimestamp": null}, "data": \#(d)}"#
    }

    private func request(volumes: [String], mounts: String, maps: [String] = [], configmaps: String = "null",
                         labels: String = #"{"app": "demo", "tier": "web \"1\""}"#) throws -> DesiredPod {
        DesiredPod(request: try decodeRequest("""
        {"pod": {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1", "labels": \(labels),
                              "annotations": {"team": "hpc"}},
                 "spec": {"nodeName": "vk-node", "serviceAccountName": "default",
                          "containers": [{"name": "app", "image": "i", "volumeMounts": \(mounts),
                                          "resources": {"limits": {"cpu": "1500m", "memory": "256Mi"}}}],
                          "volumes": [\(volumes.joined(separator: ", "))]}},
         "configmaps": \(configmaps), "secrets": null,
         "projectedvolumesmaps": [\(maps.joined(separator: ", "))]}
        """))
    }

    @Test func theServiceAccountVolumeIsTheVKsMapByteExactWithoutKubeRootCAInConfigmaps() throws {
        let p = try request(volumes: [Self.kubeAPIAccess],
                            mounts: #"[{"name": "kube-api-access-7xk2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]"#,
                            maps: [try Self.sentMap("kube-api-access-7xk2p", ["token": Self.token, "ca.crt": Self.pem, "namespace": "ns1"])])
        let m = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("kube-api-access-7xk2p")
        #expect(text(dir + "/token") == Self.token)
        #expect(text(dir + "/ca.crt") == Self.pem)
        #expect(text(dir + "/namespace") == "ns1")
        for f in ["token", "ca.crt", "namespace"] { #expect(fileMode(dir + "/" + f) == 0o644, "\(f)") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["ca.crt", "namespace", "token"])
        #expect(m.mounts["app"] == [Mount(hostPath: dir, containerPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true)])
    }

    @Test func theSentMapWinsAndSourcesOnlyFillThePathsItLacks() throws {
        let volume = #"{"name": "bundle", "projected": {"defaultMode": 416, "sources": [{"configMap": {"name": "cm"}}, {"downwardAPI": {"items": [{"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}}, {"path": "meta/labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}}"#
        let p = try request(volumes: [volume], mounts: #"[{"name": "bundle", "mountPath": "/b"}]"#,
                            maps: [try Self.sentMap("bundle", ["shared": "from the VK", "meta/name": "vk-name"])],
                            configmaps: #"[{"metadata": {"name": "cm"}, "data": {"shared": "from configmaps", "only-here": "x"}}]"#)
        _ = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("bundle")
        #expect(text(dir + "/shared") == "from the VK")
        #expect(text(dir + "/only-here") == "x")
        #expect(text(dir + "/meta/name") == "vk-name")
        #expect(text(dir + "/meta/labels") == "app=\"demo\"\ntier=\"web \\\"1\\\"\"\n")
        #expect(fileMode(dir + "/only-here") == 0o640)
    }

    @Test func aMissingSourceIsAnErrorOnlyWhenNothingWasSentForTheVolume() throws {
        let mounts = #"[{"name": "kube-api-access-7xk2p", "mountPath": "/sa"}]"#
        #expect(throws: ProviderError.invalidPod("volume \"kube-api-access-7xk2p\" refers to ConfigMap \"kube-root-ca.crt\", which was not sent with the pod")) {
            try ws.materialise(try request(volumes: [Self.kubeAPIAccess], mounts: mounts), allowHostPath: false)
        }
        // The VK sent a map without ca.crt (it could not read kube-root-ca.crt): the volume is what it sent.
        let p = try request(volumes: [Self.kubeAPIAccess], mounts: mounts,
                            maps: [try Self.sentMap("kube-api-access-7xk2p", ["token": "t"])])
        _ = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("kube-api-access-7xk2p")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["namespace", "token"])
        #expect(text(dir + "/namespace") == "ns1")  // resolved here: the VK did not send it
    }

    @Test func keysAreFilePathsWithSubdirectoriesAndModesFromTheirSourceItems() throws {
        let volume = #"{"name": "bundle", "projected": {"sources": [{"configMap": {"name": "cm", "items": [{"key": "k", "path": "conf/app/k.ini", "mode": 256}]}}, {"serviceAccountToken": {"path": "sa/token"}}]}}"#
        let p = try request(volumes: [volume], mounts: #"[{"name": "bundle", "mountPath": "/b"}]"#,
                            maps: [try Self.sentMap("bundle", ["conf/app/k.ini": "k=1\n", "sa/token": "t", "unknown/origin": "u"])])
        _ = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("bundle")
        #expect(text(dir + "/conf/app/k.ini") == "k=1\n")
        #expect(fileMode(dir + "/conf/app/k.ini") == 0o400)
        #expect(fileMode(dir + "/sa/token") == 0o600)       // no defaultMode: tokens stay private
        #expect(fileMode(dir + "/unknown/origin") == 0o600)
    }

    @Test(arguments: ["../escape", "/etc/passwd", "a/../../b", "..data", "a//b", "./a", "a/.", "x\u{0}y"])
    func mapKeysEscapingTheVolumeAreRefused(key: String) throws {
        let p = try request(volumes: [Self.kubeAPIAccess], mounts: #"[{"name": "kube-api-access-7xk2p", "mountPath": "/sa"}]"#,
                            maps: [try Self.sentMap("kube-api-access-7xk2p", [key: "x", "token": "t"])])
        #expect(throws: ProviderError.invalidPod("volume \"kube-api-access-7xk2p\": file path \"\(key)\" must be relative and stay inside the volume")) {
            try ws.materialise(p, allowHostPath: false)
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/escape"))
    }

    @Test func aKeyThatIsBothAFileAndADirectoryIsRefused() throws {
        let p = try request(volumes: [Self.kubeAPIAccess], mounts: #"[{"name": "kube-api-access-7xk2p", "mountPath": "/sa"}]"#,
                            maps: [try Self.sentMap("kube-api-access-7xk2p", ["a": "file", "a/b": "nested"])])
        #expect(throws: ProviderError.invalidPod("volume \"kube-api-access-7xk2p\": \"a\" cannot be both a file and the directory of \"a/b\"")) {
            try ws.materialise(p, allowHostPath: false)
        }
    }

    @Test func aFileThatBecomesADirectoryOnANewVersionIsReplaced() throws {
        let mounts = #"[{"name": "kube-api-access-7xk2p", "mountPath": "/sa"}]"#
        _ = try ws.materialise(try request(volumes: [Self.kubeAPIAccess], mounts: mounts,
                                           maps: [try Self.sentMap("kube-api-access-7xk2p", ["a": "file"])]), allowHostPath: false)
        _ = try ws.materialise(try request(volumes: [Self.kubeAPIAccess], mounts: mounts,
                                           maps: [try Self.sentMap("kube-api-access-7xk2p", ["a/b": "nested"])]), allowHostPath: false)
        let dir = ws.volumeDirectory("kube-api-access-7xk2p")
        #expect(text(dir + "/a/b") == "nested")
        _ = try ws.materialise(try request(volumes: [Self.kubeAPIAccess], mounts: mounts,
                                           maps: [try Self.sentMap("kube-api-access-7xk2p", ["a": "file again"])]), allowHostPath: false)
        #expect(text(dir + "/a") == "file again")
    }

    @Test func binaryDataOfTheMapIsWrittenByteExact() throws {
        let map = #"{"metadata": {"name": "bundle"}, "binaryData": {"blob": "AAEC/w=="}, "data": {"text": "tab\there\r\nünï"}}"#
        let p = try request(volumes: [#"{"name": "bundle", "projected": {"sources": []}}"#],
                            mounts: #"[{"name": "bundle", "mountPath": "/b"}]"#, maps: [map])
        _ = try ws.materialise(p, allowHostPath: false)
        #expect(bytes(ws.volumeDirectory("bundle") + "/blob") == Data([0, 1, 2, 255]))
        #expect(bytes(ws.volumeDirectory("bundle") + "/text") == Data("tab\there\r\nünï".utf8))
    }

    /// The Go VK rewrites a downwardAPI volume into a projected one with one
    /// downwardAPI source and sends the values it resolved.
    @Test func aDownwardAPIVolumeAsTheVKRewritesItIsItsMap() throws {
        let volume = #"{"name": "podinfo", "projected": {"defaultMode": 420, "sources": [{"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}, {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}"#
        let p = try request(volumes: [volume], mounts: #"[{"name": "podinfo", "mountPath": "/etc/podinfo"}]"#,
                            maps: [try Self.sentMap("podinfo", ["labels": "app=\"from-vk\"\n", "name": "web"])])
        _ = try ws.materialise(p, allowHostPath: false)
        #expect(text(ws.volumeDirectory("podinfo") + "/labels") == "app=\"from-vk\"\n")
        #expect(text(ws.volumeDirectory("podinfo") + "/name") == "web")
    }

    @Test func aPlainDownwardAPIVolumeIsResolvedHereWhenNothingWasSent() throws {
        let volume = #"{"name": "podinfo", "downwardAPI": {"defaultMode": 292, "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}, {"path": "team", "fieldRef": {"fieldPath": "metadata.annotations['team']"}}, {"path": "uid", "mode": 256, "fieldRef": {"fieldPath": "metadata.uid"}}, {"path": "mem_mb", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}}, {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}}]}}"#
        let p = try request(volumes: [volume], mounts: #"[{"name": "podinfo", "mountPath": "/etc/podinfo"}]"#)
        let m = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("podinfo")
        #expect(text(dir + "/labels") == "app=\"demo\"\ntier=\"web \\\"1\\\"\"\n")
        #expect(text(dir + "/team") == "hpc")
        #expect(text(dir + "/uid") == "u-1")
        #expect(text(dir + "/mem_mb") == "256")
        #expect(text(dir + "/cpu") == "2")   // 1500m rounded up to whole CPUs, as the kubelet does
        #expect(fileMode(dir + "/team") == 0o444)
        #expect(fileMode(dir + "/uid") == 0o400)
        #expect(m.mounts["app"]?.first?.readOnly == true)
    }

    @Test func anUnsupportedDownwardFieldFailsOnlyWithoutAMap() throws {
        let volume = #"{"name": "podinfo", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nonsense"}}]}}"#
        let mounts = #"[{"name": "podinfo", "mountPath": "/p"}]"#
        #expect(throws: ProviderError.invalidPod("volume \"podinfo\" file x uses fieldRef \"spec.nonsense\", which InterLink does not support")) {
            try ws.materialise(try request(volumes: [volume], mounts: mounts), allowHostPath: false)
        }
        _ = try ws.materialise(try request(volumes: [volume], mounts: mounts, maps: [try Self.sentMap("podinfo", [:])]), allowHostPath: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.volumeDirectory("podinfo")).isEmpty)
    }
}
