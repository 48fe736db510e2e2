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
    /// The modification time in nanoseconds since the epoch (one word: the cache keeps two stamps per pod).
    var modifiedNanoseconds: Int64

    init(device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int) {
        self.device = device; self.inode = inode; self.size = size
        let (s, over) = Int64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        modifiedNanoseconds = over ? (seconds < 0 ? .min : .max) : s.addingReportingOverflow(Int64(nanoseconds)).partialValue
    }

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

    var modified: Double { Double(modifiedNanoseconds) / 1e9 }

    /// No file: a stamp no `stat` gives (device and inode 0).
    static let absent = FileStamp(device: 0, inode: 0, size: -1, seconds: 0, nanoseconds: 0)

    /// Whether a write after `readAt` is sure to change this stamp: the file was
    /// last modified at least `SlurmObserveCache.settleSeconds` before it was read.
    /// A write in the same coarse timestamp tick (1 s on some shared filesystems)
    /// as the read could otherwise leave the stamp unchanged.
    func isSettled(readAt: Double) -> Bool { modified <= readAt - SlurmObserveCache.settleSeconds }
}

/// What the last observe saw of each pod directory, so the next one reads a
/// job's files again only when they changed: its index file's stamp, its status
/// directory's stamp (the supervisor writes every status file there through a
/// rename or creates/removes a mark, each of which changes the directory), and
/// the state and reason of its `squeue` line. A pod whose three are unchanged is
/// reported with the very same observation (the reconciler then compares a
/// pointer), and its index is not read either: what the observe needs of it
/// (pod, attempt, job) is in the observation. Each entry is read again at least
/// every `maxAgeSeconds` whatever the stamps say: a shared filesystem's client
/// may cache attributes (NFS `actimeo`) and show an old stamp for a while. A read
/// that failed is never kept.
///
/// Memory (issue 14): an entry is what a steady pod costs here, so it keeps no
/// copy of the index and no directory name. Entries are keyed by the hash of the
/// directory's name and an entry answers for a name only when its pod's
/// namespace and uid make that name (`PodWorkspace`): two names of one hash
/// (never seen in practice, 64 bits) only cost each other a read.
struct SlurmObserveCache: Sendable {
    /// A reference: a dictionary stores its values inline with room to grow.
    final class Entry: Sendable {
        let indexStamp: FileStamp
        /// `.absent` for no status directory. (Neither this nor `squeue` is optional:
        /// the tags took the entry past a malloc size class, 16 bytes per pod.)
        let statusStamp: FileStamp
        /// What the observation used of the squeue line: its state and reason (not the
        /// line's job name and comment, two strings a pod that would keep alive);
        /// `.absent` for no line.
        let squeue: SqueueSeen
        /// The index's pod, attempt and job are this observation's.
        let observation: JobObservation
        /// The index's `finalState` (observe writes it when squeue shows a new terminal state).
        let finalState: String?
        let readAt: Double
        init(indexStamp: FileStamp, statusStamp: FileStamp?, record: SqueueRecord?, observation: JobObservation,
             finalState: String?, readAt: Double) {
            self.indexStamp = indexStamp; self.statusStamp = statusStamp ?? .absent; squeue = SqueueSeen(record)
            self.observation = observation; self.finalState = finalState; self.readAt = readAt
        }
    }

    struct SqueueSeen: Sendable, Equatable {
        var state: String
        var reason: String
        /// No squeue line (a NUL is in no state squeue prints).
        init(_ r: SqueueRecord?) { state = r?.state ?? "\0"; reason = r?.reason ?? "" }
    }

    static let settleSeconds = 1.0
    var maxAgeSeconds = 30.0
    private var entries: [Int: Entry] = [:]
    /// Pod directories whose files the last observe read (the rest were reused), for tests and the bench.
    private(set) var lastReads = 0
    var count: Int { entries.count }

    init(maxAgeSeconds: Double = 30) { self.maxAgeSeconds = maxAgeSeconds }

    /// The entry of pod directory `dir` when its index is the one the entry was
    /// made from (same stamp, and read recently enough to trust the stamp).
    func unchanged(_ dir: String, indexStamp: FileStamp, now: Double) -> Entry? {
        guard let e = entries[dir.hashValue], Self.names(dir, e.observation), e.indexStamp == indexStamp,
              now < e.readAt + maxAgeSeconds, indexStamp.isSettled(readAt: e.readAt) else { return nil }
        return e
    }

    /// The observation last kept for pod directory `dir`, whatever changed since.
    func previousObservation(_ dir: String) -> JobObservation? {
        guard let e = entries[dir.hashValue], Self.names(dir, e.observation) else { return nil }
        return e.observation
    }

    /// Whether `entry`'s observation still holds for this status directory stamp and squeue line.
    func holds(_ e: Entry, statusStamp: FileStamp?, record: SqueueRecord?) -> Bool {
        guard e.statusStamp == (statusStamp ?? .absent), e.squeue == SqueueSeen(record) else { return false }
        if let s = statusStamp, !s.isSettled(readAt: e.readAt) { return false }
        return true
    }

    /// Whether `dir` is the directory name of the observation's pod (`<namespace>-<uid>`).
    static func names(_ dir: String, _ o: JobObservation) -> Bool {
        let d = dir.utf8, ns = o.namespace.utf8, uid = o.podUID.utf8
        guard d.count == ns.count + 1 + uid.count, d.starts(with: ns) else { return false }
        let rest = d.dropFirst(ns.count)
        return rest.first == UInt8(ascii: "-") && rest.dropFirst().elementsEqual(uid)
    }

    /// Starts a new observe: entries not visited by it are dropped at `finish`.
    mutating func begin() { visited = []; visited.reserveCapacity(entries.count); lastReads = 0 }
    private var visited: Set<Int> = []

    mutating func keep(_ dir: String) { visited.insert(dir.hashValue) }

    /// Keeps what observing `dir` found (`entry.observation` must be of the pod that names `dir`).
    mutating func store(_ dir: String, _ entry: Entry) {
        lastReads += 1
        let key = dir.hashValue
        visited.insert(key)
        if !submitted.isEmpty { submitted[dir] = nil }
        // A directory that is not `<namespace>-<uid>` of its pod could never be found again.
        entries[key] = Self.names(dir, entry.observation) ? entry : nil
    }

    /// Notes a read whose result is not kept (it failed, or the index named no job of its own).
    mutating func readWithoutKeeping(_ dir: String) { lastReads += 1; entries[dir.hashValue] = nil }

    mutating func forget(_ dir: String) { entries[dir.hashValue] = nil }

    /// Whether no earlier observe saw the index of `dir` name `jobID` (it is
    /// noted as seen now). A job reported `justSubmitted` once is judged by
    /// squeue from then on.
    mutating func firstSight(of jobID: String, at dir: String) -> Bool {
        if let e = entries[dir.hashValue], Self.names(dir, e.observation), e.observation.jobID == jobID { return false }
        if submitted[dir] == jobID { return false }
        submitted[dir] = jobID
        return true
    }
    /// Pod directories last reported `justSubmitted`, with the job id their index named.
    private var submitted: [String: String] = [:]

    /// Drops the entries of pod directories that are gone.
    mutating func finish() {
        if entries.count > visited.count { entries = entries.filter { visited.contains($0.key) } }
        if !submitted.isEmpty { submitted = submitted.filter { visited.contains($0.key.hashValue) } }
        visited = []
    }
}
