import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The file-system primitives of `PodWorkspace`: directories with exact modes
/// (umask does not apply), atomic file writes, and path checks. Every failure
/// becomes a `ProviderError` whose message names the path.
enum WorkspaceFiles {
    /// Creates `path` and missing parents; sets `mode` on `path` itself (parents get 0755).
    static func makeDirectory(_ path: String, mode: mode_t) throws(ProviderError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .backend(command: "mkdir \(path)", message: "\(error)", transient: true)
        }
        guard chmod(path, mode) == 0 else { throw posixError("chmod \(path)") }
    }

    /// Writes `data` to a temporary file next to `path`, sets `mode`, then renames
    /// it over `path`: a reader sees the old file or the new one, never half of one.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws(ProviderError) {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let temp = String(path[..<slash]) + ".\(path[slash...]).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw posixError("create \(temp)") }
        var failure: ProviderError?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = posixError("write \(temp)"); return }
                offset += n
            }
        }
        if failure == nil, fchmod(fd, mode) != 0 { failure = posixError("chmod \(temp)") }
        close(fd)
        if failure == nil, rename(temp, path) != 0 { failure = posixError("rename \(temp) to \(path)") }
        if let failure { unlink(temp); throw failure }
    }

    /// A relative path that stays inside its directory: not empty, not absolute,
    /// no `..` element (the rule Kubernetes applies to `items[].path` and `subPath`).
    static func isContained(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/") else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains("..")
    }

    /// Whether any existing element of `relative` under `base` is a symbolic link
    /// (a container could plant one in an emptyDir to make a later subPath mount
    /// escape the volume, the kubelet's CVE-2017-1002101).
    static func crossesSymlink(base: String, relative: String) -> Bool {
        var current = base
        for part in relative.split(separator: "/") where part != "." {
            current += "/" + part
            var st = stat()
            if lstat(current, &st) != 0 { return false }  // the rest does not exist yet
            if (st.st_mode & S_IFMT) == S_IFLNK { return true }
        }
        return false
    }

    /// Removes files and directories under `dir` that are not in `keep` (relative paths).
    static func prune(_ dir: String, keeping keep: Set<String>) {
        guard let paths = try? FileManager.default.subpathsOfDirectory(atPath: dir) else { return }
        for p in paths.sorted() where !keep.contains(p) {
            try? FileManager.default.removeItem(atPath: dir + "/" + p)
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func posixError(_ what: String) -> ProviderError {
        let message = String(cString: strerror(errno))
        return .backend(command: what, message: message, transient: true)
    }
}
