import FoundationEssentials
import Model
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A bearer token read from a file and read again whenever the file changes
/// (modification time, size or inode: the kubelet rotates projected
/// service-account tokens by swapping a symlink), or when the API server
/// answers 401 with the token we had.
final class TokenSource: Sendable {
    let path: String
    private struct Cached { var token: String; var stamp: [Int] }
    private let cache = Mutex<Cached?>(nil)

    init(path: String) { self.path = path }

    func token(forceReload: Bool = false) throws(KubeError) -> String {
        let stamp = Self.stamp(path)
        if !forceReload, let c = cache.withLock({ $0 }), c.stamp == stamp { return c.token }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .config("token file \(path) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmed
        guard !token.isEmpty else { throw .config("token file \(path) is empty") }
        cache.withLock { $0 = Cached(token: token, stamp: stamp) }
        return token
    }

    private static func stamp(_ path: String) -> [Int] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        return [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
    }
}
