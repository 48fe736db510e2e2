/// Writes random, valid YAML in the supported subset: nested block mappings and
/// sequences (compact and indentless forms), every scalar style, block scalars
/// with chomping and indentation indicators, flow collections and comments.
struct YAMLGenerator {
    var rng: SplitMix64
    init(rng: inout SplitMix64) { self.rng = SplitMix64(seed: rng.next()) }

    static let plains = ["hello", "two words", "x-y_z", "a:b", "a#b", "50%", "é ü", "http://h.example/p?q=1",
                         "0", "-0", "12", "+7", "-17", "0x1F", "0xff_ff", "017", "09", "0b101", "1_000", "1:30", "190:20:30",
                         "1.5", "-2.25", "1.", ".5", "-.5", "1.0e+3", "1.0e3", "1e3", "6.8523015e+5", "1:30.5", "._5",
                         ".inf", "-.Inf", ".NaN", "yes", "No", "ON", "off", "True", "FALSE", "y", "n", "yEs",
                         "null", "Null", "~", "2024-01-15", "2001-12-14t21:59:43.10-05:00", "1.2.3", "10.0.0.1",
                         "-x", ":x", "?x", "...x", "a'b", "say \"hi\"", "a!b", "a&b", "a*b", "v1.2"]
    static let keys = ["name", "image", "a", "b", "key with space", "kubernetes.io/name", "x-y", "1", "0x10", "n",
                       "version", "ports", "data", "spec", "é", "yes", "null", "1.5", "_k", "k.k"]
    static let words = ["alpha", "beta", "gamma", "x", "#", "a: b", "- item", "{c}", "[d]", "'q'", "\"dq\"", "tab\there", "é"]

    mutating func document() -> String {
        var out = ""
        if rng.chance(20) { out += "# generated\n" }
        if rng.chance(15) { out += "---\n" }
        switch rng.int(3) {
        case 0: out += mapping(indent: 0, depth: 0)
        case 1: out += sequence(indent: 0, depth: 0)
        default: out += mapping(indent: 0, depth: 0)
        }
        if rng.chance(15) { out += "---\n" + sequence(indent: 0, depth: 1) }
        return out
    }

    private func pad(_ n: Int) -> String { String(repeating: " ", count: n) }

    /// A key's text (what it resolves to, for uniqueness) and how it is written.
    mutating func key() -> (raw: String, written: String) {
        let k = rng.pick(Self.keys) + (rng.chance(50) ? "\(rng.int(1000))" : "")
        switch rng.int(6) {
        case 0: return (k, "'" + k.replacingAll("'", "''") + "'")
        case 1: return (k, "\"" + k + "\"")
        default: return (k, k.hasPrefix("1") || k.hasPrefix("0") || k == "yes" || k == "null" || k == "n" ? "\"\(k)\"" : k)
        }
    }

    mutating func mapping(indent: Int, depth: Int) -> String {
        var out = ""
        var used = Set<String>()
        for _ in 0..<(1 + rng.int(4)) {
            var k = key()
            while used.contains(k.raw) { k = key() }
            used.insert(k.raw)
            out += pad(indent) + k.written + ":" + value(indent: indent, depth: depth)
        }
        return out
    }

    mutating func sequence(indent: Int, depth: Int) -> String {
        var out = ""
        for _ in 0..<(1 + rng.int(4)) {
            if depth < 4 && rng.chance(25) {
                // compact nested mapping: "- k: v\n  k2: v2"
                let body = mapping(indent: indent + 2, depth: depth + 1)
                out += pad(indent) + "- " + String(body.dropFirst(indent + 2))
            } else if depth < 4 && rng.chance(10) {
                let body = sequence(indent: indent + 2, depth: depth + 1)
                out += pad(indent) + "- " + String(body.dropFirst(indent + 2))
            } else {
                out += pad(indent) + "-" + value(indent: indent, depth: depth)
            }
        }
        return out
    }

