import Foundation
import Model
import Providers
import Reconciler
import Server
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A plugin for the remote provider's tests: our own sidecar API over a real
/// reconciler and the mock provider, on a unix socket, with a count of the
/// calls it got (path -> n). `stop()` / `start()` take it down and bring it
/// back on the same socket, as a crashed and restarted sidecar would be.
final class TestPlugin: @unchecked Sendable {  // mutable server handle touched only by the test task
    let dir: String
    let socket: String
    let mock: MockProvider
    let reconciler: Reconciler
    let calls = Mutex([String: Int]())
    let override: Mutex<(@Sendable (HTTPRequest) -> HTTPResponse?)?> = Mutex(nil)
    private var server: HTTPServer?

    init(runSeconds: Double = 3600) async throws {
        var template = Array("/tmp/ilrem-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        socket = dir + "/plugin.sock"
        mock = MockProvider(runSeconds: runSeconds, startDelaySeconds: 0)
        reconciler = try await Reconciler(provider: mock, settings: ReconcilerSettings(
            interval: 3600, dataRoot: dir + "/sidecar", backoffBase: 0, unseenGraceSeconds: 3600))
        try start()
    }

    func start() throws {
        let api = SidecarAPI(core: reconciler, auth: nil)
        let s = HTTPServer(config: HTTPServerConfig(listen: .unix(path: socket))) { [self] req in
            calls.withLock { $0[req.path, default: 0] += 1 }
            if let o = override.withLock({ $0 }), let r = o(req) { return r }
            return await api.handle(req)
        }
        try s.start()
        server = s
    }

    func stop() async {
        await server?.shutdown()
        server = nil
    }

    func count(_ path: String) -> Int { calls.withLock { $0[path] ?? 0 } }

    var endpoint: PluginEndpoint { PluginEndpoint(sidecarURL: "unix://" + socket, sidecarPort: 0, timeoutSeconds: 5) }

    func provider(name: String = "remote") -> RemoteProvider {
        RemoteProvider(name: name, endpoint: endpoint, stateDirectory: dir + "/main/remote-\(name)", dataRoot: dir + "/main")
    }

    func close() async {
        await stop()
        await reconciler.stop()
    }
}

enum RemoteFx {
    static func uid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    static func pod(_ n: Int, restart: String = "Never", annotations: [String: String] = [:], labels: [String: String]? = nil) -> Pod {
        Pod(metadata: ObjectMeta(name: "pod-\(n)", namespace: "default", uid: uid(n), labels: labels, annotations: annotations),
            spec: PodSpec(containers: [Container(name: "main", image: "busybox", args: ["echo", "hi"])], restartPolicy: restart))
    }

    static func desired(_ n: Int, attempt: Int = 0, restart: String = "Never", annotations: [String: String] = [:]) -> DesiredPod {
        DesiredPod(request: PodCreateRequests(pod: pod(n, restart: restart, annotations: annotations)), attempt: attempt)
    }

    static func text(_ s: LogStream) async throws -> String {
        var d = Data()
        for try await c in s { d.append(c) }
        return String(decoding: d, as: UTF8.self)
    }
}
