import FoundationEssentials

/// Reads a framed file (journal or snapshot) without ever stopping at the first
/// bad byte: every intact frame is found, and every damaged byte range is named
/// with its offset. This is what tells a torn *tail* (a write a crash cut short:
/// cut it off) from damage *in the middle* (intact, acknowledged records follow
/// it: never drop them silently).
struct JournalScan: Sendable {
    struct Frame: Sendable { var offset: Int; var payload: Data }
    struct Damage: Sendable, Equatable { var offset: Int; var length: Int }

    var frames: [Frame] = []
    /// Byte ranges that hold no intact frame, in file order.
    var damage: [Damage] = []
    var fileSize = 0

    /// The damaged range that runs to the end of the file with no intact frame
    /// after it: an interrupted write.
    var tail: Damage? {
        guard let last = damage.last, last.offset + last.length == fileSize,
              frames.last.map({ $0.offset < last.offset }) ?? true else { return nil }
        return last
    }
    /// Damage followed by intact frames: acknowledged records come after it.
    var middle: [Damage] { tail == nil ? damage : Array(damage.dropLast()) }

    /// Scans `data`. A frame is intact when its length is plausible, its payload
    /// fits, starts with `{` (every payload is a JSON object) and matches its
    /// CRC-32. A zero length is never intact (nothing writes an empty payload),
    /// so a zero-filled tail, which a crash can leave after extending the file,
    /// counts as torn.
    static func scan(_ data: Data) -> JournalScan {
        var out = JournalScan()
        let bytes = [UInt8](data)
        out.fileSize = bytes.count
        var off = 0
        while off < bytes.count {
            if let len = frameLength(bytes, at: off) {
                out.frames.append(Frame(offset: off, payload: Data(bytes[(off + RecordFrame.headerSize)..<(off + RecordFrame.headerSize + len)])))
                off += RecordFrame.headerSize + len
                continue
            }
            // Resynchronise: the next offset where an intact frame starts.
            var next = off + 1
            while next < bytes.count && frameLength(bytes, at: next) == nil { next += 1 }
            out.damage.append(Damage(offset: off, length: next - off))
            off = next
        }
        return out
    }

    /// True when the torn tail is what an interrupted append leaves (a short
    /// frame, or zeros), not a complete frame whose bytes changed afterwards.
    static func tailIsInterruptedWrite(_ data: Data, _ tail: Damage) -> Bool {
        let bytes = data[data.startIndex + tail.offset ..< data.startIndex + tail.offset + tail.length]
        if bytes.allSatisfy({ $0 == 0 }) { return true }
        guard tail.length >= RecordFrame.headerSize else { return true }
        let b = [UInt8](bytes.prefix(4))
        let len = Int(UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
        return tail.length - RecordFrame.headerSize < len
    }

    /// The payload length of an intact frame at `off`, or nil.
    private static func frameLength(_ b: [UInt8], at off: Int) -> Int? {
        let h = RecordFrame.headerSize
        guard b.count - off >= h + 1 else { return nil }
        let len = Int(u32(b, off))
        guard len > 0, len <= RecordFrame.maxPayload, b.count - off - h >= len, b[off + h] == 0x7B else { return nil }
        let crc = u32(b, off + 4)
        let ok = b.withUnsafeBufferPointer { p in
            CRC32.checksum(UnsafeBufferPointer(rebasing: p[(off + h)..<(off + h + len)])) == crc
        }
        return ok ? len : nil
    }

    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
