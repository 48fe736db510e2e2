import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The durable desired state: one `PodRecord` per pod UID, kept in memory and
/// persisted in `<dir>/journal` (append-only, framed events, fsync per batch)
/// plus `<dir>/snapshot` (all records, replaced atomically on compaction).
///
/// Contract: when `apply` returns, the events are on disk; a process killed at
/// any instant reloads to the state after some prefix of the applied batches.
/// A torn journal tail is dropped with a warning; a corrupt snapshot is an error.
/// The directory is 0700 and files are 0600 because requests carry Secrets.
public actor DesiredStore {
    /// `seq` numbers every event ever applied; the snapshot remembers the last
    /// one it contains, so replaying a journal that a crash left untruncated
    /// after compaction skips what the snapshot already holds.
    struct JournalEntry: Codable { var seq: UInt64; var uid: String; var event: PodEvent; var at: Date }
    /// The snapshot is a header frame followed by one frame per record, so no
    /// frame grows with the number of pods (a frame holds at most 256 MiB).
    struct SnapshotHeader: Codable { var version: Int; var lastSeq: UInt64; var records: Int }

    public nonisolated let directory: String
    /// Journal I/O blocks in write/fsync: it runs on a thread of its own.
    private nonisolated let executor = ThreadExecutor()
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    nonisolated var journalPath: String { directory + "/journal" }
    nonisolated var snapshotPath: String { directory + "/snapshot" }
    private let compactAfterRecords: Int
    private let compactAfterBytes: Int
    private var records: [String: PodRecord] = [:]
    private var fd: Int32 = -1
    private var journalRecords = 0
    private var journalBytes = 0
    private var seq: UInt64 = 0
    /// After a failed compaction (disk full...), the next try waits until the
    /// journal has doubled, instead of rewriting every record on every batch.
    private var retryCompactionAt = 0
    private let encoder = JSONEncoder()

    /// Opens (creating if needed) the store in `directory` and loads it.
    public init(directory: String, compactAfterRecords: Int = 4096,
                compactAfterBytes: Int = 64 << 20) throws(ReconcilerError) {
        self.directory = directory
        self.compactAfterRecords = compactAfterRecords
        self.compactAfterBytes = compactAfterBytes
        try DurableFile.makeDirectory(directory)
        let (loaded, count, bytes, last) = try Self.load(snapshot: directory + "/snapshot", journal: directory + "/journal")
        records = loaded; journalRecords = count; journalBytes = bytes; seq = last
        let jfd = open(directory + "/journal", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if jfd < 0 { throw DurableFile.err(directory + "/journal", "open") }
        fchmod(jfd, 0o600)
        fd = jfd
        // A journal just created must have its directory entry on disk too.
        try DurableFile.syncDirectory(of: directory + "/journal")
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        executor.shutdown()
    }

    /// All records, keyed by pod UID (a copy: cheap, copy-on-write).
    public func all() -> [String: PodRecord] { records }
    public func record(_ uid: String) -> PodRecord? { records[uid] }
    public var count: Int { records.count }
    /// Records in the journal since the last compaction (for tests and metrics).
    public var journalRecordCount: Int { journalRecords }

    /// Applies and persists `events` in order (one write and one fsync for the
    /// batch); answers the resulting record of each touched UID (nil = gone).
    @discardableResult
    public func apply(_ events: [(uid: String, event: PodEvent)], at now: Date = Date()) throws(ReconcilerError) -> [String: PodRecord?] {
        guard !events.isEmpty else { return [:] }
        guard fd >= 0 else { throw .io(path: journalPath, message: "the store is closed") }
        var frames = Data()
        var next = seq
        for e in events {
            next += 1
            do { frames.append(RecordFrame.encode(try encoder.encode(JournalEntry(seq: next, uid: e.uid, event: e.event, at: now)))) }
            catch { throw .encoding("\(error)") }
        }
        do throws(ReconcilerError) {
            try DurableFile.writeAll(fd, frames, path: journalPath)
            if fsync(fd) != 0 { throw DurableFile.err(journalPath, "fsync") }
        } catch {
            // Take back what part of the batch reached the file (disk full...), so the
            // next batch is not appended after a broken frame that loading would stop
            // at, dropping acknowledged events. If even that fails, stop writing.
            if ftruncate(fd, off_t(journalBytes)) != 0 || fsync(fd) != 0 {
                Log.error("the journal could not be repaired after a failed write; refusing further writes",
                          ["path": journalPath, "error": error.description])
                Glibc.close(fd); fd = -1
            }
            // Sequence numbers are never reused, even for a batch that failed: a later
            // batch must not look already-applied to the loader.
            seq = next
            throw error
        }
        journalRecords += events.count; journalBytes += frames.count; seq = next
        var touched: [String: PodRecord?] = [:]
        for e in events {
            let next = PodRecord.apply(e.event, to: records[e.uid], at: now)
            records[e.uid] = next
            touched[e.uid] = .some(next)
        }
        if (journalRecords > max(compactAfterRecords, 2 * records.count) || journalBytes > compactAfterBytes)
            && journalRecords >= retryCompactionAt {
            do { try compact(); retryCompactionAt = 0 } catch {
                // The journal still holds everything; compaction can wait until it has grown.
                retryCompactionAt = 2 * journalRecords
                Log.warn("journal compaction failed; retrying once the journal has doubled",
                         ["error": error.description, "records": String(journalRecords)])
            }
        }
        return touched
    }

    /// Writes all records to a new snapshot (atomically), then empties the journal.
    public func compact() throws(ReconcilerError) {
        var payload = Data()
        do {
            payload.append(RecordFrame.encode(try encoder.encode(SnapshotHeader(version: 2, lastSeq: seq, records: records.count))))
            for r in records.values { payload.append(RecordFrame.encode(try encoder.encode(r))) }
        } catch { throw .encoding("\(error)") }
        try DurableFile.writeAtomically(payload, to: snapshotPath)
        // A crash before this truncate leaves old events in the journal; their
        // sequence numbers are <= the snapshot's lastSeq, so loading skips them.
        if ftruncate(fd, 0) != 0 { throw DurableFile.err(journalPath, "truncate") }
        if fsync(fd) != 0 { throw DurableFile.err(journalPath, "fsync") }
        journalRecords = 0; journalBytes = 0
        Log.debug("journal compacted", ["records": String(records.count), "snapshotBytes": String(payload.count)])
    }

    /// Closes the journal; later `apply` calls fail.
    public func close() {
        if fd >= 0 { fsync(fd); Glibc.close(fd); fd = -1 }
    }

    private static func load(snapshot: String, journal: String) throws(ReconcilerError)
        -> ([String: PodRecord], Int, Int, UInt64) {
        var records: [String: PodRecord] = [:]
        var seq: UInt64 = 0
        let decoder = JSONDecoder()
        if DurableFile.exists(snapshot) {
            chmod(snapshot, 0o600)
            let data = try DurableFile.read(snapshot)
            let (frames, valid) = RecordFrame.decode(data)
            guard valid == data.count, let first = frames.first else {
                throw .corruptSnapshot(path: snapshot, message: "its checksum or length does not match")
            }
            do {
                let header = try decoder.decode(SnapshotHeader.self, from: first)
                guard header.version == 2, frames.count == header.records + 1 else {
                    throw ReconcilerError.corruptSnapshot(path: snapshot, message: "it holds \(frames.count - 1) records where its header says \(header.records) (version \(header.version))")
                }
                for frame in frames.dropFirst() {
                    let r = try decoder.decode(PodRecord.self, from: frame)
                    records[r.uid] = r
                }
                seq = header.lastSeq
            } catch let e as ReconcilerError {
                throw e
            } catch {
                throw .corruptSnapshot(path: snapshot, message: "its content does not decode: \(WireJSON.describe(error))")
            }
        }
        guard DurableFile.exists(journal) else { return (records, 0, 0, seq) }
        chmod(journal, 0o600)
        let data = try DurableFile.read(journal)
        let (frames, framedLength) = RecordFrame.decode(data)
        var validLength = 0, count = 0
        for frame in frames {
            // A frame whose checksum holds but whose content does not decode was
            // written by another version: refuse to start rather than drop it and
            // everything after it (those pods' jobs would be cancelled as orphans).
            let entry: JournalEntry
            do { entry = try decoder.decode(JournalEntry.self, from: frame) } catch {
                throw .corruptSnapshot(path: journal, message: "record \(count + 1) is intact but does not decode (written by another InterLink version?): \(WireJSON.describe(error))")
            }
            if entry.seq > seq {
                records[entry.uid] = PodRecord.apply(entry.event, to: records[entry.uid], at: entry.at)
                seq = entry.seq
            }
            validLength += RecordFrame.headerSize + frame.count; count += 1
        }
        if validLength < data.count {
            Log.warn("dropping a torn or corrupt journal tail (a crash interrupted a write)",
                     ["path": journal, "keptBytes": String(validLength), "droppedBytes": String(data.count - validLength),
                      "framedBytes": String(framedLength)])
            if truncate(journal, off_t(validLength)) != 0 { throw DurableFile.err(journal, "truncate") }
        }
        return (records, count, validLength, seq)
    }
}
