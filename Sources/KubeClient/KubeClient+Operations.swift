import FoundationEssentials
import HTTPClient
import Model

/// The API operations, on any resource path (`KubePath.core` builds core
/// ones). Bodies are JSON; answers decode into the caller's type.
extension KubeClient {
    public func get<T: Decodable>(_ type: T.Type, _ path: String, call: String) async throws(KubeError) -> T {
        let r = try await send("GET", path, call: call)
        return try decode(type, r.body, path)
    }

    /// One page; follow `metadata.continue` for the next (see `listAll`).
    public func list<T: Decodable & Sendable>(_ type: T.Type, _ path: String, _ options: ListOptions = ListOptions(),
                                               call: String) async throws(KubeError) -> KubeList<T> {
        let r = try await send("GET", path, query: options.query, call: call)
        return try decode(KubeList<T>.self, r.body, path)
    }

    /// Every page, following `continue` tokens; the answer's resourceVersion
    /// is the first page's (the snapshot a following watch resumes from).
    /// A 410 mid-way (continue token expired) throws `.gone`: list again.
    public func listAll<T: Decodable & Sendable>(_ type: T.Type, _ path: String, _ options: ListOptions = ListOptions(),
                                                  pageSize: Int = 500, call: String) async throws(KubeError) -> KubeList<T> {
        var opts = options
        opts.limit = pageSize
        var first = try await list(type, path, opts, call: call)
        var next = first.metadata.continue
        while let token = next, !token.isEmpty {
            opts.continue = token
            opts.resourceVersion = nil  // not allowed together with continue
            let page = try await list(type, path, opts, call: call)
            first.items += page.items
            next = page.metadata.continue
        }
        first.metadata.continue = nil
        return first
    }

    public func create<T: Decodable>(_ type: T.Type, _ path: String, body: Data, call: String) async throws(KubeError) -> T {
        let r = try await send("POST", path, body: body, contentType: "application/json", call: call)
        return try decode(type, r.body, path)
    }

    /// PUT: replaces the object. With `metadata.resourceVersion` in the body
    /// the API server refuses (409) a write based on a stale read, which is
    /// how a Lease is renewed without overwriting another holder.
    public func replace<T: Decodable>(_ type: T.Type, _ path: String, body: Data, call: String) async throws(KubeError) -> T {
        let r = try await send("PUT", path, body: body, contentType: "application/json", call: call)
        return try decode(type, r.body, path)
    }

    public func patch<T: Decodable>(_ type: T.Type, _ path: String, _ patchType: PatchType, body: Data,
                                    call: String) async throws(KubeError) -> T {
        let r = try await send("PATCH", path, body: body, contentType: patchType.rawValue, call: call)
        return try decode(type, r.body, path)
    }

    /// Deletes only if `preconditions` hold (409 otherwise); 404 is thrown as
    /// `.status(404)` so a caller can treat "already gone" as done.
    public func delete(_ path: String, preconditions: Preconditions? = nil, gracePeriodSeconds: Int64? = nil,
                       propagationPolicy: String? = nil, call: String) async throws(KubeError) {
        let opts = DeleteOptions(gracePeriodSeconds: gracePeriodSeconds, preconditions: preconditions,
                                 propagationPolicy: propagationPolicy)
        let body: Data
        do { body = try WireJSON.encode(opts) } catch { throw .invalidRequest("\(error)") }
        _ = try await send("DELETE", path, body: body, contentType: "application/json", call: call)
    }

    /// Watches a collection from `resourceVersion`: events as the server
    /// sends them (one JSON object per line of a chunked answer), bookmarks
    /// included when asked for. The stream ends with `KubeError.gone` when the
    /// version is too old (an HTTP 410 or an ERROR event with code 410): the
    /// caller lists again and watches from the list's resourceVersion. It ends
    /// normally when the server closes the watch (its timeout); resume then
    /// from the last resourceVersion seen.
    public func watch<T: Decodable & Sendable>(_ type: T.Type, _ path: String, resourceVersion: String?,
                                               labelSelector: String? = nil, fieldSelector: String? = nil,
                                               allowBookmarks: Bool = true, timeoutSeconds: Int = 300,
                                               call: String) async throws(KubeError) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        var q: [(String, String)] = [("watch", "1")]
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if allowBookmarks { q.append(("allowWatchBookmarks", "true")) }
        q.append(("timeoutSeconds", String(timeoutSeconds)))
        let bytes = try await stream(path, query: q, call: call)
        return AsyncThrowingStream { continuation in
            let task = Task {
                var lines = WatchLineSplitter()
                do {
                    for try await chunk in bytes {
                        for line in lines.feed(chunk) {
                            continuation.yield(try WatchDecoder.event(T.self, line, path: path))
                        }
                    }
                    if let last = lines.finish() { continuation.yield(try WatchDecoder.event(T.self, last, path: path)) }
                    continuation.finish()
                } catch let e as HTTPClientError {
                    if case .status(let code, let body) = e {
                        continuation.finish(throwing: KubeClient.error(for: code, body: body, method: "GET", path: path))
                    } else if case .cancelled = e {
                        continuation.finish(throwing: KubeError.cancelled)
                    } else {
                        continuation.finish(throwing: KubeError.transport(method: "GET", path: path, message: e.description, attempts: 1))
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ path: String) throws(KubeError) -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw .decode(path: path, message: WireJSON.describe(error))
        }
    }
}

/// Splits a chunked watch body into lines; a line may span chunks.
struct WatchLineSplitter {
    private var pending = Data()

    mutating func feed(_ chunk: Data) -> [Data] {
        pending.append(chunk)
        var out: [Data] = []
        while let nl = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<nl]
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { out.append(Data(line)) }
            pending = Data(pending[pending.index(after: nl)...])
        }
        return out
    }

    mutating func finish() -> Data? {
        defer { pending = Data() }
        return pending.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x0A }) ? nil : pending
    }
}

enum WatchDecoder {
    private struct Envelope: Decodable { var type: String }
    private struct Typed<T: Decodable>: Decodable { var object: T }

    static func event<T: Decodable & Sendable>(_: T.Type, _ line: Data, path: String) throws(KubeError) -> WatchEvent<T> {
        let d = JSONDecoder()
        func fail(_ e: any Error) -> KubeError { .decode(path: path, message: "watch event: " + WireJSON.describe(e)) }
        let type: String
        do { type = try d.decode(Envelope.self, from: line).type } catch { throw fail(error) }
        do {
            switch type {
            case "ADDED": return .added(try d.decode(Typed<T>.self, from: line).object)
            case "MODIFIED": return .modified(try d.decode(Typed<T>.self, from: line).object)
            case "DELETED": return .deleted(try d.decode(Typed<T>.self, from: line).object)
            case "BOOKMARK":
                let rv = try d.decode(Typed<BookmarkObject>.self, from: line).object.metadata?.resourceVersion ?? ""
                return .bookmark(resourceVersion: rv)
            case "ERROR":
                let status = try d.decode(Typed<KubeStatus>.self, from: line).object
                if status.code == 410 { throw KubeError.gone(path: path, message: status.message ?? "") }
                throw KubeError.status(code: status.code ?? 500, method: "WATCH", path: path, status: status)
            default:
                throw KubeError.decode(path: path, message: "unknown watch event type \"\(type)\"")
            }
        } catch let e as KubeError { throw e } catch { throw fail(error) }
    }
}
