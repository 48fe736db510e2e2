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
/// `terminated.message`. The file is bound at the container's own
/// `terminationMessagePath` when it names one. With `terminationMessagePolicy:
/// FallbackToLogsOnError`, a container that failed and wrote no message gets
/// the end of its log instead: the last 80 lines, at most 2048 bytes, as the
/// kubelet takes them.
enum TerminationMessage {
    static let defaultContainerPath = "/dev/termination-log"
    static let maxBytes = 4096
    static let fallbackLines = 80
    static let fallbackBytes = 2048

    static func containerPath(of c: Container) -> String {
        guard let p = c.terminationMessagePath, !p.isEmpty else { return defaultContainerPath }
        return p
    }

    /// The kubelet's fallback message from a log's tail: its last `fallbackBytes`.
    static func fallback(fromLogTail tail: Data) -> String? {
        guard !tail.isEmpty else { return nil }
        return String(decoding: tail.suffix(fallbackBytes), as: UTF8.self)
    }

    static func file(dataRoot: String, namespace: String, uid: String, isInit: Bool, index: Int, attempt: Int,
                     restart: Int = 0) -> String {
        PodWorkspace(dataRoot: dataRoot, namespace: namespace, uid: uid).root
            + "/termination/\(isInit ? "init" : "main")-\(index)-a\(attempt)" + (restart > 0 ? "-r\(restart)" : "")
    }

    /// Creates the empty file (mode 0666: the container may run as any user) and its mount.
    static func prepare(_ path: String, containerPath: String = defaultContainerPath) throws(ProviderError) -> Mount {
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
/// files (or run a `docker logs` per failed container) every tick.
final class TerminationMessages: Sendable {
    private let cache = Mutex<[String: String?]>([:])

    /// Failed containers whose policy falls back to their logs, that wrote no
    /// message and have not had their log read yet (at most `limit`).
    func needingLogs(_ records: [DockerContainerRecord], limit: Int = 16) -> [DockerContainerRecord] {
        let pending = cache.withLock { c in
            records.filter { $0.logsFallback && $0.isTerminated && $0.exitCode != 0 && !$0.failedToStart
                && ($0.terminationMessage ?? "").isEmpty && c[$0.id + "/logs"] == nil }
        }
        return Array(pending.prefix(limit))
    }

    /// Records the log fallback of `id` and fills it into `records`.
    func setLogs(_ message: String?, for id: String) { cache.withLock { $0[id + "/logs"] = .some(message) } }

    func withLogFallbacks(_ records: [DockerContainerRecord]) -> [DockerContainerRecord] {
        cache.withLock { c in
            records.map { r in
                guard r.logsFallback, (r.terminationMessage ?? "").isEmpty, let m = c[r.id + "/logs"] ?? nil else { return r }
                var out = r; out.terminationMessage = m; return out
            }
        }
    }

    func fill(_ records: [DockerContainerRecord], dataRoot: String) -> [DockerContainerRecord] {
        let live = Set(records.map(\.id))
        return cache.withLock { c in
            // Forget removed containers (keys are ids, or "id/logs" for a log fallback).
            c = c.filter { live.contains(String($0.key.prefix { $0 != "/" })) }
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
