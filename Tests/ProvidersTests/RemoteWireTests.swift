import Foundation
import Model
@testable import Providers
import Server
import Synchronization
import Testing

/// What `Provider: remote` puts on the wire is what the upstream interLink
/// server sends a plugin (pkg/interlink/api: create.go POST /create with one
/// RetrievedPodData, status.go and ping.go GET /status with a [Pod] body,
/// logs.go GET /getLogs with a LogStruct, delete.go POST /delete with the Pod,
/// each with Content-Type: application/json and InterLink-Http-Session).
@Suite("Remote provider wire shapes")
struct RemoteWireTests {
    final class Recorder: Sendable {
        let requests = Mutex([HTTPRequest]())
        /// Holds the second log chunk back until `release()` (which may come first).
        let gate = Mutex<(released: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
        var handler: HTTPHandler {
            { [self] req in
                requests.withLock { $0.append(req) }
                switch req.path {
                case "/create": return .json(200, Data("{\"PodUID\":\"x\",\"PodJID\":\"4711\"}".utf8))
                case "/status": return .json(200, Data("[]".utf8))
                case "/getLogs":
                    let stream = AsyncThrowingStream<Data, any Error> { c in
                        Task {
                            c.yield(Data("first\n".utf8))
                            await withCheckedContinuation { k in
                                let go = self.gate.withLock { g -> Bool in if g.released { return true }; g.waiter = k; return false }
                                if go { k.resume() }
                            }
                            c.yield(Data("second\n".utf8))
                            c.finish()
                        }
                    }
                    return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "text/plain")]), body: .stream(stream))
                default: return .text(200, "ok")
                }
            }
        }
        func release() {
            let k = gate.withLock { g -> CheckedContinuation<Void, Never>? in g.released = true; defer { g.waiter = nil }; return g.waiter }
            k?.resume()
        }
        var last: HTTPRequest { requests.withLock { $0.last! } }
    }

    func withRecorder(_ body: (Recorder, RemoteProvider) async throws -> Void) async throws {
        var template = Array("/tmp/ilwire-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let rec = Recorder()
        let server = HTTPServer(config: HTTPServerConfig(listen: .unix(path: dir + "/p.sock")), handler: rec.handler)
        try server.start()
        let remote = RemoteProvider(endpoint: PluginEndpoint(sidecarURL: "unix://\(dir)/p.sock", sidecarPort: 0),
                                    stateDirectory: dir + "/idx", dataRoot: "/var/lib/interlink")
        try await body(rec, remote)
        rec.release()
        await server.shutdown()
    }

    func object(_ d: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: d) as? [String: Any]) }

    func expectUpstreamHeaders(_ r: HTTPRequest, op: String) {
        #expect(r.headers["Content-Type"] == "application/json")
        let session = r.headers["InterLink-Http-Session"] ?? ""
        #expect(session.hasPrefix(op + "#") && Int(session.dropFirst(op.count + 1)) != nil, "session \(session)")
    }

    @Test func eachCallHasUpstreamsMethodPathHeadersAndBody() async throws {
        try await withRecorder { rec, remote in
            let desired = RemoteFx.desired(5, attempt: 0)
            #expect(try await remote.create(desired) == "4711", "the plugin's job id is the job id")
            var r = rec.last
            #expect(r.method == "POST" && r.path == "/create")
            expectUpstreamHeaders(r, op: "CreatePod")
            let create = try object(r.body)
            #expect(Set(create.keys) == ["pod", "container"])
            #expect(try WireJSON.decode(Pod.self, from: JSONSerialization.data(withJSONObject: create["pod"]!)) == desired.pod)
            let entries = try #require(create["container"] as? [[String: Any]])
            #expect(entries.map { $0["name"] as? String } == ["main"])
            #expect(entries[0]["configMaps"] is [Any] && entries[0]["secrets"] is [Any]
                    && entries[0]["projectedvolumemaps"] is [Any] && entries[0]["emptyDirs"] is [Any])

            _ = try await remote.observe()
            r = rec.last
            #expect(r.method == "GET" && r.path == "/status")
            expectUpstreamHeaders(r, op: "GetStatus")
            #expect(try WireJSON.decode([Pod].self, from: r.body) == [desired.pod])

            _ = try await remote.ping()
            r = rec.last
            #expect(r.method == "GET" && r.path == "/status" && String(decoding: r.body, as: UTF8.self) == "[]")

            let ref = JobRef(podUID: desired.uid, namespace: "default", name: desired.name, jobID: "4711", pod: desired.pod)
            try await remote.delete(ref)
            r = rec.last
            #expect(r.method == "POST" && r.path == "/delete")
            expectUpstreamHeaders(r, op: "DeletePod")
            #expect(try WireJSON.decode(Pod.self, from: r.body) == desired.pod)

            let stream = try await remote.logs(ref, container: "main", options: LogOpts(Tail: 10, Follow: true))
            var it = stream.makeAsyncIterator()
            // Streaming: the first chunk arrives while the plugin still holds the second back.
            let first = try await it.next()
            #expect(first.map { String(decoding: $0, as: UTF8.self) } == "first\n")
            r = rec.last
            #expect(r.method == "GET" && r.path == "/getLogs")
            expectUpstreamHeaders(r, op: "GetLogs")
            let logs = try object(r.body)
            #expect(Set(logs.keys) == ["Namespace", "PodUID", "PodName", "ContainerName", "Opts"])
            #expect(logs["PodUID"] as? String == desired.uid && logs["ContainerName"] as? String == "main")
            let opts = try #require(logs["Opts"] as? [String: Any])
            #expect(Set(opts.keys) == ["Tail", "Bytes", "Timestamps", "Follow", "Previous", "SinceSeconds", "SinceTime"])
            #expect(opts["Tail"] as? Int == 10 && opts["Follow"] as? Bool == true)
            #expect(opts["SinceTime"] as? String == "0001-01-01T00:00:00Z", "Go's zero time.Time, as upstream sends it")
            rec.release()
            let second = try await it.next()
            #expect(second.map { String(decoding: $0, as: UTF8.self) } == "second\n")
            #expect(try await it.next() == nil)
        }
    }
}
