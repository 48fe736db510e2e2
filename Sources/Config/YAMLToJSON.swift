import FoundationEssentials

/// The entry point other modules use (ctl reads pod manifests with it).
/// STUB: the body is filled in by the YAML work.
public enum YAML {
    /// Parses a YAML text holding one or more documents (`---` separated) and
    /// returns each document as JSON bytes (mappings -> objects, sequences ->
    /// arrays, scalars resolved as YAML 1.1 core types the way PyYAML's
    /// safe_load does). Errors carry the line number.
    public static func documentsAsJSON(_ text: String) throws(YAMLError) -> [Data] {
        throw YAMLError(line: 0, message: "YAML reader not implemented yet")
    }
}

/// A YAML text the reader cannot accept; `line` is 1-based.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) { self.line = line; self.message = message }
    public var description: String { "line \(line): \(message)" }
}
