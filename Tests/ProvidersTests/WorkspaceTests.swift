import FoundationEssentials
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary data root per test, removed afterwards.
final class WorkspaceTempRoot: Sendable {
    let path: String
    init() {
        var template = Array("/tmp/ilws-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

private func mode(_ path: String) -> Int {
    var st = stat()
    guard stat(path, &st) == 0 else { return -1 }
    return Int(st.st_mode & 0o7777)
}

private func read(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

@Suite struct WorkspaceTests {
    let tmp = WorkspaceTempRoot()

    /// A pod with one container `app` mounting `mounts` (JSON array) and `volumes`.
    private func pod(volumes: String, mounts: String, extra: String = "") throws -> DesiredPod {
        DesiredPod(request: try decodeRequest("""
        {"pod": {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1"},
                 "spec": {"containers": [{"name": "app", "image": "i", "volumeMounts": \(mounts)}],
                          "volumes": \(volumes)}}
         \(extra)}
        """))
    }

    private var ws: PodWorkspace { PodWorkspace(dataRoot: tmp.path, namespace: "ns1", uid: "u-1") }

    @Test func configMapKeysBecomeReadOnlyFilesWithDefaultMode() throws {
        let p = try pod(volumes: #"[{"name": "cfg", "configMap": {"name": "cm"}}]"#,
                        mounts: #"[{"name": "cfg", "mountPath": "/etc/cfg"}]"#,
                        extra: #", "configmaps": [{"metadata": {"name": "cm"}, "data": {"a.conf": "x=1\n\"q\" ✓", "empty": ""}, "binaryData": {"bin": "AAEC/w=="}}]"#)
        let m = try ws.materialise(p, allowHostPath: false)
        let dir = tmp.path + "/ns1-u-1/volumes/cfg"
        #expect(m.mounts["app"] == [Mount(hostPath: dir, containerPath: "/etc/cfg", readOnly: true)])
        #expect(read(dir + "/a.conf") == "x=1\n\"q\" ✓")
        #expect(read(dir + "/empty") == "")
        #expect(FileManager.default.contents(atPath: dir + "/bin") == Data([0, 1, 2, 255]))
        #expect(mode(dir + "/a.conf") == 0o644)
        #expect(mode(tmp.path + "/ns1-u-1") == 0o700)
    }

    @Test func itemsMapKeysToPathsWithTheirModes() throws {
        let p = try pod(volumes: #"[{"name": "cfg", "configMap": {"name": "cm", "defaultMode": 256, "items": [{"key": "a", "path": "sub/dir/a.txt", "mode": 493}, {"key": "b", "path": "b.txt"}]}}]"#,
                        mounts: #"[{"name": "cfg", "mountPath": "/c"}]"#,
                        extra: #", "configmaps": [{"metadata": {"name": "cm"}, "data": {"a": "A", "b": "B", "c": "C"}}]"#)
        _ = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("cfg")
        #expect(read(dir + "/sub/dir/a.txt") == "A")
        #expect(mode(dir + "/sub/dir/a.txt") == 0o755)
        #expect(mode(dir + "/b.txt") == 0o400)
        #expect(!FileManager.default.fileExists(atPath: dir + "/c"))
    }

    @Test func secretsAreDecodedAndPrivateByDefault() throws {
        let p = try pod(volumes: #"[{"name": "s", "secret": {"secretName": "sec"}}, {"name": "s2", "secret": {"secretName": "sec", "defaultMode": 292}}]"#,
                        mounts: #"[{"name": "s", "mountPath": "/s", "readOnly": false}, {"name": "s2", "mountPath": "/s2"}]"#,
                        extra: #", "secrets": [{"metadata": {"name": "sec"}, "data": {"password": "\#(b64("hunter2\n"))"}}]"#)
        let m = try ws.materialise(p, allowHostPath: false)
        #expect(read(ws.volumeDirectory("s") + "/password") == "hunter2\n")
        #expect(mode(ws.volumeDirectory("s") + "/password") == 0o600)
        #expect(mode(ws.volumeDirectory("s2") + "/password") == 0o444)
        #expect(m.mounts["app"]?.allSatisfy(\.readOnly) == true)  // even when the pod asks for read-write
    }

    @Test func projectedSourcesAreResolvedFromTheRequestWhenNoMapWasSent() throws {
        // A hand-written request (ctl): the projected volume's ConfigMap and Secret come in
        // configmaps/secrets, and nothing in projectedvolumesmaps.
        let p = try pod(volumes: #"[{"name": "bundle", "projected": {"defaultMode": 420, "sources": [{"configMap": {"name": "cm", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}, {"secret": {"name": "sec"}}]}}]"#,
                        mounts: #"[{"name": "bundle", "mountPath": "/b"}]"#,
                        extra: """
                        , "configmaps": [{"metadata": {"name": "cm"}, "data": {"ca.crt": "CA"}}]
                        , "secrets": [{"metadata": {"name": "sec"}, "data": {"extra": "\(b64("E"))"}}]
                        """)
        let m = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("bundle")
        #expect(read(dir + "/ca.crt") == "CA")
        #expect(read(dir + "/extra") == "E")
        #expect(mode(dir + "/extra") == 0o644)
        #expect(m.mounts["app"]?.first?.readOnly == true)
    }

    @Test func emptyDirSurvivesRepeatedMaterialiseAndSubPathIsCreated() throws {
        let p = try pod(volumes: #"[{"name": "scratch", "emptyDir": {}}]"#,
                        mounts: #"[{"name": "scratch", "mountPath": "/data"}, {"name": "scratch", "mountPath": "/logs", "subPath": "logs/app", "readOnly": true}]"#)
        let m = try ws.materialise(p, allowHostPath: false)
        let dir = ws.volumeDirectory("scratch")
        #expect(mode(dir) == 0o777)
        #expect(m.mounts["app"] == [Mount(hostPath: dir, containerPath: "/data", readOnly: false),
                                    Mount(hostPath: dir + "/logs/app", containerPath: "/logs", readOnly: true,
                                          subPath: SubPathMount(base: dir, relative: "logs/app", volume: "scratch"))])
        #expect(WorkspaceFiles.isDirectory(dir + "/logs/app"))
        try WorkspaceFiles.writeAtomically(Data("kept".utf8), to: dir + "/state", mode: 0o644)
        _ = try ws.materialise(p, allowHostPath: false)
        #expect(read(dir + "/state") == "kept")
    }

    @Test func rematerialiseReplacesChangedDataAndDropsRemovedKeys() throws {
        let cm = #"[{"name": "cfg", "configMap": {"name": "cm"}}]"#, mounts = #"[{"name": "cfg", "mountPath": "/c"}]"#
        _ = try ws.materialise(try pod(volumes: cm, mounts: mounts, extra: #", "configmaps": [{"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}}]"#), allowHostPath: false)
        _ = try ws.materialise(try pod(volumes: cm, mounts: mounts, extra: #", "configmaps": [{"metadata": {"name": "cm"}, "data": {"a": "new"}}]"#), allowHostPath: false)
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.volumeDirectory("cfg"))
        #expect(names == ["a"])  // no temp files, no stale keys
        #expect(read(ws.volumeDirectory("cfg") + "/a") == "new")
    }

    @Test func hostPathNeedsPermission() throws {
        let outside = tmp.path + "-host"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let p = try pod(volumes: #"[{"name": "h", "hostPath": {"path": "\#(outside)"}}]"#,
                        mounts: #"[{"name": "h", "mountPath": "/h", "readOnly": true}]"#)
        #expect(throws: ProviderError.invalidPod("volume \"h\": hostPath volumes are disabled (AllowHostPath)")) {
            try ws.materialise(p, allowHostPath: false)
        }
        let m = try ws.materialise(p, allowHostPath: true)
        #expect(m.mounts["app"] == [Mount(hostPath: outside, containerPath: "/h", readOnly: true)])
    }

    /// DataRootFolder holds every pod's Secrets: even with AllowHostPath no pod may
    /// bind it, anything inside it, a parent of it, or a link leading there.
    @Test func aHostPathReachingDataRootFolderIsRefusedEvenWhenHostPathIsAllowed() throws {
        let link = tmp.path + "-link"
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: tmp.path)
        defer { try? FileManager.default.removeItem(atPath: link) }
        try FileManager.default.createDirectory(atPath: tmp.path + "/state", withIntermediateDirectories: true)
        for path in [tmp.path, tmp.path + "/state", tmp.path + "/", "/", URL(fileURLWithPath: tmp.path).deletingLastPathComponent().path, link, link + "/state"] {
            let p = try pod(volumes: #"[{"name": "h", "hostPath": {"path": "\#(path)"}}]"#,
                            mounts: #"[{"name": "h", "mountPath": "/h"}]"#)
            #expect(throws: ProviderError.invalidPod("volume \"h\": hostPath \"\(path)\" reaches InterLink's DataRootFolder (\(tmp.path)), which holds other pods' Secrets")) {
                try ws.materialise(p, allowHostPath: true)
            }
        }
    }

    @Test func missingConfigMapIsAnErrorUnlessOptional() throws {
        let mounts = #"[{"name": "cfg", "mountPath": "/c"}]"#
        #expect(throws: ProviderError.invalidPod("volume \"cfg\" refers to ConfigMap \"settings\", which was not sent with the pod")) {
            try ws.materialise(try pod(volumes: #"[{"name": "cfg", "configMap": {"name": "settings"}}]"#, mounts: mounts), allowHostPath: false)
        }
        let m = try ws.materialise(try pod(volumes: #"[{"name": "cfg", "configMap": {"name": "settings", "optional": true}}]"#, mounts: mounts), allowHostPath: false)
        #expect(m.mounts["app"]?.first?.hostPath == ws.volumeDirectory("cfg"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.volumeDirectory("cfg")).isEmpty)
    }

    @Test(arguments: ["../escape", "/etc/passwd", "a/../../b", ".."])
    func pathsEscapingTheVolumeAreRejected(path: String) throws {
        let items = try pod(volumes: #"[{"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "\#(path)"}]}}]"#,
                            mounts: #"[{"name": "cfg", "mountPath": "/c"}]"#,
                            extra: #", "configmaps": [{"metadata": {"name": "cm"}, "data": {"a": "x"}}]"#)
        #expect(throws: ProviderError.invalidPod("volume \"cfg\": file path \"\(path)\" must be relative and stay inside the volume")) {
            try ws.materialise(items, allowHostPath: false)
        }
        let sub = try pod(volumes: #"[{"name": "e", "emptyDir": {}}]"#,
                          mounts: #"[{"name": "e", "mountPath": "/e", "subPath": "\#(path)"}]"#)
        #expect(throws: ProviderError.invalidPod("container app: subPath \"\(path)\" of volume \"e\" must be a relative path without \"..\"")) {
            try ws.materialise(sub, allowHostPath: false)
        }
    }

    @Test func subPathThroughASymlinkPlantedInAnEmptyDirIsRejected() throws {
        let p = try pod(volumes: #"[{"name": "e", "emptyDir": {}}]"#,
                        mounts: #"[{"name": "e", "mountPath": "/e", "subPath": "link/x"}]"#)
        try WorkspaceFiles.makeDirectory(ws.volumeDirectory("e"), mode: 0o777)
        try FileManager.default.createSymbolicLink(atPath: ws.volumeDirectory("e") + "/link", withDestinationPath: "/")
        #expect(throws: ProviderError.invalidPod("container app: subPath \"link/x\" of volume \"e\" goes through a symbolic link (link), which could lead outside the volume; refused")) {
            try ws.materialise(p, allowHostPath: false)
        }
    }

    @Test func aSubPathIsResolvedWithoutFollowingAnyLinkAndAgainLater() throws {
        let base = ws.volumeDirectory("r")
        try WorkspaceFiles.makeDirectory(base + "/a/b", mode: 0o777)
        let sub = SubPathMount(base: base, relative: "a/b", volume: "r")
        #expect(try sub.resolve(container: "c") == base + "/a/b")
        // Swapped after the first check: the second one sees it, wherever the link points.
        try FileManager.default.removeItem(atPath: base + "/a/b")
        try FileManager.default.createSymbolicLink(atPath: base + "/a/b", withDestinationPath: base)
        #expect(throws: ProviderError.self) { try sub.resolve(container: "c") }
        try FileManager.default.removeItem(atPath: base + "/a")
        try FileManager.default.createSymbolicLink(atPath: base + "/a", withDestinationPath: "/tmp")
        #expect(throws: ProviderError.self) { try sub.resolve(container: "c") }
        #expect(try WorkspaceFiles.resolveBeneath(base: base, relative: "a/b", createMissing: true) == .symlink("a"))
        #expect(try WorkspaceFiles.resolveBeneath(base: base, relative: "new/dir", createMissing: false) == .missing("new"))
        #expect(try WorkspaceFiles.resolveBeneath(base: base, relative: "new/dir", createMissing: true) == .resolved(base + "/new/dir"))
        #expect(mode(base + "/new/dir") == 0o777)
    }

    @Test func undeclaredAndUnsupportedVolumesAreNamed() throws {
        #expect(throws: ProviderError.invalidPod("container app mounts volume \"nope\", which the pod does not declare")) {
            try ws.materialise(try pod(volumes: "[]", mounts: #"[{"name": "nope", "mountPath": "/n"}]"#), allowHostPath: false)
        }
        #expect(throws: ProviderError.invalidPod("volume \"data\" has type persistentVolumeClaim, which InterLink does not support (use configMap, secret, projected, downwardAPI, emptyDir or hostPath)")) {
            try ws.materialise(try pod(volumes: #"[{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]"#,
                                       mounts: #"[{"name": "data", "mountPath": "/d"}]"#), allowHostPath: false)
        }
    }

    @Test func removeDeletesEverythingAndIsIdempotent() throws {
        _ = try ws.materialise(try pod(volumes: #"[{"name": "e", "emptyDir": {}}]"#, mounts: #"[{"name": "e", "mountPath": "/e", "subPath": "a/b"}]"#), allowHostPath: false)
        #expect(FileManager.default.fileExists(atPath: ws.root))
        try ws.remove()
        #expect(!FileManager.default.fileExists(atPath: ws.root))
        try ws.remove()
    }
}
