import FoundationEssentials
import Model
import Support

// Whole, unbuffered writes (followed logs appear at once; no corelibs FileHandle).
func writeStdout(_ data: Data) { FileDescriptor.writeAll(1, data) }
func writeStderr(_ text: String) { FileDescriptor.writeAll(2, Data(text.utf8)) }

/// One line on stderr: the CLI's error and usage output.
func printError(_ line: String) { writeStderr(line.hasSuffix("\n") ? line : line + "\n") }
