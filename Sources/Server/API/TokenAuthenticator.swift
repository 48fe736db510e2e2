import FoundationEssentials
import Model
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Checks `Authorization: Bearer <token>` against the content of `VKTokenFile`
/// (trimmed). The file is re-read whenever its inode, size or mtime changes, so
/// tokens rotate without a restart; the comparison takes constant time.
public final class TokenAuthenticator: Sendable {
    private struct Cached { var inode: UInt64 = 0; var size: Int64 = -1; var mtimeNs: Int64 = -1; var token: [UInt8]? = nil }

    public let path: String
    private let cache = Mutex(Cached())

    public init(path: String) { self.path = path }

    /// The token currently in the file, nil when the file cannot be read or is empty
    /// (then every request is refused: failing closed is the safe default).
    func currentToken() -> [UInt8]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        return cache.withLock { c in
            if c.inode == UInt64(st.st_ino), c.size == Int64(st.st_size), c.mtimeNs == mtime { return c.token }
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmed ?? ""
            c = Cached(inode: UInt64(st.st_ino), size: Int64(st.st_size), mtimeNs: mtime,
                       token: text.isEmpty ? nil : Array(text.utf8))
            return c.token
        }
    }

    /// True when the header carries the current token.
    public func authorize(_ authorization: String?) -> Bool {
        guard let header = authorization, let expected = currentToken() else { return false }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix) else { return false }
        let given = Array(header.utf8.dropFirst(prefix.utf8.count)).trimmedASCIISpaces()
        return Self.constantTimeEqual(given, expected)
    }

    /// Compares without an early exit, so timing does not reveal how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }
}

extension Array where Element == UInt8 {
    fileprivate func trimmedASCIISpaces() -> [UInt8] {
        var s = self[...]
        while let f = s.first, f == 32 || f == 9 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 { s = s.dropLast() }
        return Array(s)
    }
}

extension InterLinkAPI {
    /// The server's head check (`RouteTable.checkHead`): 401 before the body.
    public var headCheck: HTTPHeadCheck {
        { request in Self.table.checkHead(request, auth: self.auth, metrics: self.metrics) }
    }
}
