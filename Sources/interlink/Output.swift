#if canImport(Glibc)
import Glibc
#endif

/// Writing to stderr without corelibs Foundation's FileHandle.
enum FileHandleOutput {
    static func stderr(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        _ = text.withCString { fputs($0, Glibc.stderr) }
    }
}
