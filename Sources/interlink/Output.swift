import FoundationEssentials
import Model

/// One line to stderr (the CLI's error and usage output).
enum FileHandleOutput {
    static func stderr(_ line: String) {
        FileDescriptor.writeAll(2, Data((line.hasSuffix("\n") ? line : line + "\n").utf8))
    }
}
