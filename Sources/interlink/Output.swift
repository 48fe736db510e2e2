#if canImport(Glibc)
import Glibc
#endif

/// Writing to stderr without corelibs Foundation's FileHandle.
enum FileHandleOutput {
    static func stderr(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
