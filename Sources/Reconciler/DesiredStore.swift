import FoundationEssentials
import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// The durable desired state: one `PodRecord` per pod UID, kept in memory and
/// persisted in `<dir>/journal` (append-only, framed events, fsync per batch)
/// plus `<dir>/snapshot` (all records, replaced atomically on compaction).
///
/// Contract: when `apply` returns, the events are on disk; a process killed at
/// any instant reloads to the state after some prefix of the applied batches.
/// A torn journal tail (an interrupted write, zeros included) is cut off with a
/// warning. Damage with intact records after it is never skipped: the store
/// refuses to open, naming the file and offset, until `interlink state repair`
/// (which keeps a backup) is run; a corrupt snapshot is an error too.
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
    private var records = RecordTable()
    private var fd: Int32 = -1
    /// Held (flock) while the store is open: one writer per state directory,
    /// and `interlink state repair` cannot rewrite files a server is using.
    private var lockFD: Int32 = -1
    /// What loading found (a cut tail...), for the orphan collector's caution.
    public private(set) var loadReport = LoadReport()
    /// Size of the last snapshot written: compaction waits until the journal
    /// outgrows it, so its cost stays spread over the writes since the last one.
    private var snapshotBytes = 0
    /// Time and size of the last compaction (for the benchmark and metrics).
    public private(set) var lastCompaction: (seconds: Double, snapshotBytes: Int)?
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
        lockFD = try DurableFile.lock(directory + "/lock")
        do {
            let (loaded, count, bytes, last, report) = try Self.load(directory: directory)
            records = loaded; journalRecords = count; journalBytes = bytes; seq = last; loadReport = report
        } catch {
            Glibc.close(lockFD); lockFD = -1
            throw error
        }
        let jfd = open(directory + "/journal", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if jfd < 0 { Glibc.close(lockFD); throw DurableFile.err(directory + "/journal", "open") }
        fchmod(jfd, 0o600)
        fd = jfd
        // A journal just created must have its directory entry on disk too.
        try DurableFile.syncDirectory(of: directory + "/journal")
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        if lockFD >= 0 { Glibc.close(lockFD) }
        executor.shutdown()
    }

    /// All records (a copy: cheap, copy-on-write).
    func table() -> RecordTable { records }
    /// All records, keyed by pod UID (built: for tests and tools, not the loop).
    public func all() -> [String: PodRecord] { Dictionary(uniqueKeysWithValues: records.entries.map { ($0.uid, $0.record) }) }
    public func record(_ uid: String) -> PodRecord? { records[uid] }
    public var count: Int { records.count }
    func dropAllForBench() { records = RecordTable() }
    /// Records whose current attempt has a backend job id (the benchmark waits on it).
    var jobsKnown: Int { records.records.reduce(0) { $0 + ($1.jobID.isEmpty ? 0 : 1) } }
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
        if (journalRecords > max(compactAfterRecords, 2 * records.count) || journalBytes > max(compactAfterBytes, 2 * snapshotBytes))
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
        let clock = ContinuousClock(), started = clock.now
        let bytes = try Self.writeSnapshot(records, lastSeq: seq, encoder: encoder, to: snapshotPath)
        // A crash before this truncate leaves old events in the journal; their
        // sequence numbers are <= the snapshot's lastSeq, so loading skips them.
        if ftruncate(fd, 0) != 0 { throw DurableFile.err(journalPath, "truncate") }
        if fsync(fd) != 0 { throw DurableFile.err(journalPath, "fsync") }
        journalRecords = 0; journalBytes = 0; snapshotBytes = bytes
        let d = clock.now - started
        lastCompaction = (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18, bytes)
        Log.debug("journal compacted", ["records": String(records.count), "snapshotBytes": String(bytes)])
    }

    /// Writes the snapshot to `path` atomically: a header frame, then one frame
    /// per record, streamed (`AtomicWriter`): compaction at 10,000 pods does not
    /// hold megabytes of JSON at once. Answers the bytes written.
    static func writeSnapshot(_ records: RecordTable, lastSeq: UInt64, encoder: JSONEncoder,
                              to path: String) throws(ReconcilerError) -> Int {
        let w = try DurableFile.AtomicWriter(path: path)
        func frame<T: Encodable>(_ value: T) throws(ReconcilerError) -> Data {
            do { return RecordFrame.encode(try encoder.encode(value)) } catch { throw .encoding("\(error)") }
        }
        try w.append(frame(SnapshotHeader(version: 2, lastSeq: lastSeq, records: records.count)))
        for r in records.records { try w.append(frame(r)) }
        try w.commit()
        return w.count
    }

    /// Closes the journal; later `apply` calls fail.
    public func close() {
        if fd >= 0 { fsync(fd); Glibc.close(fd); fd = -1 }
        if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
    }

    /// Bytes in the journal since the last compaction.
    public var journalByteCount: Int { journalBytes }

    private static func load(directory: String) throws(ReconcilerError)
        -> (RecordTable, Int, Int, UInt64, LoadReport) {
        let r = try StateReading.read(directory: directory)
        if let bad = r.snapshotProblem { throw .corruptSnapshot(path: r.snapshotPath, message: bad) }
        if let u = r.undecodable.first {
            // A frame whose checksum holds but whose content does not decode was
            // written by another version: refuse to start rather than drop it and
            // everything after it (those pods' jobs would be cancelled as orphans).
            throw .corruptSnapshot(path: u.path, message: "the record at byte \(u.offset) is intact but does not decode (written by another InterLink version?): \(u.error)")
        }
        let scan = r.journalScan
        if let d = scan.middle.first {
            let after = scan.frames.filter { $0.offset > d.offset }.count
            throw .damagedJournal(path: r.journalPath, offset: d.offset, length: d.length, intactAfter: after)
        }
        var report = LoadReport()
        var validLength = scan.fileSize
        if let tail = scan.tail {
            report.droppedTailBytes = tail.length
            report.tailWasInterruptedWrite = r.tailWasInterruptedWrite
            validLength = tail.offset
            Log.warn(report.tailWasInterruptedWrite
                        ? "dropping a torn journal tail (a crash interrupted a write)"
                        : "dropping a damaged last journal record; orphan collection stays off until restart",
                     ["path": r.journalPath, "offset": String(tail.offset), "droppedBytes": String(tail.length)])
            if truncate(r.journalPath, off_t(validLength)) != 0 { throw DurableFile.err(r.journalPath, "truncate") }
        }
        return (r.records, scan.frames.count, validLength, r.lastSeq, report)
    }
}

