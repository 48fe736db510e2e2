import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// A file's identity and version as `stat` tells them: device, inode, size and
/// modification time. Equal stamps mean nothing was written in between, unless
/// the write fell in the same timestamp tick as the earlier look (`isSettled`).
struct FileStamp: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    /// The stamp of `path` (not following a final symbolic link), nil when it does not exist.
    static func of(_ path: String) throws(ProviderError) -> FileStamp? {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SlurmFiles.unreadable(path, errno)
        }
        return FileStamp(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                         seconds: Int(st.st_mtim.tv_sec), nanoseconds: Int(st.st_mtim.tv_nsec))
    }

    var modified: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    /// Whether a write after `readAt` is sure to change this stamp: the file was
    /// last modified at least `SlurmObserveCache.settleSeconds` before it was read.
    /// A write in the same coarse timestamp tick (1 s on some shared filesystems)
    /// as the read could otherwise leave the stamp unchanged.
    func isSettled(readAt: Double) -> Bool { modified <= readAt - SlurmObserveCache.settleSeconds }
}

/// What the last observe read from each pod directory (keyed by the directory's
/// name), so the next one reads a job's files again only when they changed: its
/// index file's stamp, its status directory's stamp (the supervisor writes every
/// status file there through a rename or creates/removes a mark, each of which
/// changes the directory), and the state and reason of its `squeue` line. A pod
/// whose three are unchanged is reported with the very same observation (the
/// reconciler then compares a pointer). Each entry is
/// read again at least every `maxAgeSeconds` whatever the stamps say: a shared
/// filesystem's client may cache attributes (NFS `actimeo`) and show an old
/// stamp for a while. A read that failed is never kept.
struct SlurmObserveCache: Sendable {
    /// A reference: a dictionary stores its values inline with room to grow, and
    /// an entry is a few hundred bytes (10,000 pods: megabytes of empty room).
    final class Entry: Sendable {
        let indexStamp: FileStamp
        let index: SlurmIndex
        let statusStamp: FileStamp?
        /// What the observation used of the squeue line: its state and reason (not the
        /// line's job name and comment, two strings a pod that would keep alive).
        let squeue: SqueueSeen?
        let observation: JobObservation
        let readAt: Double
        init(indexStamp: FileStamp, index: SlurmIndex, statusStamp: FileStamp?, record: SqueueRecord?,
             observation: JobObservation, readAt: Double) {
            self.indexStamp = indexStamp; self.index = index; self.statusStamp = statusStamp
            squeue = record.map(SqueueSeen.init); self.observation = observation; self.readAt = readAt
        }
    }

    struct SqueueSeen: Sendable, Equatable {
        var state: String
        var reason: String
        init(_ r: SqueueRecord) { state = r.state; reason = r.reason }
    }

    static let settleSeconds = 1.0
    var maxAgeSeconds = 30.0
    private(set) var entries: [String: Entry] = [:]
    /// Pod directories whose files the last observe read (the rest were reused), for tests and the bench.
    private(set) var lastReads = 0

    init(maxAgeSeconds: Double = 30) { self.maxAgeSeconds = maxAgeSeconds }

    /// The index of pod directory `dir` if its stamp is the cached one (no read needed).
    func index(at dir: String, stamp: FileStamp, now: Double) -> SlurmIndex? {
        guard let e = entries[dir], e.indexStamp == stamp, fresh(e, stamp, now) else { return nil }
        return e.index
    }

    /// The cached observation of pod directory `dir`, when nothing it was made
    /// from changed.
    func observation(at dir: String, index: SlurmIndex, indexStamp: FileStamp, statusStamp: FileStamp?,
                     record: SqueueRecord?, now: Double) -> JobObservation? {
        guard let e = entries[dir], e.indexStamp == indexStamp, e.index == index, e.statusStamp == statusStamp,
              e.squeue == record.map(SqueueSeen.init), fresh(e, indexStamp, now) else { return nil }
        if let s = statusStamp, !s.isSettled(readAt: e.readAt) { return nil }
        return e.observation
    }

    private func fresh(_ e: Entry, _ indexStamp: FileStamp, _ now: Double) -> Bool {
        now < e.readAt + maxAgeSeconds && indexStamp.isSettled(readAt: e.readAt)
    }

    /// Starts a new observe: entries not visited by it are dropped at `finish`.
    mutating func begin() { visited = []; visited.reserveCapacity(entries.count); lastReads = 0 }
    private var visited: Set<String> = []

    mutating func keep(_ dir: String) { visited.insert(dir) }

    mutating func store(_ dir: String, _ entry: Entry) {
        entries[dir] = entry; visited.insert(dir); lastReads += 1
        if !submitted.isEmpty { submitted[dir] = nil }
    }

    mutating func forget(_ dir: String) { entries[dir] = nil }

    /// Whether no earlier observe saw the index of `dir` name `jobID` (it is
    /// noted as seen now). A job reported `justSubmitted` once is judged by
    /// squeue from then on.
    mutating func firstSight(of jobID: String, at dir: String) -> Bool {
        if entries[dir]?.index.jobID == jobID || submitted[dir] == jobID { return false }
        submitted[dir] = jobID
        return true
    }
    /// Pod directories last reported `justSubmitted`, with the job id their index named.
    private var submitted: [String: String] = [:]

    /// Drops the entries of pod directories that are gone.
    mutating func finish() {
        if entries.count > visited.count { entries = entries.filter { visited.contains($0.key) } }
        if !submitted.isEmpty { submitted = submitted.filter { visited.contains($0.key) } }
        visited = []
    }
}
