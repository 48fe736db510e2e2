import CShims
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
            throw ProviderError.exhaustion(error, "mkdir \(path)") ?? .backend(command: "mkdir \(path)", message: "\(error)", transient: true)
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

    /// How resolving a subPath ended.
    enum Resolution: Equatable {
        /// `base/relative`, every component a real directory (the last may be any
        /// non-link file) at the time of the walk.
        case resolved(String)
        /// The first component that is a symbolic link (relative path up to it).
        case symlink(String)
        /// A component does not exist (relative path up to it).
        case missing(String)
        /// A component before the last is not a directory.
        case notDirectory(String)
    }

    /// Walks `relative` under `base` one component at a time with
    /// `openat(O_PATH | O_NOFOLLOW)`, each relative to the descriptor of the one
    /// before, so no symbolic link anywhere in it is ever followed and no
    /// rename behind our back can redirect the walk (the kubelet's fix for
    /// CVE-2017-1002101). `base` itself is InterLink's own volume directory, or a
    /// hostPath the site allowed. With `createMissing`, missing components are
    /// made as directories, mode 0777 (a writable volume's subPath, as the kubelet
    /// does). The caller mounts the path only when it is `.resolved`.
    static func resolveBeneath(base: String, relative: String, createMissing: Bool) throws(ProviderError) -> Resolution {
        let (resolution, fd) = try openBeneath(base: base, relative: relative, createMissing: createMissing)
        if fd >= 0 { close(fd) }
        return resolution
    }

    /// `resolveBeneath`, keeping the final component open: when the walk ends
    /// `.resolved`, the descriptor (`O_PATH`, the caller closes it) is the inode
    /// that was checked, which a bind of `/proc/self/fd/N` pins (see
    /// `SubPathPins`); -1 otherwise.
    static func openBeneath(base: String, relative: String, createMissing: Bool) throws(ProviderError) -> (Resolution, Int32) {
        var dir = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw posixError("open \(base)") }
        var handedOver = false
        defer { if !handedOver { close(dir) } }
        let parts = relative.split(separator: "/").filter { $0 != "." }.map(String.init)
        var walked = ""
        for (i, part) in parts.enumerated() {
            walked = walked.isEmpty ? part : walked + "/" + part
            var fd = cshims_openat_path_nofollow(dir, part)
            if fd < 0 && errno == ENOENT && createMissing {
                if mkdirat(dir, part, 0o777) != 0 && errno != EEXIST { throw posixError("mkdir \(base)/\(walked)") }
                // umask applies to mkdirat; fchmod needs a real descriptor, opened without following.
                let real = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if real >= 0 { _ = fchmod(real, 0o777); close(real) }
                fd = cshims_openat_path_nofollow(dir, part)
            }
            if fd < 0 {
                if errno == ENOENT { return (.missing(walked), -1) }
                if errno == ELOOP { return (.symlink(walked), -1) }
                throw posixError("open \(base)/\(walked)")
            }
            var st = stat()
            guard fstat(fd, &st) == 0 else { let e = posixError("stat \(base)/\(walked)"); close(fd); throw e }
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK { close(fd); return (.symlink(walked), -1) }
            if i < parts.count - 1 && type != S_IFDIR { close(fd); return (.notDirectory(walked), -1) }
            close(dir)
            dir = fd
        }
        handedOver = true
        return (.resolved(parts.isEmpty ? base : base + "/" + parts.joined(separator: "/")), dir)
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
        ProviderError.posix(what, errno: errno)
    }
}
