/// POSIX shell quoting for every value that reaches a generated script.
///
/// Contract: `ShellQuote.quote(s)` is one shell word whose value, after bash's
/// parsing, is exactly `s` (bytes preserved, including newlines, `$`, backticks
/// and quotes). Single quotes disable every expansion; an embedded single quote
/// is written as `'\''`. Nothing inside can run as code.
enum ShellQuote {
    static func quote(_ s: String) -> String {
        // Plain words stay readable in the golden files.
        if !s.isEmpty, s.unicodeScalars.allSatisfy({ safe.contains($0) }) { return s }
        // By scalar, not Character: a quote followed by a combining mark is one
        // Character yet still a quote byte to bash.
        var out = String.UnicodeScalarView()
        out.append("'")
        for u in s.unicodeScalars {
            if u == "'" { out.append(contentsOf: "'\\''".unicodeScalars) } else { out.append(u) }
        }
        out.append("'")
        return String(out)
    }

    static func join(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }

    private static let safe: Set<Unicode.Scalar> = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,".unicodeScalars)
}
