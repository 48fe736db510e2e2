import FoundationEssentials

/// `metadata` of a list answer.
public struct ListMeta: Codable, Sendable, Equatable {
    public var resourceVersion: String?
    /// Set when more items remain: pass it as `continue` to get the next page.
    public var `continue`: String?
    public var remainingItemCount: Int?
    public init(resourceVersion: String? = nil, continue: String? = nil) {
        self.resourceVersion = resourceVersion; self.continue = `continue`
    }
}

/// One page of a list.
public struct KubeList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
    enum CodingKeys: String, CodingKey { case metadata, items }
}



/// Options of a list call.
public struct ListOptions: Sendable, Equatable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// "0" serves from the API server's cache; nil asks for the latest.
    public var resourceVersion: String?
    public var limit: Int?
    public var `continue`: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, resourceVersion: String? = nil,
                limit: Int? = nil, continue: String? = nil) {
        self.labelSelector = labelSelector; self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion; self.limit = limit; self.continue = `continue`
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let limit { q.append(("limit", String(limit))) }
        if let c = `continue` { q.append(("continue", c)) }
        return q
    }
}

/// The PATCH flavours the API server takes.
public enum PatchType: String, Sendable {
    /// RFC 7386: objects merge, lists are replaced whole, null deletes.
    case merge = "application/merge-patch+json"
    /// Kubernetes' strategic merge: lists with a merge key (conditions by `type`) merge.
    case strategicMerge = "application/strategic-merge-patch+json"
    /// RFC 6902 operations.
    case json = "application/json-patch+json"
}

/// `DeleteOptions.preconditions`: the delete happens only if these still hold.
public struct Preconditions: Codable, Sendable, Equatable {
    public var uid: String?
    public var resourceVersion: String?
    public init(uid: String? = nil, resourceVersion: String? = nil) { self.uid = uid; self.resourceVersion = resourceVersion }
}

struct DeleteOptions: Encodable {
    var kind = "DeleteOptions"
    var apiVersion = "v1"
    var gracePeriodSeconds: Int64?
    var preconditions: Preconditions?
    var propagationPolicy: String?
}

/// One event of a watch stream.
public enum WatchEvent<Object: Decodable & Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// The server's progress marker: resume from this resourceVersion.
    case bookmark(resourceVersion: String)
}

/// The part of any object a bookmark carries.
struct BookmarkObject: Decodable {
    struct Meta: Decodable { var resourceVersion: String? }
    var metadata: Meta?
}
