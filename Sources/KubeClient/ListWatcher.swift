import FoundationEssentials
import Model
import Support

/// An object that can say which resourceVersion it is at (a watch resumes from it).
public protocol KubeVersioned: Decodable, Sendable {
    var resourceVersion: String? { get }
}

/// Keeps a caller in step with a collection the way client-go's reflector
/// does: list (every page), hand over the whole set, then watch from the
/// list's resourceVersion; resume from the last version seen (objects and
/// bookmarks) when the server ends the watch; list again when that version
/// has expired (410 Gone); back off with jitter on any other failure.
/// `run` returns when its task is cancelled.
public struct ListWatcher<Object: KubeVersioned>: Sendable {
    public enum Event: Sendable {
        /// The complete current set: replace what you had (after a start or a relist).
        case synced([Object])
        case added(Object)
        case modified(Object)
        case deleted(Object)
    }

    public let client: KubeClient
    public let path: String
    public var labelSelector: String?
    public var fieldSelector: String?
    /// How long one watch request may stay open (the server may end it sooner).
    public var watchSeconds: Int
    public var retry: RetryPolicy
    /// Counter names for the RBAC list: "list pods", "watch pods".
    public var resource: String

    public init(client: KubeClient, path: String, resource: String, labelSelector: String? = nil,
                fieldSelector: String? = nil, watchSeconds: Int = 300,
                retry: RetryPolicy = RetryPolicy(maxAttempts: Int.max, baseDelay: .milliseconds(500), maxDelay: .seconds(30))) {
        self.client = client; self.path = path; self.resource = resource
        self.labelSelector = labelSelector; self.fieldSelector = fieldSelector
        self.watchSeconds = watchSeconds; self.retry = retry
    }

    public func run(_ handle: @Sendable (Event) async -> Void) async {
        var version: String? = nil
        var failures = 0
        while !Task.isCancelled {
            do throws(KubeError) {
                if version == nil {
                    let list = try await client.listAll(Object.self, path, ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector),
                                                        call: "list \(resource)")
                    version = list.metadata.resourceVersion
                    await handle(.synced(list.items))
                }
                let events = try await client.watch(Object.self, path, resourceVersion: version, labelSelector: labelSelector,
                                                    fieldSelector: fieldSelector, timeoutSeconds: watchSeconds, call: "watch \(resource)")
                do {
                    for try await event in events {
                        failures = 0
                        switch event {
                        case .added(let o): version = o.resourceVersion ?? version; await handle(.added(o))
                        case .modified(let o): version = o.resourceVersion ?? version; await handle(.modified(o))
                        case .deleted(let o): version = o.resourceVersion ?? version; await handle(.deleted(o))
                        case .bookmark(let v): if !v.isEmpty { version = v }
                        }
                    }
                } catch let e as KubeError {
                    throw e
                } catch {
                    throw KubeError.decode(path: path, message: "\(error)")
                }
            } catch {
                if case .cancelled = error { return }
                if error.isGone {
                    Log.debug("watch expired, listing again", ["path": path])
                    version = nil
                    continue
                }
                failures += 1
                let wait = retry.delay(afterAttempt: min(failures - 1, 20), retryAfter: nil) ?? .seconds(30)
                Log.warn("watch failed, retrying", ["path": path, "error": error.description, "wait": "\(wait)"])
                do { try await Task.sleep(for: wait) } catch { return }
            }
        }
    }
}