/// How the store's files looked when it opened.
public struct LoadReport: Sendable, Equatable {
    /// Bytes cut off the end of the journal (0: none).
    public var droppedTailBytes = 0
    /// The cut tail was an interrupted append (short frame or zeros), not a
    /// complete record damaged afterwards.
    public var tailWasInterruptedWrite = true
    /// Everything on disk was loaded: nothing acknowledged can be missing, so
    /// jobs the store does not know may be collected as orphans.
    public var clean: Bool { droppedTailBytes == 0 || tailWasInterruptedWrite }
}

/// The content of a state directory, read without changing anything: the
/// records rebuilt from every intact frame, and every problem with its offset.
/// The store's load refuses on problems; `interlink state check/repair` report them.
struct StateReading {
    var snapshotPath: String
    var journalPath: String
    var records = RecordTable()
    var lastSeq: UInt64 = 0
    var snapshotExists = false
    var snapshotRecords = 0
    var snapshotScan = JournalScan()
    /// Why the snapshot cannot be trusted as a whole (nil: it can).
    var snapshotProblem: String?
    var journalScan = JournalScan()
    var journalApplied = 0
    var journalSkipped = 0
    var tailWasInterruptedWrite = true
    /// Intact frames whose content does not decode.
    var undecodable: [(path: String, offset: Int, error: String)] = []

    static func read(directory: String) throws(ReconcilerError) -> StateReading {
        var r = StateReading(snapshotPath: directory + "/snapshot", journalPath: directory + "/journal")
        let decoder = JSONDecoder()
        if DurableFile.exists(r.snapshotPath) {
            r.snapshotExists = true
            chmod(r.snapshotPath, 0o600)
            let data = try DurableFile.read(r.snapshotPath)
            let scan = JournalScan.scan(data)
            r.snapshotScan = scan
            if let d = scan.damage.first {
                r.snapshotProblem = "its checksum or length does not match at byte \(d.offset)"
            }
            var frames = scan.frames[...]
            if let first = frames.first, let header = try? decoder.decode(DesiredStore.SnapshotHeader.self, from: first.payload),
               header.version == 2, first.offset == 0 {
                frames = frames.dropFirst()
                r.lastSeq = header.lastSeq
                if frames.count != header.records && r.snapshotProblem == nil {
                    r.snapshotProblem = "it holds \(frames.count) records where its header says \(header.records) (version \(header.version))"
                }
            } else if r.snapshotProblem == nil {
                r.snapshotProblem = "its header is missing or does not decode"
            }
            for f in frames {
                do {
                    let rec = try decoder.decode(PodRecord.self, from: f.payload)
                    r.records[rec.uid] = rec; r.snapshotRecords += 1
                } catch {
                    r.undecodable.append((r.snapshotPath, f.offset, WireJSON.describe(error)))
                }
            }
        }
        guard DurableFile.exists(r.journalPath) else { return r }
        chmod(r.journalPath, 0o600)
        let data = try DurableFile.read(r.journalPath)
        r.journalScan = JournalScan.scan(data)
        if let tail = r.journalScan.tail { r.tailWasInterruptedWrite = JournalScan.tailIsInterruptedWrite(data, tail) }
        let base = r.lastSeq
        for f in r.journalScan.frames {
            let entry: DesiredStore.JournalEntry
            do { entry = try decoder.decode(DesiredStore.JournalEntry.self, from: f.payload) } catch {
                r.undecodable.append((r.journalPath, f.offset, WireJSON.describe(error)))
                continue
            }
            // Events the snapshot already holds (a crash between its rename and
            // the journal's truncation) are skipped by sequence number.
            if entry.seq > base {
                r.records[entry.uid] = PodRecord.apply(entry.event, to: r.records[entry.uid], at: entry.at)
                r.lastSeq = max(r.lastSeq, entry.seq); r.journalApplied += 1
            } else {
                r.journalSkipped += 1
            }
        }
        return r
    }
}
