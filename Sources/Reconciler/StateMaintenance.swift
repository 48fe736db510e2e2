import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `interlink state check` and `interlink state repair`: what an operator runs
/// when the server refused to start on a damaged journal. Check only reads;
/// repair is explicit, takes the store's lock (so never under a running
/// server), copies the original files into a backup directory first, and keeps
/// every intact record, saying what it kept and what it dropped.
public enum StateMaintenance {
    public struct CheckReport: Sendable {
        public var lines: [String]
        /// The server would refuse to start, or a record may be missing.
        public var damaged: Bool
        public var text: String { lines.joined(separator: "\n") }
    }

    public static func check(directory: String) throws(ReconcilerError) -> CheckReport {
        guard DurableFile.exists(directory) else {
            return CheckReport(lines: ["state directory \(directory) does not exist (no pods recorded)"], damaged: false)
        }
        let r = try StateReading.read(directory: directory)
        var lines = ["state directory \(directory): \(r.records.count) pod records"]
        var damaged = false
        if r.snapshotExists {
            lines.append("snapshot: \(r.snapshotRecords) records, \(r.snapshotScan.fileSize) bytes")
            for d in r.snapshotScan.damage {
                lines.append("  damaged: \(d.length) bytes at offset \(d.offset)")
            }
            if let p = r.snapshotProblem { lines.append("  snapshot problem: \(p)"); damaged = true }
        } else {
            lines.append("snapshot: none")
        }
        let j = r.journalScan
        lines.append("journal: \(j.frames.count) intact records (\(r.journalApplied) applied, \(r.journalSkipped) already in the snapshot), \(j.fileSize) bytes")
        for d in j.middle {
            let after = j.frames.filter { $0.offset > d.offset }.count
            lines.append("  damaged: \(d.length) bytes at offset \(d.offset), \(after) intact records after it (the server refuses to start)")
            damaged = true
        }
        if let t = j.tail {
            if r.tailWasInterruptedWrite {
                lines.append("  torn tail: \(t.length) bytes at offset \(t.offset) (an interrupted write; cut off at start)")
            } else {
                lines.append("  damaged last record: \(t.length) bytes at offset \(t.offset) (cut off at start; an acknowledged record may be lost)")
                damaged = true
            }
        }
        for u in r.undecodable {
            lines.append("  intact but undecodable record in \(u.path) at offset \(u.offset): \(u.error)")
            damaged = true
        }
        lines.append(damaged ? "result: DAMAGED (run `interlink state repair`)" : "result: ok")
        return CheckReport(lines: lines, damaged: damaged)
    }

    /// Rewrites the state as one snapshot of every intact record and an empty
    /// journal, after copying the original files to `<dir>/backup-<time>/`.
    public static func repair(directory: String, now: Date = Date()) throws(ReconcilerError) -> [String] {
        guard DurableFile.exists(directory) else { return ["state directory \(directory) does not exist; nothing to repair"] }
        let lock = try DurableFile.lock(directory + "/lock")
        defer { close(lock) }
        let report = try check(directory: directory)
        let r = try StateReading.read(directory: directory)
        let tornOnly = !report.damaged && r.journalScan.tail != nil
        guard report.damaged || tornOnly else { return report.lines + ["nothing to repair"] }

        let backup = directory + "/backup-\(Int(now.timeIntervalSince1970))"
        try DurableFile.makeDirectory(backup)
        var out = ["backup of the original files: \(backup)"]
        for name in ["snapshot", "journal"] where DurableFile.exists(directory + "/" + name) {
            try DurableFile.writeAtomically(try DurableFile.read(directory + "/" + name), to: backup + "/" + name)
        }
        out.append("kept: \(r.snapshotRecords) snapshot records, \(r.journalApplied) journal records (\(r.journalSkipped) duplicates of the snapshot skipped)")
        for d in r.snapshotScan.damage { out.append("dropped: \(d.length) damaged bytes of the snapshot at offset \(d.offset)") }
        for d in r.journalScan.damage { out.append("dropped: \(d.length) damaged bytes of the journal at offset \(d.offset)") }
        for u in r.undecodable { out.append("dropped: an undecodable record of \(u.path) at offset \(u.offset) (\(u.error))") }
        _ = try DesiredStore.writeSnapshot(r.records, lastSeq: r.lastSeq, encoder: JSONEncoder(), to: r.snapshotPath)
        // The snapshot now holds everything: an empty journal starts after it.
        try DurableFile.writeAtomically(Data(), to: r.journalPath)
        out.append("result: \(r.records.count) pod records in a new snapshot, empty journal")
        return out
    }
}
