/// Resolves plain (unquoted) scalars exactly as PyYAML's YAML 1.1 `SafeLoader`
/// does: null, booleans (yes/no/on/off/true/false in three casings), integers
/// (decimal, `0x`, `0b`, leading-`0` octal, `_` separators, base-60 `1:30`) and
/// floats (`1.5`, `1.`, `.5`, `1.0e+3` — the exponent needs a sign — `.inf`,
/// `.nan`, base-60). Timestamps stay strings (documented deviation); `=` is
/// a string (PyYAML fails on it). Hand-written matchers, no regex engine.
enum YAMLResolver {
    static func resolve(_ s: [UInt8]) -> Result<YAMLScalar, ResolveFailure> {
        let text = String(decoding: s, as: UTF8.self)
        switch text {
        case "", "~", "null", "Null", "NULL": return .success(.null)
        case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .success(.bool(true))
        case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .success(.bool(false))
        default: break
        }
        if isFloat(s) { return constructFloat(s).map { .success(.float($0)) } ?? .success(.string(text)) }
        if isInt(s) {
            guard let v = constructInt(s) else { return .failure(.intOutOfRange(text)) }
            return .success(.int(v))
        }
        return .success(.string(text))
    }

    enum ResolveFailure: Error { case intOutOfRange(String) }

    // MARK: matchers (mirroring PyYAML's resolver regexes)

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
    private static let us = UInt8(ascii: "_"), dot = UInt8(ascii: "."), colon = UInt8(ascii: ":")

    /// Index after an optional sign.
    private static func afterSign(_ s: [UInt8]) -> Int {
        (s.first == UInt8(ascii: "-") || s.first == UInt8(ascii: "+")) ? 1 : 0
    }

    /// `(:[0-5]?[0-9])+` starting at `i`; returns the index after it, or nil.
    private static func sexagesimalTail(_ s: [UInt8], _ start: Int) -> Int? {
        var i = start, groups = 0
        while i < s.count, s[i] == colon {
            i += 1
            guard i < s.count, isDigit(s[i]) else { return nil }
            if i + 1 < s.count, isDigit(s[i + 1]) {
                guard s[i] <= UInt8(ascii: "5") else { return nil }
                i += 2
            } else { i += 1 }
            groups += 1
        }
        return groups > 0 ? i : nil
    }

    static func isInt(_ s: [UInt8]) -> Bool {
        var i = afterSign(s)
        guard i < s.count else { return false }
        let rest = Array(s[i...])
        if rest.count > 2, rest[0] == UInt8(ascii: "0"), rest[1] == UInt8(ascii: "b") {
            return rest[2...].allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") || $0 == us }
        }
        if rest.count > 2, rest[0] == UInt8(ascii: "0"), rest[1] == UInt8(ascii: "x") {
            return rest[2...].allSatisfy { isHex($0) || $0 == us }
        }
        if rest[0] == UInt8(ascii: "0") {
            if rest.count == 1 { return true }
            return rest[1...].allSatisfy { ($0 >= 0x30 && $0 <= 0x37) || $0 == us }
        }
        guard isDigit(rest[0]) else { return false }
        i += 1
        while i < s.count, isDigit(s[i]) || s[i] == us { i += 1 }
        if i == s.count { return true }
        return sexagesimalTail(s, i) == s.count
    }

    static func isFloat(_ s: [UInt8]) -> Bool {
        let text = String(decoding: s, as: UTF8.self)
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        let i0 = afterSign(s)
        let unsigned = String(decoding: s[i0...], as: UTF8.self)
        if [".inf", ".Inf", ".INF"].contains(unsigned) { return true }
        // `.` [0-9][0-9_]* exponent?  (no sign allowed in this form)
        if i0 == 0, s.count >= 2, s[0] == dot, isDigit(s[1]) {
            var i = 2
            while i < s.count, isDigit(s[i]) || s[i] == us { i += 1 }
            return exponent(s, i) == s.count
        }
        // [0-9][0-9_]* then either `.`[0-9_]* exponent? or base-60 groups then `.`[0-9_]*
        var i = i0
        guard i < s.count, isDigit(s[i]) else { return false }
        i += 1
        while i < s.count, isDigit(s[i]) || s[i] == us { i += 1 }
        if i < s.count, s[i] == colon {
            guard let j = sexagesimalTail(s, i), j < s.count, s[j] == dot else { return false }
            return s[(j + 1)...].allSatisfy { isDigit($0) || $0 == us }
        }
        guard i < s.count, s[i] == dot else { return false }
        i += 1
        while i < s.count, isDigit(s[i]) || s[i] == us { i += 1 }
        return exponent(s, i) == s.count
    }

    /// Optional `[eE][-+][0-9]+` at `i`; returns the index after it (i if absent or malformed).
    private static func exponent(_ s: [UInt8], _ i: Int) -> Int {
        guard i + 2 < s.count, s[i] | 0x20 == UInt8(ascii: "e"),
              s[i + 1] == UInt8(ascii: "-") || s[i + 1] == UInt8(ascii: "+"), isDigit(s[i + 2]) else { return i }
        var j = i + 2
        while j < s.count, isDigit(s[j]) { j += 1 }
        return j
    }

    // MARK: construction (mirroring SafeConstructor)

    static func constructInt(_ raw: [UInt8]) -> Int64? {
        var s = raw.filter { $0 != us }
        var negative = false
        if let f = s.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { negative = f == UInt8(ascii: "-"); s.removeFirst() }
        let text = String(decoding: s, as: UTF8.self)
        var magnitude: UInt64
        if text == "0" { return 0 }
        if text.hasPrefix("0b") { guard let v = UInt64(text.dropFirst(2), radix: 2) else { return nil }; magnitude = v }
        else if text.hasPrefix("0x") { guard let v = UInt64(text.dropFirst(2), radix: 16) else { return nil }; magnitude = v }
        else if text.hasPrefix("0") { guard let v = UInt64(text, radix: 8) else { return nil }; magnitude = v }
        else if text.contains(":") {
            magnitude = 0
            for part in text.split(separator: ":", omittingEmptySubsequences: false) {
                guard let d = UInt64(part) else { return nil }
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 60)
                let (a, o2) = m.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                magnitude = a
            }
        } else { guard let v = UInt64(text) else { return nil }; magnitude = v }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func constructFloat(_ raw: [UInt8]) -> Double? {
        var s = String(decoding: raw.filter { $0 != us }, as: UTF8.self).lowercased()
        var sign = 1.0
        if s.hasPrefix("-") { sign = -1; s.removeFirst() } else if s.hasPrefix("+") { s.removeFirst() }
        if s == ".inf" { return sign * .infinity }
        if s == ".nan" { return .nan }
        if s.contains(":") {
            var value = 0.0, base = 1.0
            for part in s.split(separator: ":", omittingEmptySubsequences: false).reversed() {
                guard let d = pyFloat(String(part)) else { return nil }
                value += d * base; base *= 60
            }
            return sign * value
        }
        return pyFloat(s).map { sign * $0 }
    }

    /// Python's `float()` for the forms the matcher lets through (`1.`, `.5`, `1.e+3`).
    private static func pyFloat(_ s: String) -> Double? {
        var t = s
        if t.hasPrefix(".") { t = "0" + t }
        t = t.replacingOccurrences(".e", with: ".0e")
        if t.hasSuffix(".") { t += "0" }
        return Double(t)
    }
}

private extension String {
    func replacingOccurrences(_ a: String, with b: String) -> String {
        self.split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
