/// Why a quantity does not parse: the message names the text and the field.
public struct QuantityError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A Kubernetes resource quantity (`500m`, `1.5`, `128Mi`, `1G`, `1e3`), parsed
/// exactly as Kubernetes' `resource.ParseQuantity` does:
///
///     quantity ::= [+|-] number suffix
///     number   ::= digits | digits "." | "." digits | digits "." digits
///     suffix   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | (e|E) [+|-] digits
///
/// The value is kept in milli-units, rounded up as Kubernetes' `MilliValue`
/// rounds (away from zero), so `0.0001` CPU is 1m and never 0. A value that does
/// not fit an `Int64` of milli-units is an error, not a silent wrap.
public struct Quantity: Sendable, Equatable, CustomStringConvertible {
    /// The value in milli-units, rounded up (1 CPU = 1000; 1 byte = 1000).
    public var milliValue: Int64

    public init(milliValue: Int64) { self.milliValue = milliValue }

    /// Throws a `QuantityError` naming the bad text (the providers turn it into
    /// `ProviderError.invalidPod`). Negative values are rejected: every quantity
    /// InterLink reads is a resource amount.
    public static func parse(_ text: String) throws(QuantityError) -> Quantity {
        try parse(text, for: "resource")
    }

    /// Parses `text`; `what` names the field in the error ("cpu of container app").
    public static func parse(_ text: String, for what: String, allowNegative: Bool = false) throws(QuantityError) -> Quantity {
        guard let milli = milliValue(of: text) else {
            throw QuantityError("invalid quantity \"\(text)\" for \(what)")
        }
        if milli < 0 && !allowNegative {
            throw QuantityError("invalid quantity \"\(text)\" for \(what): it must not be negative")
        }
        return Quantity(milliValue: milli)
    }

    /// CPUs as a decimal number (for `--cpus`).
    public var cores: Double { Double(milliValue) / 1000 }
    /// Whole CPUs rounded up (for `--cpus-per-task`), at least 1.
    public var wholeCoresRoundedUp: Int { max(1, Int(Self.divideRoundingUp(milliValue, 1000))) }
    /// Bytes rounded up (for `--memory`).
    public var bytes: Int64 { Self.divideRoundingUp(milliValue, 1000) }
    /// MiB rounded up (for Slurm `--mem`), at least 1.
    public var mebibytesRoundedUp: Int64 { max(1, Self.divideRoundingUp(bytes, 1_048_576)) }

    /// `a / b` rounded up without the `a + b - 1` that overflows near Int64.max
    /// (quantities up to Int64.max milli-units parse).
    public static func divideRoundingUp(_ a: Int64, _ b: Int64) -> Int64 { a / b + (a % b > 0 ? 1 : 0) }
    public var description: String { "\(milliValue)m" }

    // MARK: - Grammar

    /// Longest text accepted (Kubernetes has no limit; no sane manifest comes near).
    public static let maxLength = 1024

    private static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]
    private static let binarySuffixes: [String: Int] = [
        "Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60,
    ]

    /// The value in milli-units (rounded away from zero), or nil when `text` is
    /// not a quantity or does not fit.
    static func milliValue(of text: String) -> Int64? {
        let u = Array(text.utf8)
        // No real quantity is this long; the cap keeps the exact arithmetic cheap.
        guard u.count <= maxLength else { return nil }
        var i = 0
        var negative = false
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            negative = u[i] == UInt8(ascii: "-"); i += 1
        }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        var digits: [UInt8] = []          // integer and fraction digits, in order
        var fractionDigits = 0
        while i < u.count, isDigit(u[i]) { digits.append(u[i] - 48); i += 1 }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count, isDigit(u[i]) { digits.append(u[i] - 48); fractionDigits += 1; i += 1 }
        }
        guard !digits.isEmpty else { return nil }
        guard let suffix = String(validating: u[i...], as: UTF8.self) else { return nil }

        var exp10 = -fractionDigits
        var exp2 = 0
        if let e = decimalSuffixes[suffix] {
            exp10 += e
        } else if let b = binarySuffixes[suffix] {
            exp2 = b
        } else if let e = decimalExponent(suffix) {
            exp10 += e
        } else {
            return nil
        }
        guard let magnitude = scaledMilli(digits: digits, exp10: exp10, exp2: exp2) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// `e3`, `E-2`, `e+5`: the exponent, or nil (`e` alone, `E` is Exa and handled before).
    private static func decimalExponent(_ s: String) -> Int? {
        let u = Array(s.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "e") || u[0] == UInt8(ascii: "E") else { return nil }
        var rest = u[1...]
        if let f = rest.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { rest = rest.dropFirst() }
        guard !rest.isEmpty, rest.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        // Kubernetes parses the exponent as a 32-bit integer.
        return Int32(String(decoding: u[1...], as: UTF8.self)).map(Int.init)
    }

    /// ceil(N * 2^exp2 * 10^(exp10 + 3)) where N is the decimal `digits`, or nil on overflow.
    private static func scaledMilli(digits: [UInt8], exp10: Int, exp2: Int) -> Int64? {
        // Trailing zeros only move the decimal exponent; dropping them keeps the big number small.
        var digits = digits[...]
        var k = exp10 + 3
        while let first = digits.first, first == 0 { digits = digits.dropFirst() }
        if digits.isEmpty { return 0 }
        while let last = digits.last, last == 0 { digits = digits.dropLast(); k += 1 }

        var n = BigUInt()
        for d in digits { n.multiply(by: 10); n.add(UInt32(d)) }
        for _ in 0..<exp2 { n.multiply(by: 2) }
        if k >= 0 {
            // At least 1 * 10^k: anything past 10^18 cannot fit.
            guard k <= 19 else { return nil }
            for _ in 0..<k { n.multiply(by: 10); if n.limbs.count > 2 { return nil } }
            return n.int64
        }
        // The number has fewer than `decimalDigits` digits: dividing by more rounds up to 1.
        let decimalDigits = digits.count + exp2 / 3 + 2
        if -k > decimalDigits { return 1 }
        var inexact = false
        for _ in 0..<(-k) {
            if n.divide(by: 10) != 0 { inexact = true }
        }
        if inexact { n.add(1) }
        return n.int64
    }
}

