import FoundationEssentials
import Model
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The kubelet's termination message, Docker side: each container gets a file
/// of its own in the pod directory, bound at `/dev/termination-log` (the
/// Kubernetes default `terminationMessagePath`), and what the container wrote
/// there (at most 4096 bytes, the kubelet's limit) becomes
/// `terminated.message`. (A pod's own `terminationMessagePath` and
/// `FallbackToLogsOnError` need those fields in the pod model first.)
enum TerminationMessage {
    static let containerPath = "/dev/termination-log"
    static let maxBytes = 4096

    static func file(dataRoot: String, namespace: String, uid: String, isInit: Bool, index: Int, attempt: Int,
                     restart: Int = 0) -> String {
        PodWorkspace(dataRoot: dataRoot, namespace: namespace, uid: uid).root
            + "/termination/\(isInit ? "init" : "main")-\(index)-a\(attempt)" + (restart > 0 ? "-r\(restart)" : "")
    }

    /// Creates the empty file (mode 0666: the container may run as any user) and its mount.
    static func prepare(_ path: String) throws(ProviderError) -> Mount {
        let dir = String(path[..<path.lastIndex(of: "/")!])
        try WorkspaceFiles.makeDirectory(dir, mode: 0o755)
        if !WorkspaceFiles.exists(path) { try WorkspaceFiles.writeAtomically(Data(), to: path, mode: 0o666) }
        return Mount(hostPath: path, containerPath: containerPath, readOnly: false)
    }

    /// The first `maxBytes` of the file, nil when missing or empty. Never follows a link.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, maxBytes) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

/// Read-once cache of termination messages by container id: a finished
/// container's message never changes, and observe must not read thousands of
/// files every tick.
final class TerminationMessages: Sendable {
    private let cache = Mutex<[String: String?]>([:])

    func fill(_ records: [DockerContainerRecord], dataRoot: String) -> [DockerContainerRecord] {
        let live = Set(records.map(\.id))
        return cache.withLock { c in
            c = c.filter { live.contains($0.key) }  // forget removed containers
            return records.map { r in
                guard r.isTerminated, !r.failedToStart else { return r }
                var out = r
                if let known = c[r.id] { out.terminationMessage = known; return out }
                let m = TerminationMessage.read(TerminationMessage.file(
                    dataRoot: dataRoot, namespace: r.namespace, uid: r.podUID, isInit: r.isInit,
                    index: r.index, attempt: r.attempt, restart: r.restart))
                c[r.id] = .some(m)
                out.terminationMessage = m
                return out
            }
        }
    }
}
