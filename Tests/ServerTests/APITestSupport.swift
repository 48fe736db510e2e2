import Foundation
import Model
import Reconciler
@testable import Server
import Synchronization

/// A `PodAPI` that records what the API layer hands it and answers canned data.
final class FakeCore: PodAPI, Sendable {
    struct Calls { var created: [PodCreateRequests] = []; var deleted: [Pod] = []; var statusAsked: [[Pod]] = []; var logs: [LogStruct] = [] }
    let calls = Mutex(Calls())
    let knownUIDs: Set<String>
    let logText: String
    let backendDown: Bool

    init(knownUIDs: Set<String> = [], logText: String = "line 1\nline 2\n", backendDown: Bool = false) {
        self.knownUIDs = knownUIDs; self.logText = logText; self.backendDown = backendDown
    }

    func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct {
        calls.withLock { $0.created.append(request) }
        return CreateStruct(PodUID: request.pod.uid, PodJID: "")
    }
    func delete(_ pod: Pod) async throws(PodAPIError) { calls.withLock { $0.deleted.append(pod) } }
    func status(_ pods: [Pod]) async -> [PodStatus] {
        calls.withLock { $0.statusAsked.append(pods) }
        return pods.map { p in
            guard knownUIDs.contains(p.uid) else { return PodStatus(name: p.name, UID: p.uid, namespace: p.namespace) }
            return PodStatus(name: p.name, UID: p.uid, namespace: p.namespace, JID: "job-1",
                             containers: [ContainerStatus(name: "main", image: "busybox", ready: true,
                                                          state: .running(since: "2026-11-29T10:00:01Z"))])
        }
    }
    func logs(_ request: LogStruct) async throws(PodAPIError) -> AsyncThrowingStream<Data, any Error> {
        calls.withLock { $0.logs.append(request) }
        guard knownUIDs.contains(request.PodUID) else { throw .notFound("pod \(request.Namespace)/\(request.PodName) not found") }
        guard request.ContainerName == "main" else { throw .notFound("container \(request.ContainerName) not found") }
        let text = logText
        return AsyncThrowingStream { c in c.yield(Data(text.utf8)); c.finish() }
    }
    func ping() async throws(PodAPIError) -> PingResponse? {
        if backendDown { throw .unavailable("the fake backend does not answer") }
        return PingResponse(status: "ok", resources: .init(cpu: "8", memory: "16Gi", pods: "100"))
    }
    func updateCache(_ pod: Pod) async {}
    func metrics() async -> String { "# core metrics\n" }
    func isReady() async -> Bool { true }
}

enum Fixture {
    static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw FixtureMissing(name: name)
        }
        return try Data(contentsOf: url)
    }
    struct FixtureMissing: Error { let name: String }
}

/// A request as the Go VK sends it: JSON body, session header, bearer token.
func vkRequest(_ method: String, _ path: String, body: Data, token: String? = "s3cret", op: String = "Op") -> HTTPRequest {
    var headers = HTTPHeaders([("Content-Type", "application/json"), ("InterLink-Http-Session", "\(op)#1")])
    if let token { headers.add("Authorization", "Bearer \(token)") }
    return HTTPRequest(method: method, target: path, headers: headers, body: body, remote: "test")
}

func bodyText(_ r: HTTPResponse) -> String {
    if case .bytes(let d) = r.body { return String(decoding: d, as: UTF8.self) }
    return "<stream>"
}

/// The whole body, reading a stream to its end.
func collectedBody(_ r: HTTPResponse) async throws -> String {
    switch r.body {
    case .bytes(let d): return String(decoding: d, as: UTF8.self)
    case .stream(let s):
        var d = Data()
        for try await chunk in s { d.append(chunk) }
        return String(decoding: d, as: UTF8.self)
    }
}

func errorMessage(_ r: HTTPResponse) -> String? {
    guard case .bytes(let d) = r.body else { return nil }
    return (try? JSONDecoder().decode(APIError.self, from: d))?.error
}
