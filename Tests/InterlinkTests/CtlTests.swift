import Config
import Foundation
@testable import interlink
import Model
import Testing

@Suite("ctl: manifests into a create request")
struct CtlManifestTests {
    let pod = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: demo
    spec:
      containers:
        - name: app
          image: busybox
          envFrom:
            - secretRef:
                name: creds
          volumeMounts:
            - name: cfg
              mountPath: /cfg
      volumes:
        - name: cfg
          configMap:
            name: settings
    """
    let extras = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
    data:
      a.conf: "x=1"
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: creds
    stringData:
      PASSWORD: hunter2
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: unrelated
    """

    @Test func bundlesThePodWithWhatItReferencesAndDefaults() throws {
        let b = try CtlManifest.bundle([("pod.yaml", pod), ("extras.yaml", extras)], newUID: { "11111111-2222-3333-4444-555555555555" })
        #expect(b.request.pod.namespace == "default")
        #expect(b.request.pod.uid == "11111111-2222-3333-4444-555555555555")
        #expect(b.generatedUID)
        #expect(b.request.configmaps?.map { $0.metadata.name } == ["settings"])
        // stringData is folded into base64 data, as the API server does.
        #expect(b.request.secrets?.first?.data?["PASSWORD"] == Data("hunter2".utf8).base64EncodedString())
        #expect(b.unused == ["ConfigMap default/unrelated"])
    }

    @Test func aReferencedConfigMapNoFileHoldsIsAnErrorBeforeAnythingIsSent() {
        #expect(throws: CtlManifest.ManifestError.self) {
            _ = try CtlManifest.bundle([("pod.yaml", pod)])
        }
    }

    @Test func exactlyOnePodIsRequired() {
        #expect(throws: CtlManifest.ManifestError.self) { _ = try CtlManifest.bundle([("x.yaml", extras)]) }
        #expect(throws: CtlManifest.ManifestError.self) {
            _ = try CtlManifest.bundle([("a.yaml", pod), ("b.yaml", pod), ("extras.yaml", extras)])
        }
    }

    @Test func jsonManifestsWorkToo() throws {
        let json = #"{"kind":"Pod","metadata":{"name":"j","namespace":"ns","uid":"99999999-8888-7777-6666-555555555555"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#
        let b = try CtlManifest.bundle([("pod.json", json)])
        #expect(b.request.pod.uid == "99999999-8888-7777-6666-555555555555")
        #expect(!b.generatedUID)
    }

    @Test func theShippedExamplesAllBundle() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 4)
        for f in files {
            let text = try String(contentsOfFile: dir.appendingPathComponent(f).path, encoding: .utf8)
            let b = try CtlManifest.bundle([(f, text)])
            #expect(Validation.problem(withSpecOf: b.request.pod) == nil, "\(f)")
        }
    }
}

@Suite("ctl: command line")
struct CtlArgumentTests {
    @Test func parsesLogsWithFlags() throws {
        let a = try CtlArguments.parse(["logs", "hello", "-c", "main", "--tail", "5", "-f", "-n", "team"])
        #expect(a.command == .logs)
        #expect(a.positionals == ["hello"])
        #expect(a.container == "main")
        #expect(a.tail == 5)
        #expect(a.follow)
        #expect(a.namespace == "team")
    }

    @Test(arguments: [["frobnicate"], ["create"], ["logs", "x", "--tail", "many"], ["status", "-o", "yaml"]])
    func badCommandLinesAreOneLineUsageErrors(args: [String]) {
        do {
            _ = try CtlArguments.parse(args)
            Issue.record("\(args) should not parse")
        } catch {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
    }
}

@Suite("ctl: status table")
struct CtlTableTests {
    @Test func showsPhaseReadinessRestartsAndExitCodes() {
        let status = PodStatus(name: "p", UID: "u", namespace: "ns", JID: "1", containers: [
            ContainerStatus(name: "a", ready: true, restartCount: 2, state: .running(since: "2026-11-29T10:00:00Z")),
            ContainerStatus(name: "b", state: .terminated(ContainerStateTerminated(exitCode: 3, reason: "Error"))),
        ])
        let row = CtlTable.row(namespace: "ns", name: "p", status: status, created: nil, now: Date())
        let text = CtlTable.render([row])
        #expect(text.contains("Running"))
        #expect(text.contains("1/2"))
        #expect(text.contains("exit 3"))
        #expect(text.split(separator: "\n").count == 2)   // header + one row
    }
}

@Suite("serve: listen addresses")
struct ServeAddressTests {
    func config(_ address: String, port: Int = 3000, tls: Bool = false) -> InterLinkConfig {
        var c = InterLinkConfig()
        c.interlinkAddress = address
        c.interlinkPort = port
        c.tls.enabled = tls
        return c
    }

    @Test func tcpAndUnixAddresses() throws {
        #expect(try Serve.listenAddress(config("http://127.0.0.1")) == .tcp(host: "127.0.0.1", port: 3000))
        #expect(try Serve.listenAddress(config("http://localhost:9999/", port: 4000)) == .tcp(host: "localhost", port: 4000))
        #expect(try Serve.listenAddress(config("http://[::1]")) == .tcp(host: "::1", port: 3000))
        #expect(try Serve.listenAddress(config("0.0.0.0")) == .tcp(host: "0.0.0.0", port: 3000))
        #expect(try Serve.listenAddress(config("unix:///run/il.sock")) == .unix(path: "/run/il.sock"))
    }

    @Test(arguments: ["unix://relative.sock", "https://127.0.0.1", "http://"])
    func unusableAddressesAreConfigErrors(address: String) {
        #expect(throws: ConfigError.self) { _ = try Serve.listenAddress(config(address)) }
    }

    @Test func tlsAddressesListenOnTheirHostAndPort() throws {
        #expect(try Serve.listenAddress(config("https://127.0.0.1", tls: true)) == .tcp(host: "127.0.0.1", port: 3000))
        #expect(try Serve.listenAddress(config("http://127.0.0.1", tls: true)) == .tcp(host: "127.0.0.1", port: 3000))
        #expect(throws: ConfigError.self) { _ = try Serve.listenAddress(config("http://127.0.0.1", port: 70000)) }
    }
}
