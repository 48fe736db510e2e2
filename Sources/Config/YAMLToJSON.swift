import FoundationEssentials

/// The YAML reader's entry points. The reader is hand-written and supports the
/// subset of YAML that configuration files and Kubernetes manifests use (see
/// `config/README.md`); inputs outside it are rejected with a line number.
/// Results agree with PyYAML's `safe_load_all` (differentially tested).
public enum YAML {
    /// Parses a YAML text holding one or more documents (`---` separated) and
    /// returns each document as JSON bytes (mappings -> objects, sequences ->
    /// arrays, scalars resolved as YAML 1.1 core types the way PyYAML's
    /// safe_load does). Empty (null) documents are skipped. Non-finite floats
    /// become the strings `.inf`, `-.inf`, `.nan`. Errors carry the line number.
    public static func documentsAsJSON(_ text: String) throws(YAMLError) -> [Data] {
        try documents(text).map { node in
            var out: [UInt8] = []
            JSONText.write(node, into: &out)
            return Data(out)
        }
    }

    /// Parses every non-empty document into a tree with line numbers.
    public static func documents(_ text: String) throws(YAMLError) -> [YAMLNode] {
        var parser = YAMLParser(bytes: try YAMLInput.bytes(text))
        return try parser.parseStream()
    }
}

/// A YAML text the reader cannot accept; `line` is 1-based.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) { self.line = line; self.message = message }
    public var description: String { "line \(line): \(message)" }
}

/// Compact JSON text for a node tree (keys in document order).
enum JSONText {
    static func write(_ node: YAMLNode, into out: inout [UInt8]) {
        switch node.value {
        case .scalar(let s):
            switch s {
            case .null: out += Array("null".utf8)
            case .bool(let v): out += Array((v ? "true" : "false").utf8)
            case .int(let v): out += Array(String(v).utf8)
            case .float(let d):
                if d.isFinite { out += Array(d.description.utf8) } else { string(YAMLScalar.floatText(d), into: &out) }
            case .string(let t): string(t, into: &out)
            }
        case .sequence(let items):
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .mapping(let entries):
            out.append(UInt8(ascii: "{"))
            for (n, e) in entries.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                string(e.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(e.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x00..<0x20:
                let hex = String(byte, radix: 16)
                out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
