import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The few POSIX file operations the store needs, with fsync where durability
/// depends on it. Files are created 0600 and directories 0700 because pod
/// requests carry Secrets.
enum DurableFile {
    /// Creates `path` (and parents) with mode 0700, and tightens an existing one.
    static func makeDirectory(_ path: String) throws(ReconcilerError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw err(prefix, "mkdir") }
        }
        if chmod(path, 0o700) != 0 { throw err(path, "chmod") }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func read(_ path: String) throws(ReconcilerError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw err(path, "open") }
        defer { close(fd) }
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw err(path, "read") }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Writes `data` to `path` so that a crash leaves either the old or the new
    /// content: temp file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ data: Data, to path: String) throws(ReconcilerError) {
        let w = try AtomicWriter(path: path)
        try w.append(data)
        try w.commit()
    }

    /// `writeAtomically` for content made piece by piece (a snapshot of every
    /// record): what is appended goes to the temporary file in chunks of about
    /// 1 MiB, so the content is never held whole in memory. Dropped without
    /// `commit`, the temporary file is removed and `path` is untouched.
    final class AtomicWriter {
        let path: String
        private let tmp: String
        private var fd: Int32
        private var buffer = Data()
        /// Bytes appended so far.
        private(set) var count = 0
        static let chunkBytes = 1 << 20

        init(path: String) throws(ReconcilerError) {
            self.path = path
            tmp = path + ".tmp"
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd < 0 { throw err(tmp, "open") }
        }

        deinit {
            if fd >= 0 { close(fd); unlink(tmp) }
        }

        func append(_ data: Data) throws(ReconcilerError) {
            buffer.append(data)
            count += data.count
            if buffer.count >= Self.chunkBytes { try flush() }
        }

        private func flush() throws(ReconcilerError) {
            guard !buffer.isEmpty else { return }
            try writeAll(fd, buffer, path: tmp)
            buffer.removeAll(keepingCapacity: true)
        }

        /// Writes the rest, fsyncs, and renames the file over `path`.
        func commit() throws(ReconcilerError) {
            try flush()
            if fsync(fd) != 0 { throw err(tmp, "fsync") }
            close(fd); fd = -1
            if rename(tmp, path) != 0 { let e = err(path, "rename"); unlink(tmp); throw e }
            try syncDirectory(of: path)
        }
    }

    static func syncDirectory(of path: String) throws(ReconcilerError) {
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw err(dir, "open directory") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw err(dir, "fsync directory") }
    }

    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(ReconcilerError) {
        var failure: ReconcilerError?
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; failure = err(path, "write"); return }
                off += n
            }
        }
        if let failure { throw failure }
    }

    /// Opens `path` and takes an exclusive, non-blocking flock on it (released
    /// when the descriptor closes, also when the process dies).
    /// How long `lock` waits for a holder that is letting go. A flock belongs to
    /// the open file description, so a child the process is spawning at that
    /// moment (between clone and exec, before CLOEXEC applies) holds it a little
    /// after `close`; so does a previous server that is still exiting.
    static let lockWaitSeconds: Double = 3

    static func lock(_ path: String, wait: Double = lockWaitSeconds) throws(ReconcilerError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw err(path, "open") }
        let deadline = ContinuousClock.now + .milliseconds(Int(wait * 1000))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            if busy && ContinuousClock.now < deadline { usleep(20_000); continue }
            close(fd)
            if busy { throw .io(path: path, message: "another InterLink process is using this state directory") }
            throw err(path, "flock")
        }
        return fd
    }

    static func err(_ path: String, _ op: String) -> ReconcilerError {
        .io(path: path, message: "\(op) failed: \(String(cString: strerror(errno)))")
    }
}

/// Framing of journal and snapshot records: little-endian UInt32 length, UInt32
/// CRC-32 of the payload, then the payload. A reader stops at the first frame
/// that is short or fails its checksum: that is where a crash tore the file.
enum RecordFrame {
    static let headerSize = 8
    /// Refuses absurd lengths so a corrupt header cannot make us allocate gigabytes.
    static let maxPayload = 256 << 20

    static func encode(_ payload: Data) -> Data {
        var out = Data(capacity: payload.count + headerSize)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(payload).littleEndian) { out.append(contentsOf: $0) }
        out.append(payload)
        return out
    }

    /// Whole valid frames of `data`, and the byte offset where valid data ends.
    static func decode(_ data: Data) -> (payloads: [Data], validLength: Int) {
        var payloads: [Data] = []
        let bytes = [UInt8](data)
        var off = 0
        while bytes.count - off >= headerSize {
            let len = Int(u32(bytes, off)), crc = u32(bytes, off + 4)
            guard len <= maxPayload, bytes.count - off - headerSize >= len else { break }
            let payload = bytes[(off + headerSize)..<(off + headerSize + len)]
            guard CRC32.checksum(payload) == crc else { break }
            payloads.append(Data(payload))
            off += headerSize + len
        }
        return (payloads, off)
    }

    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
