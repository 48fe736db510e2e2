/// A scanned scalar before resolution.
struct ScalarToken {
    enum Style { case plain, singleQuoted, doubleQuoted }
    var text: [UInt8]
    var style: Style
    var startLine: Int
    var endLine: Int
}

/// Scalar scanning: plain, quoted and block scalars, ported rule for rule from
/// PyYAML's scanner (`scan_plain`, `scan_flow_scalar`, `scan_block_scalar`) so
/// that whitespace folding gives the same strings.
extension YAMLParser {
    func resolve(_ t: ScalarToken) throws(YAMLError) -> YAMLScalar {
        guard t.style == .plain else { return .string(String(decoding: t.text, as: UTF8.self)) }
        switch YAMLResolver.resolve(t.text) {
        case .success(let s): return s
        case .failure(.intOutOfRange(let text)):
            throw fail("integer '\(text)' has no digits or is outside the 64-bit range (quote it to keep it as a string)", line: t.startLine)
        }
    }

    /// A plain or quoted scalar at the current position; rejects characters that
    /// start YAML features this reader does not support.
    mutating func scanScalarToken(parent: Int, flow: Bool) throws(YAMLError) -> ScalarToken {
        let startLine = line
        let c = peek(), n = peek(1)
        switch c {
        case C.squote, C.dquote:
            let text = try scanQuoted(double: c == C.dquote)
            lastTokenLine = line
            return ScalarToken(text: text, style: c == C.dquote ? .doubleQuoted : .singleQuoted, startLine: startLine, endLine: line)
        case C.amp: throw fail("anchors ('&') are not supported")
        case C.star: throw fail("aliases ('*') are not supported")
        case C.bang: throw fail("tags ('!') are not supported")
        case C.percent: throw fail(column == 0 ? "directives (%YAML, %TAG) are not supported" : "'%' cannot start a plain scalar (quote the value)")
        case C.at, C.backtick: throw fail("'\(Character(Unicode.Scalar(c)))' is reserved and cannot start a plain scalar (quote the value)")
        case C.pipe, C.gt:
            throw fail(flow ? "block scalars ('|', '>') are not allowed inside a flow collection" : "a block scalar cannot be a mapping key")
        case C.hash: throw fail("expected a value, found a comment")
        case C.comma, C.lbracket, C.rbracket, C.lbrace, C.rbrace:
            throw fail(flow ? "expected a value, found '\(Character(Unicode.Scalar(c)))'" : "'\(Character(Unicode.Scalar(c)))' cannot start a plain scalar (quote the value)")
        case C.question where Self.isBlankOrEnd(n) || flow: throw fail("complex mapping keys ('?') are not supported")
        case C.colon where Self.isBlankOrEnd(n) || flow:
            throw fail(flow ? "expected a value, found ':' (empty keys are not supported)" : "empty mapping keys are not supported")
        case C.dash where Self.isBlankOrEnd(n):
            throw fail(flow ? "block sequence entries ('- ') are not allowed inside a flow collection" : "sequence entries are not allowed here")
        case 0: throw fail("unexpected end of input, expected a value")
        case C.nl: throw fail("expected a value")
        default: break
        }
        let (text, endLine) = try scanPlain(parent: parent, flow: flow)
        lastTokenLine = endLine
        return ScalarToken(text: text, style: .plain, startLine: startLine, endLine: endLine)
    }

    // MARK: plain

    mutating func scanPlain(parent: Int, flow: Bool) throws(YAMLError) -> ([UInt8], Int) {
        var out: [UInt8] = []
        let indent = parent + 1
        var spaces: [UInt8] = []
        var endLine = line
        while true {
            if peek() == C.hash { break }
            var len = 0
            while true {
                let ch = peek(len)
                if ch == 0 || ch == C.sp || ch == C.tab || ch == C.nl { break }
                if ch == C.colon {
                    let nx = peek(len + 1)
                    if Self.isBlankOrEnd(nx) || (flow && Self.isFlowIndicator(nx)) { break }
                }
                if flow && (ch == C.question || Self.isFlowIndicator(ch)) { break }
                len += 1
            }
            if len == 0 { break }
            out += spaces
            out += b[i..<(i + len)]
            advance(len)
            endLine = line
            guard let sp = scanPlainSpaces() else { break }
            spaces = sp
            if spaces.isEmpty || peek() == C.hash || (!flow && column < indent) { break }
        }
        return (out, endLine)
    }