/// Just enough of an unsigned big integer for exact quantity scaling.
private struct BigUInt {
    /// Little-endian 32-bit limbs; empty is zero.
    var limbs: [UInt32] = []

    mutating func multiply(by m: UInt32) {
        var carry: UInt64 = 0
        for j in limbs.indices {
            let p = UInt64(limbs[j]) * UInt64(m) + carry
            limbs[j] = UInt32(truncatingIfNeeded: p); carry = p >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    mutating func add(_ a: UInt32) {
        var carry = UInt64(a)
        var j = 0
        while carry != 0 {
            if j == limbs.count { limbs.append(0) }
            let s = UInt64(limbs[j]) + carry
            limbs[j] = UInt32(truncatingIfNeeded: s); carry = s >> 32; j += 1
        }
    }

    /// Divides in place; returns the remainder.
    mutating func divide(by d: UInt32) -> UInt32 {
        var rem: UInt64 = 0
        for j in limbs.indices.reversed() {
            let cur = (rem << 32) | UInt64(limbs[j])
            limbs[j] = UInt32(cur / UInt64(d)); rem = cur % UInt64(d)
        }
        while limbs.last == 0 { limbs.removeLast() }
        return UInt32(rem)
    }

    /// The value if it fits a non-negative Int64.
    var int64: Int64? {
        guard limbs.count <= 2 else { return nil }
        let v = (limbs.count > 1 ? UInt64(limbs[1]) << 32 : 0) | (limbs.first.map(UInt64.init) ?? 0)
        return v <= UInt64(Int64.max) ? Int64(v) : nil
    }
}

extension Quantity {
    /// The first quantity of a pod that does not parse (or is negative), as one
    /// sentence naming it, or nil: container `limits`/`requests`, emptyDir
    /// `sizeLimit` and downward-API `divisor`s (which must also be positive).
    /// The API checks this at `/create`, so a bad number is a 400, not a pod
    /// that fails later.
    public static func problem(withQuantitiesOf pod: Pod) -> String? {
        func check(_ q: QuantityString, _ what: String) -> String? {
            do { _ = try parse(q.text, for: what) } catch { return error.description }
            return nil
        }
        func checkDivisor(_ r: ResourceFieldSelector, _ what: String) -> String? {
            guard let d = r.divisor else { return nil }
            if let p = check(d, what) { return p }
            if (milliValue(of: d.text) ?? 0) <= 0 { return "invalid quantity \"\(d.text)\" for \(what): it must be positive" }
            return nil
        }
        for c in pod.initContainers + pod.containers {
            for (kind, map) in [("limits", c.resources?.limits), ("requests", c.resources?.requests)] {
                for (name, q) in (map ?? [:]).sorted(by: { $0.key < $1.key }) {
                    if let p = check(q, "\(kind).\(name) of container \(c.name)") { return p }
                }
            }
            for e in c.env ?? [] {
                if let r = e.valueFrom?.resourceFieldRef, let p = checkDivisor(r, "divisor of env \(e.name) of container \(c.name)") { return p }
            }
        }
        for v in pod.volumes {
            if let size = v.emptyDir?.sizeLimit, let p = check(size, "sizeLimit of volume \(v.name)") { return p }
            let files = (v.downwardAPI?.items ?? []) + (v.projected?.sources ?? []).flatMap { $0.downwardAPI?.items ?? [] }
            for f in files {
                if let r = f.resourceFieldRef, let p = checkDivisor(r, "divisor of \(f.path) in volume \(v.name)") { return p }
            }
        }
        return nil
    }
}