    /// Everything after "key:" or "-", including the line break(s).
    mutating func value(indent: Int, depth: Int) -> String {
        let comment = rng.chance(10) ? " # note" : ""
        if depth < 5 && rng.chance(30) {
            let child = indent + 1 + rng.int(4)
            if rng.chance(50) { return comment + "\n" + mapping(indent: child, depth: depth + 1) }
            let seqIndent = rng.chance(30) ? indent : child
            return comment + "\n" + sequence(indent: seqIndent, depth: depth + 1)
        }
        switch rng.int(10) {
        case 0: return " " + blockScalar(indent: indent)
        case 1: return " " + flow(depth: 0) + comment + "\n"
        case 2: return " '" + text().replacingAll("'", "''") + "'" + comment + "\n"
        case 3: return " \"" + escaped() + "\"" + comment + "\n"
        case 4: return comment + "\n"
        case 5:
            // multi-line plain scalar
            let cont = pad(indent + 1 + rng.int(3))
            return " " + rng.pick(["first", "one two", "a"]) + "\n" + (rng.chance(30) ? "\n" : "") + cont + rng.pick(["second", "more words", "x"]) + "\n"
        case 6: return " \"" + rng.pick(["folded", "a b"]) + "\n" + pad(indent + 1) + rng.pick(["line", "c d"]) + "\"\n"
        default: return " " + rng.pick(Self.plains) + comment + "\n"
        }
    }

    mutating func text() -> String {
        (0..<(1 + rng.int(3))).map { _ in rng.pick(Self.words).replacingAll("\t", " ") }.joined(separator: " ")
    }

    mutating func escaped() -> String {
        (0..<(1 + rng.int(4))).map { _ in
            rng.pick(["plain", "\\n", "\\t", "\\\"", "\\\\", "\\u00e9", "\\x41", "\\U0001F600", "\\/", "\\0", "\\e", "\\_", "'", "tab\there", " sp "])
        }.joined()
    }

    mutating func flow(depth: Int) -> String {
        let scalars = ["a", "1", "0x10", "\"q, r\"", "'s'", "yes", "~", "1.5", "http://x/y", "é"]
        if depth >= 3 || rng.chance(40) { return rng.pick(scalars) }
        let n = rng.int(4)
        if rng.chance(50) {
            let items = (0..<n).map { _ in flow(depth: depth + 1) }
            return "[" + items.joined(separator: rng.pick([", ", ",", " , "])) + (n > 0 && rng.chance(20) ? ", " : "") + "]"
        }
        var used = Set<String>()
        var items: [String] = []
        for i in 0..<n {
            let k = "k\(i)"
            if used.insert(k).inserted { items.append(rng.chance(15) ? k : "\(k): \(flow(depth: depth + 1))") }
        }
        return "{" + items.joined(separator: ", ") + "}"
    }

    mutating func blockScalar(indent: Int) -> String {
        var header = rng.pick(["|", ">"])
        let explicit = rng.chance(25) ? 1 + rng.int(3) : nil
        let chomp = rng.pick(["", "-", "+"])
        if let e = explicit { header += rng.chance(50) ? "\(e)\(chomp)" : "\(chomp)\(e)" } else { header += chomp }
        if rng.chance(20) { header += " # comment" }
        let base = explicit.map { indent + $0 } ?? indent + 1 + rng.int(3)
        var out = header + "\n"
        if explicit == nil && rng.chance(20) { out += "\n" }
        let first = explicit != nil && rng.chance(40) ? " " : ""
        for n in 0..<(1 + rng.int(5)) {
            switch rng.int(6) {
            case 0 where n > 0: out += "\n"
            case 1 where n > 0: out += pad(base + 2) + text() + "\n"
            default: out += pad(base) + (n == 0 ? first : "") + text() + (rng.chance(10) ? "\tt" : "") + "\n"
            }
        }
        if rng.chance(30) { out += "\n" + (rng.chance(50) ? "\n" : "") }
        return out
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String { split(separator: a, omittingEmptySubsequences: false).joined(separator: b) }
}