    static func isFlowIndicator(_ c: UInt8) -> Bool {
        c == C.comma || c == C.lbracket || c == C.rbracket || c == C.lbrace || c == C.rbrace
    }

    /// The whitespace between two words of a plain scalar, folded; nil at a document marker.
    mutating func scanPlainSpaces() -> [UInt8]? {
        var ws = 0
        while peek() == C.sp { advance(); ws += 1 }
        if peek() == C.nl {
            advance()
            if atDocumentMarker { return nil }
            var breaks = 0
            while peek() == C.sp || peek() == C.nl {
                if peek() == C.sp { advance() } else {
                    advance(); breaks += 1
                    if atDocumentMarker { return nil }
                }
            }
            return breaks == 0 ? [C.sp] : [UInt8](repeating: C.nl, count: breaks)
        }
        return [UInt8](repeating: C.sp, count: ws)
    }

    // MARK: quoted

    mutating func scanQuoted(double: Bool) throws(YAMLError) -> [UInt8] {
        let startLine = line
        let quote = peek()
        advance()
        var out: [UInt8] = []
        try scanQuotedNonSpaces(double: double, into: &out, startLine: startLine)
        while peek() != quote {
            try scanQuotedSpaces(into: &out, startLine: startLine)
            try scanQuotedNonSpaces(double: double, into: &out, startLine: startLine)
        }
        advance()
        return out
    }

    private mutating func scanQuotedNonSpaces(double: Bool, into out: inout [UInt8], startLine: Int) throws(YAMLError) {
        while true {
            var len = 0
            while true {
                let ch = peek(len)
                if ch == C.squote || ch == C.dquote || ch == C.backslash || ch == 0 || ch == C.sp || ch == C.tab || ch == C.nl { break }
                len += 1
            }
            if len > 0 { out += b[i..<(i + len)]; advance(len) }
            let ch = peek()
            if !double && ch == C.squote && peek(1) == C.squote {
                out.append(C.squote); advance(2)
            } else if (double && ch == C.squote) || (!double && (ch == C.dquote || ch == C.backslash)) {
                out.append(ch); advance()
            } else if double && ch == C.backslash {
                advance()
                try scanEscape(into: &out, startLine: startLine)
            } else {
                return
            }
        }
    }

    private mutating func scanEscape(into out: inout [UInt8], startLine: Int) throws(YAMLError) {
        let ch = peek()
        let simple: [UInt8: String] = [
            UInt8(ascii: "0"): "\0", UInt8(ascii: "a"): "\u{07}", UInt8(ascii: "b"): "\u{08}", UInt8(ascii: "t"): "\t",
            C.tab: "\t", UInt8(ascii: "n"): "\n", UInt8(ascii: "v"): "\u{0B}", UInt8(ascii: "f"): "\u{0C}",
            UInt8(ascii: "r"): "\r", UInt8(ascii: "e"): "\u{1B}", C.sp: " ", C.dquote: "\"", C.backslash: "\\",
            UInt8(ascii: "/"): "/", UInt8(ascii: "N"): "\u{85}", UInt8(ascii: "_"): "\u{A0}",
            UInt8(ascii: "L"): "\u{2028}", UInt8(ascii: "P"): "\u{2029}",
        ]
        if let r = simple[ch] { out += Array(r.utf8); advance(); return }
        let width: Int
        switch ch {
        case UInt8(ascii: "x"): width = 2
        case UInt8(ascii: "u"): width = 4
        case UInt8(ascii: "U"): width = 8
        case C.nl:
            advance()
            try scanQuotedBreaks(into: &out)
            return
        case 0: throw fail("unterminated quoted scalar (started on line \(startLine))")
        default: throw fail("unknown escape sequence '\\\(Character(Unicode.Scalar(ch)))' in a double-quoted scalar")
        }
        advance()
        var code: UInt32 = 0
        for k in 0..<width {
            guard let d = hexValue(peek(k)) else {
                throw fail("expected \(width) hexadecimal digits in the escape sequence '\\\(Character(Unicode.Scalar(ch)))'")
            }
            code = code << 4 | d
        }
        advance(width)
        guard let scalar = Unicode.Scalar(code) else {
            throw fail(unicodeName(code) + " is not a Unicode scalar value (surrogates and values past U+10FFFF are not supported)")
        }
        out += Array(String(Character(scalar)).utf8)
    }

