import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Whole writes to a file descriptor (pipes, stdout, stderr), retrying short
/// writes and EINTR. False when the descriptor refuses (closed pipe...).
public enum FileDescriptor {
    @discardableResult
    public static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }
}
