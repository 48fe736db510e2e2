import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The provider's small file I/O: index files (written atomically), the scan of
/// pod directories, and the per-container status files.
///
/// Contract: a file that does not exist reads as nil; any other failure (a
/// permission, an I/O error, a directory where a file should be, a damaged index)
/// throws `ProviderError.unavailable` naming the path. A finished job is judged by
/// these files, so "could not read" must never look like "not there".
enum SlurmFiles {
    /// Largest file read (index and status files are a few hundred bytes).
    static let maxBytes = 16 << 20

    /// The file's bytes (at most `limit`, the rest ignored), nil when it does not exist.
    static func read(_ path: String, limit: Int? = nil) throws(ProviderError) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw unreadable(path, errno)
        }
        defer { close(fd) }
        // Sized from the file (status files are a few bytes): not a 64 KiB buffer
        // per file, which observing 10,000 jobs would zero 50,000 times per tick.
        var st = stat()
        let size = fstat(fd, &st) == 0 && st.st_size > 0 ? Int(st.st_size) : 0
        var out = Data()
        var buf = [UInt8](repeating: 0, count: max(64, min(size + 1, limit ?? (64 << 10), 64 << 10)))
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable(path, errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
            if let limit, out.count >= limit { return out.prefix(limit) }
            if out.count > maxBytes { throw .unavailable("cannot read \(path): larger than \(maxBytes) bytes") }
        }
    }

    static func unreadable(_ path: String, _ code: Int32) -> ProviderError {
        if ProviderError.isExhaustion(errno: code) { return .resourcesExhausted("cannot read \(path): \(String(cString: strerror(code)))") }
        return .unavailable("cannot read \(path): \(String(cString: strerror(code)))")
    }

    static func readIndex(_ path: String) throws(ProviderError) -> SlurmIndex? {
        guard let data = try read(path) else { return nil }
        do { return try JSONDecoder().decode(SlurmIndex.self, from: data) } catch {
            throw .unavailable("cannot read \(path): it is not a Slurm index InterLink wrote (\(WireJSON.describe(error))); repair or remove the pod directory")
        }
    }

    static func writeIndex(_ index: SlurmIndex, to path: String) throws(ProviderError) {
        let data: Data
        do { data = try WireJSON.encode(index) } catch {
            throw .unavailable("could not encode the Slurm index of pod \(index.namespace)/\(index.name): \(error)")
        }
        try write(data, to: path, mode: 0o600)
    }

    /// Writes through a temporary file and a rename, so readers never see half a file.
    static func write(_ data: Data, to path: String, mode: Int) throws(ProviderError) {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        try makeDirectory(dir)
        let tmp = "\(path).tmp.\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: tmp)
            guard rename(tmp, path) == 0 else {
                throw ProviderError.unavailable("could not rename \(tmp) to \(path): \(String(cString: strerror(errno)))")
            }
        } catch let e as ProviderError { throw e } catch {
            throw ProviderError.exhaustion(error, "could not write \(path)") ?? .unavailable("could not write \(path): \(error)")
        }
    }

    static func makeDirectory(_ path: String) throws(ProviderError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw ProviderError.exhaustion(error, "could not create directory \(path)") ?? .unavailable("could not create directory \(path): \(error)")
        }
    }

    /// Each pod directory under `dataRoot`: its name and the path of its index
    /// (whether it exists is for the caller to find out), in name order. An index
    /// that exists but cannot be read must throw where it is read (`readIndex`
    /// does): without it the pod's job would look like an orphan and the pod like
    /// a lost one.
    static func podDirectories(under dataRoot: String) throws(ProviderError) -> [(name: String, indexPath: String)] {
        let root = dataRoot.hasSuffix("/") ? String(dataRoot.dropLast()) : dataRoot
        guard WorkspaceFiles.exists(root) else { return [] }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: root) } catch {
            throw .unavailable("cannot list \(root): \(error)")
        }
        return entries.sorted().map { ($0, "\(root)/\($0)/\(SlurmLayout.folder)/index.json") }
    }

    /// The kubelet's FallbackToLogsOnError message: the end of the log, the
    /// last 80 lines and at most 2048 bytes of them, without the job's
    /// timestamps; nil for a missing or empty log. It runs on every observe of a
    /// failed container, so it reads only the window that can hold that: `bytes`
    /// of text plus a timestamp (28 bytes, 64 allowed) for each of `lines` lines.
    static func logTail(_ path: String, lines: Int = 80, bytes: Int = 2048) throws(ProviderError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { return nil }
            throw unreadable(path, errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return nil }
        let window = Int(min(Int64(bytes + lines * 64), Int64(st.st_size)))
        let from = Int64(st.st_size) - Int64(window)
        var buf = [UInt8](repeating: 0, count: window)
        let n = buf.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, window, off_t(from)) }
        guard n > 0 else { return nil }
        var text = buf[0..<n]
        // A window that starts mid-file starts mid-line: that partial line is not the log's.
        if from > 0, let nl = text.firstIndex(of: 0x0a) { text = text[(nl + 1)...] }
        let rendered = SlurmLogs.render(String(decoding: text, as: UTF8.self), LogOpts(Tail: lines))
        guard !rendered.isEmpty else { return nil }
        return String(decoding: rendered.suffix(bytes), as: UTF8.self)
    }

    static func containerFiles(_ layout: SlurmLayout, _ container: String) throws(ProviderError) -> ContainerFiles {
        let start = try read(layout.startFile(container)).map { String(decoding: $0, as: UTF8.self).trimmed }
        let exitPath = layout.exitFile(container)
        var exit: ContainerFiles.Exit? = nil
        if let data = try read(exitPath) {
            // il_status writes through a rename: a file that is there but does not parse is damaged, not "not yet".
            guard let e = ContainerFiles.Exit.parse(String(decoding: data, as: UTF8.self)) else {
                throw .unavailable("cannot read \(exitPath): it does not start with an exit code")
            }
            exit = e
        }
        // Kubernetes keeps at most 4096 bytes of a termination message.
        let term = try read(layout.terminationLog(container), limit: 4096).map { String(decoding: $0, as: UTF8.self) }
        var files = ContainerFiles(startedAt: start?.isEmpty == false ? start : nil, exit: exit,
                                   terminationMessage: term?.isEmpty == false ? term : nil)
        // The supervisor's files, all written through a rename (or empty marks).
        let lastPath = layout.lastFile(container)
        if let data = try read(lastPath) {
            guard let last = ContainerFiles.Last.parse(String(decoding: data, as: UTF8.self)) else {
                throw .unavailable("cannot read \(lastPath): it does not start with a restart count")
            }
            files.last = last
        }
        if let data = try read(layout.waitingFile(container)) {
            files.waiting = ContainerFiles.parseWaiting(String(decoding: data, as: UTF8.self))
        }
        files.started = try read(layout.startedFile(container)) != nil
        files.ready = try read(layout.readyFile(container)) != nil
        return files
    }
}

/// Free capacity from `sinfo -N -O NodeHost,CPUsState,Memory,AllocMem,StateLong` (`|`-separated).
enum SlurmCapacity {
    static func parse(_ output: String) -> PingResponse {
        var cpus = 0, memMiB = 0, nodes = 0
        for line in output.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmed }
            guard f.count >= 5 else { continue }
            let state = f[4].lowercased()
            if state.hasPrefix("down") || state.hasPrefix("drain") || state.hasPrefix("fail") { continue }
            // CPUsState is allocated/idle/other/total.
            let c = f[1].split(separator: "/")
            if c.count == 4, let idle = Int(c[1]) { cpus += idle }
            if let total = Int(f[2]), let alloc = Int(f[3]) { memMiB += max(0, total - alloc) }
            nodes += 1
        }
        return PingResponse(status: "ok", resources: .init(cpu: String(cpus), memory: "\(memMiB)Mi", pods: String(max(1, nodes) * 110)))
    }
}
