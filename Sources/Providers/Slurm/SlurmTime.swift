/// Slurm's time-limit syntax (`--time`), so a pod's `activeDeadlineSeconds`
/// can be compared with a `--time` from its annotation or the site's flags.
///
/// Contract: `seconds` reads `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`;
/// `UNLIMITED`/`INFINITE` (and `-1`) are nil, as is anything it cannot read.
/// Overflow-safe: absurd values are nil, never a trap.
enum SlurmTime {
    static func seconds(_ text: String) -> Int? {
        var t = Substring(text)
        var days = 0
        if let dash = t.firstIndex(of: "-") {
            guard let d = number(t[..<dash]) else { return nil }
            days = d
            t = t[t.index(after: dash)...]
            let p = t.split(separator: ":", omittingEmptySubsequences: false).map { number($0) }
            guard (1...3).contains(p.count), !p.contains(where: { $0 == nil }) else { return nil }
            let v = p.map { $0! } + Array(repeating: 0, count: 3 - p.count)
            return total(days, v[0], v[1], v[2])
        }
        let p = t.split(separator: ":", omittingEmptySubsequences: false).map { number($0) }
        guard !p.contains(where: { $0 == nil }) else { return nil }
        let v = p.map { $0! }
        switch v.count {
        case 1: return total(0, 0, v[0], 0)
        case 2: return total(0, 0, v[0], v[1])
        case 3: return total(0, v[0], v[1], v[2])
        default: return nil
        }
    }

    private static func number(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 9, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(s)
    }

    private static func total(_ d: Int, _ h: Int, _ m: Int, _ s: Int) -> Int { ((d * 24 + h) * 60 + m) * 60 + s }
}
