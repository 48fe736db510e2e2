/// One node of a parsed YAML document, with the 1-based line where it starts.
/// Scalars are already resolved the way PyYAML's `safe_load` resolves YAML 1.1
/// plain scalars; mappings keep their keys in document order, as strings (the
/// JSON spelling of the resolved key), and never hold a key twice.
public struct YAMLNode: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLEntry])
    }
    public var value: Value
    public var line: Int

    public init(_ value: Value, line: Int) { self.value = value; self.line = line }

    /// The entry for `key` in a mapping node (nil for other nodes or absent keys).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = value else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// A short name of the node's kind for error messages ("a string", "a mapping").
    public var kindDescription: String {
        switch value {
        case .sequence: return "a sequence"
        case .mapping: return "a mapping"
        case .scalar(let s):
            switch s {
            case .null: return "an empty value"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        }
    }
}

/// A mapping entry: the key as a string and the line it sits on.
public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var keyLine: Int
    public var value: YAMLNode
    public init(key: String, keyLine: Int, value: YAMLNode) { self.key = key; self.keyLine = keyLine; self.value = value }
}

/// A resolved scalar. Integers are 64-bit: larger ones are rejected at parse
/// time (PyYAML would give a Python big integer).
public enum YAMLScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)

    /// How the scalar reads as a JSON object key (what `json.dumps` does to
    /// non-string keys, except that non-finite floats keep their YAML spelling).
    var keyString: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d): return YAMLScalar.floatText(d)
        case .string(let s): return s
        }
    }

    /// Finite doubles in their shortest round-trip form; `.inf`, `-.inf`, `.nan` otherwise.
    static func floatText(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        return d.description
    }
}
