/// A parsed JSON value that keeps integers and floats apart, so the
/// differential tests notice `1` versus `1.0` and key order.
enum JSONValue: Equatable, CustomStringConvertible {
    case null, bool(Bool), int(String), float(Double), string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .int(let s): return s
        case .float(let d): return "\(d)f"
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
    }

    struct ParseError: Error {}

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = Parser(b: bytes)
        let v = try p.value()
        p.ws()
        guard p.i == bytes.count else { throw ParseError() }
        return v
    }

    private struct Parser {
        let b: [UInt8]
        var i = 0
        mutating func ws() { while i < b.count, [0x20, 0x0A, 0x0D, 0x09].contains(b[i]) { i += 1 } }
        mutating func lit(_ s: String) throws { let u = Array(s.utf8); guard i + u.count <= b.count, Array(b[i..<i + u.count]) == u else { throw ParseError() }; i += u.count }
        mutating func value() throws -> JSONValue {
            ws()
            guard i < b.count else { throw ParseError() }
            switch b[i] {
            case UInt8(ascii: "n"): try lit("null"); return .null
            case UInt8(ascii: "t"): try lit("true"); return .bool(true)
            case UInt8(ascii: "f"): try lit("false"); return .bool(false)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                i += 1; var items: [JSONValue] = []; ws()
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(try value()); ws()
                    guard i < b.count else { throw ParseError() }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw ParseError()
                }
            case UInt8(ascii: "{"):
                i += 1; var items: [(String, JSONValue)] = []; ws()
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(items) }
                while true {
                    ws(); let k = try string(); ws(); try lit(":")
                    items.append((k, try value())); ws()
                    guard i < b.count else { throw ParseError() }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "}") { i += 1; return .object(items) }
                    throw ParseError()
                }
            default:
                let start = i
                while i < b.count, "+-0123456789.eE".utf8.contains(b[i]) { i += 1 }
                let text = String(decoding: b[start..<i], as: UTF8.self)
                if text.contains(where: { ".eE".contains($0) }) {
                    guard let d = Double(text) else { throw ParseError() }
                    return .float(d)
                }
                guard !text.isEmpty else { throw ParseError() }
                return .int(text == "-0" ? "0" : text)
            }
        }
        mutating func string() throws -> String {
            try lit("\"")
            var out = [UInt8]()
            var pendingHigh: UInt32? = nil
            while true {
                guard i < b.count else { throw ParseError() }
                let c = b[i]; i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard i < b.count else { throw ParseError() }
                let e = b[i]; i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else { throw ParseError() }
                    i += 4
                    if (0xD800...0xDBFF).contains(v) { pendingHigh = v; continue }
                    var scalar = v
                    if (0xDC00...0xDFFF).contains(v), let h = pendingHigh { scalar = 0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00); pendingHigh = nil }
                    guard let u = Unicode.Scalar(scalar) else { throw ParseError() }
                    out += Array(String(Character(u)).utf8)
                default: out.append(e)
                }
            }
        }
    }
}