    private func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c - 0x30)
        case 0x41...0x46: return UInt32(c - 0x41 + 10)
        case 0x61...0x66: return UInt32(c - 0x61 + 10)
        default: return nil
        }
    }

    private mutating func scanQuotedSpaces(into out: inout [UInt8], startLine: Int) throws(YAMLError) {
        var ws: [UInt8] = []
        while peek() == C.sp || peek() == C.tab { ws.append(peek()); advance() }
        if atEnd { throw fail("unterminated quoted scalar (started on line \(startLine))") }
        if peek() == C.nl {
            advance()
            var breaks: [UInt8] = []
            try scanQuotedBreaks(into: &breaks)
            if breaks.isEmpty { out.append(C.sp) }
            out += breaks
        } else {
            out += ws
        }
    }

    private mutating func scanQuotedBreaks(into out: inout [UInt8]) throws(YAMLError) {
        while true {
            if atDocumentMarker { throw fail("a document marker ('---' or '...') inside a quoted scalar; the quote is not closed") }
            while peek() == C.sp || peek() == C.tab { advance() }
            if peek() == C.nl { out.append(C.nl); advance() } else { return }
        }
    }

    // MARK: block scalars

    /// `|` or `>` with optional chomping (`+`/`-`) and indentation (1-9) indicators.
    mutating func scanBlockScalar(parent: Int) throws(YAMLError) -> String {
        let folded = peek() == C.gt
        advance()
        var chomp: Bool? = nil   // nil clip, true keep, false strip
        var increment: Int? = nil
        func digit(_ c: UInt8) -> Int? { c >= 0x30 && c <= 0x39 ? Int(c - 0x30) : nil }
        if peek() == UInt8(ascii: "+") || peek() == C.dash {
            chomp = peek() == UInt8(ascii: "+"); advance()
            if let d = digit(peek()) {
                if d == 0 { throw fail("the block scalar indentation indicator must be 1-9, not 0") }
                increment = d; advance()
            }
        } else if let d = digit(peek()) {
            if d == 0 { throw fail("the block scalar indentation indicator must be 1-9, not 0") }
            increment = d; advance()
            if peek() == UInt8(ascii: "+") || peek() == C.dash { chomp = peek() == UInt8(ascii: "+"); advance() }
        }
        if !atEnd && peek() != C.sp && peek() != C.nl {
            throw fail("expected chomping (+, -) or indentation (1-9) indicators after '\(folded ? ">" : "|")', found \(snippet())")
        }
        while peek() == C.sp { advance() }
        if peek() == C.hash { while !atEnd && peek() != C.nl { advance() } }
        if !atEnd && peek() != C.nl {
            throw fail("expected a comment or a line break after the block scalar header, found \(snippet())")
        }
        advance()
        let minIndent = max(parent + 1, 1)
        var breaks: [UInt8]
        let indent: Int
        if let inc = increment {
            indent = minIndent + inc - 1
            breaks = blockScalarBreaks(indent)
        } else {
            var maxIndent = 0
            breaks = []
            while peek() == C.sp || peek() == C.nl {
                if peek() == C.nl { breaks.append(C.nl); advance() } else { advance(); maxIndent = max(maxIndent, column) }
            }
            indent = max(minIndent, maxIndent)
        }
        var out: [UInt8] = []
        var lineBreak: [UInt8] = []
        while column == indent && !atEnd {
            out += breaks
            let leadingNonSpace = peek() != C.sp && peek() != C.tab
            var len = 0
            while peek(len) != 0 && peek(len) != C.nl { len += 1 }
            out += b[i..<(i + len)]
            advance(len)
            lineBreak = []
            if peek() == C.nl { lineBreak = [C.nl]; advance() }
            breaks = blockScalarBreaks(indent)
            if column == indent && !atEnd {
                if folded && lineBreak == [C.nl] && leadingNonSpace && peek() != C.sp && peek() != C.tab {
                    if breaks.isEmpty { out.append(C.sp) }
                } else {
                    out += lineBreak
                }
            } else {
                break
            }
        }
        if chomp != false { out += lineBreak }
        if chomp == true { out += breaks }
        lastTokenLine = line - 1
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func blockScalarBreaks(_ indent: Int) -> [UInt8] {
        var breaks: [UInt8] = []
        while column < indent && peek() == C.sp { advance() }
        while peek() == C.nl {
            breaks.append(C.nl); advance()
            while column < indent && peek() == C.sp { advance() }
        }
        return breaks
    }
}

/// `U+00E9`-style name of a code point for error messages.
func unicodeName(_ code: UInt32) -> String {
    let hex = String(code, radix: 16, uppercase: true)
    return "U+" + String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
}
