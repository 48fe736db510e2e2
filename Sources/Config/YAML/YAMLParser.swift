/// The block-structure half of the hand-written YAML reader: documents, block
/// mappings and sequences, indentation. Scalars and flow collections live in
/// the extensions beside this file. The parser mirrors PyYAML's scanner rules
/// (what counts as a key, when a plain scalar continues, how block scalars
/// take their indentation) so that accepted input means what PyYAML says it
/// means; features outside the supported subset are rejected with a line.
///
/// Limits are named constants: input size and nesting depth.
struct YAMLParser {
    static let maxInputBytes = 4 * 1024 * 1024
    static let maxDepth = 100

    let b: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0
    /// The line on which the last token (scalar, indicator, bracket) ended; a
    /// node must not be followed by more text on that line.
    var lastTokenLine = 0

    init(bytes: [UInt8]) { b = bytes }

    // MARK: cursor

    var column: Int { i - lineStart }
    var atEnd: Bool { i >= b.count }
    /// The byte `k` ahead, 0 past the end (NUL never occurs in accepted input).
    func peek(_ k: Int = 0) -> UInt8 { i + k < b.count ? b[i + k] : 0 }

    mutating func advance(_ n: Int = 1) {
        for _ in 0..<n where i < b.count {
            if b[i] == C.nl { line += 1; lineStart = i + 1 }
            i += 1
        }
    }

    func fail(_ message: String, line l: Int? = nil) -> YAMLError { YAMLError(line: l ?? line, message: message) }

    static func isBlankOrEnd(_ c: UInt8) -> Bool { c == C.sp || c == C.tab || c == C.nl || c == 0 }

    /// Skips spaces, comments and line breaks. Tabs are not whitespace here (as in PyYAML).
    mutating func skipToNextToken() throws(YAMLError) {
        while true {
            while peek() == C.sp { advance() }
            if peek() == C.tab { throw fail("a tab character is used as indentation or separation; use spaces") }
            if peek() == C.hash { while !atEnd && peek() != C.nl { advance() } }
            if peek() == C.nl { advance(); continue }
            return
        }
    }

    /// Skips spaces on the current line only.
    mutating func skipSpaces() throws(YAMLError) {
        while peek() == C.sp { advance() }
        if peek() == C.tab { throw fail("a tab character is used as indentation or separation; use spaces") }
    }

    /// After a node: nothing but a comment may follow on the line where it ended.
    mutating func finishNode() throws(YAMLError) {
        try skipToNextToken()
        if !atEnd && line == lastTokenLine {
            throw fail("unexpected text after the value: \(snippet())")
        }
    }

    func snippet() -> String {
        var j = i
        while j < b.count, b[j] != C.nl, j - i < 20 { j += 1 }
        return "'" + String(decoding: b[i..<j], as: UTF8.self) + "'"
    }

    var atDocumentMarker: Bool {
        guard column == 0, i + 2 < b.count else { return false }
        let m = (b[i], b[i + 1], b[i + 2])
        guard m == (C.dash, C.dash, C.dash) || m == (C.dot, C.dot, C.dot) else { return false }
        return Self.isBlankOrEnd(peek(3))
    }
    var atDocumentStart: Bool { atDocumentMarker && b[i] == C.dash }

    // MARK: documents

    mutating func parseStream() throws(YAMLError) -> [YAMLNode] {
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3; lineStart = 3 }
        var docs: [YAMLNode] = []
        var needsExplicitStart = false
        while true {
            try skipToNextToken()
            if atEnd { break }
            if column == 0 && peek() == C.percent { throw fail("directives (%YAML, %TAG) are not supported") }
            var explicit = false
            if atDocumentMarker {
                if b[i] == C.dot { advance(3); lastTokenLine = line; try finishNode(); needsExplicitStart = true; continue }
                advance(3); lastTokenLine = line; explicit = true
            } else if needsExplicitStart {
                throw fail("a new document must start with '---'")
            }
            var root: YAMLNode? = nil
            try skipSpaces()
            if explicit && !atEnd && peek() != C.nl && peek() != C.hash {
                root = try parseNode(parent: -1, keyAllowed: false, sequenceAllowed: false, depth: 0)
            } else {
                try skipToNextToken()
                if !atEnd && !atDocumentMarker {
                    root = try parseNode(parent: -1, keyAllowed: true, sequenceAllowed: true, depth: 0)
                }
            }
            try finishNode()
            if !atEnd && !atDocumentMarker {
                throw fail("unexpected content \(snippet()): its indentation matches no open block (or a new document needs '---')")
            }
            if let root, root.value != .scalar(.null) { docs.append(root) }
            needsExplicitStart = true
        }
        return docs
    }

    // MARK: block nodes

    /// Parses the node starting at the current (non-space) position. `parent`
    /// is the column of the enclosing block collection (-1 at the root): plain
    /// scalars continue on lines indented deeper than it, block scalars take
    /// their indentation relative to it.
    mutating func parseNode(parent: Int, keyAllowed: Bool, sequenceAllowed: Bool, depth: Int) throws(YAMLError) -> YAMLNode {
        let startLine = line, col = column
        let c = peek()
        if c == C.dash && Self.isBlankOrEnd(peek(1)) {
            guard sequenceAllowed else { throw fail("a block sequence cannot start on this line (sequence entries are not allowed here)") }
            return try parseBlockSequence(column: col, depth: depth + 1)
        }
        if c == C.lbracket || c == C.lbrace {
            let node = try parseFlowCollection(depth: depth + 1)
            try skipSpaces()
            if peek() == C.colon && Self.isBlankOrEnd(peek(1)) { throw fail("flow collections as mapping keys are not supported") }
            return node
        }
        if c == C.pipe || c == C.gt {
            let s = try scanBlockScalar(parent: parent)
            return YAMLNode(.scalar(.string(s)), line: startLine)
        }
        let token = try scanScalarToken(parent: parent, flow: false)
        try skipSpaces()
        if peek() == C.colon && Self.isBlankOrEnd(peek(1)) {
            guard keyAllowed, line == startLine, token.endLine == startLine else {
                throw fail("mapping values are not allowed here (a key must fit on one line, and a value cannot be a new 'key: value' on the same line)")
            }
            return try parseBlockMapping(column: col, firstKey: token, depth: depth + 1)
        }
        return YAMLNode(.scalar(try resolve(token)), line: startLine)
    }

    mutating func checkDepth(_ depth: Int) throws(YAMLError) {
        if depth > Self.maxDepth { throw fail("collections are nested deeper than \(Self.maxDepth) levels") }
    }

    /// A block mapping whose keys sit at `column`; the current position is at
    /// the ':' after `firstKey`.
    mutating func parseBlockMapping(column c: Int, firstKey: ScalarToken, depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        var entries: [YAMLEntry] = []
        var seen: Set<String> = []
        var key = firstKey
        let mapLine = firstKey.startLine
        while true {
            let keyString = try mappingKey(key)
            if !seen.insert(keyString).inserted {
                throw fail("duplicate mapping key '\(keyString)'", line: key.startLine)
            }
            advance() // ':'
            lastTokenLine = line
            let value = try parseBlockValue(mapColumn: c, keyLine: key.startLine, depth: depth)
            entries.append(YAMLEntry(key: keyString, keyLine: key.startLine, value: value))
            try finishNode()
            if atEnd || atDocumentMarker || column < c { break }
            if column > c { throw fail("bad indentation: this line is indented deeper than the mapping keys above it (column \(c + 1))") }
            key = try scanKey()
        }
        return YAMLNode(.mapping(entries), line: mapLine)
    }

    /// The value after `key:` — on the same line, on the following more indented
    /// lines, an indentless `- ` sequence at the key's column, or empty (null).
    mutating func parseBlockValue(mapColumn c: Int, keyLine: Int, depth: Int) throws(YAMLError) -> YAMLNode {
        try skipSpaces()
        if atEnd || peek() == C.nl || peek() == C.hash {
            try skipToNextToken()
            if atEnd || atDocumentMarker { return YAMLNode(.scalar(.null), line: keyLine) }
            if column > c { return try parseNode(parent: c, keyAllowed: true, sequenceAllowed: true, depth: depth) }
            if column == c && peek() == C.dash && Self.isBlankOrEnd(peek(1)) {
                return try parseBlockSequence(column: c, depth: depth + 1)
            }
            if column == c && (peek() == C.pipe || peek() == C.gt) {
                // PyYAML takes a block scalar at the key's column as the value.
                let startLine = line
                return YAMLNode(.scalar(.string(try scanBlockScalar(parent: c))), line: startLine)
            }
            return YAMLNode(.scalar(.null), line: keyLine)
        }
        return try parseNode(parent: c, keyAllowed: false, sequenceAllowed: false, depth: depth)
    }

    /// A following key at the mapping's column: a one-line plain or quoted scalar, then ':'.
    mutating func scanKey() throws(YAMLError) -> ScalarToken {
        let startLine = line
        if peek() == C.dash && Self.isBlankOrEnd(peek(1)) {
            throw fail("a sequence entry '- ' at the indentation of mapping keys (indent it under its key)")
        }
        if peek() == C.lbracket || peek() == C.lbrace { throw fail("flow collections as mapping keys are not supported") }
        let token = try scanScalarToken(parent: column, flow: false)
        try skipSpaces()
        guard peek() == C.colon && Self.isBlankOrEnd(peek(1)) && line == startLine && token.endLine == startLine else {
            throw fail("expected 'key: value' at the mapping's indentation (could not find ':' after the key on this line)", line: startLine)
        }
        return token
    }

    func mappingKey(_ token: ScalarToken) throws(YAMLError) -> String {
        if token.style == .plain {
            if token.text.isEmpty { throw fail("empty mapping keys are not supported", line: token.startLine) }
            if token.text == Array("<<".utf8) { throw fail("merge keys ('<<') are not supported", line: token.startLine) }
        }
        return try resolve(token).keyString
    }

    /// A block sequence whose `- ` indicators sit at `column`.
    mutating func parseBlockSequence(column c: Int, depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let seqLine = line
        var items: [YAMLNode] = []
        while true {
            let itemLine = line
            advance() // '-'
            lastTokenLine = line
            try skipSpaces()
            var item: YAMLNode
            if atEnd || peek() == C.nl || peek() == C.hash {
                try skipToNextToken()
                if !atEnd && !atDocumentMarker && column > c {
                    item = try parseNode(parent: c, keyAllowed: true, sequenceAllowed: true, depth: depth)
                } else {
                    item = YAMLNode(.scalar(.null), line: itemLine)
                }
            } else {
                item = try parseNode(parent: c, keyAllowed: true, sequenceAllowed: true, depth: depth)
            }
            items.append(item)
            try finishNode()
            if atEnd || atDocumentMarker || column < c { break }
            if column == c {
                if peek() == C.dash && Self.isBlankOrEnd(peek(1)) { continue }
                break // the enclosing mapping (indentless sequence) or the document decides
            }
            throw fail("bad indentation: this line is indented deeper than the '- ' entries above it (column \(c + 1))")
        }
        return YAMLNode(.sequence(items), line: seqLine)
    }
}

/// Byte constants for the scanner.
enum C {
    static let nl = UInt8(ascii: "\n"), sp = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
    static let hash = UInt8(ascii: "#"), dash = UInt8(ascii: "-"), dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":"), comma = UInt8(ascii: ","), question = UInt8(ascii: "?")
    static let lbracket = UInt8(ascii: "["), rbracket = UInt8(ascii: "]")
    static let lbrace = UInt8(ascii: "{"), rbrace = UInt8(ascii: "}")
    static let pipe = UInt8(ascii: "|"), gt = UInt8(ascii: ">"), percent = UInt8(ascii: "%")
    static let squote = UInt8(ascii: "'"), dquote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    static let amp = UInt8(ascii: "&"), star = UInt8(ascii: "*"), bang = UInt8(ascii: "!")
    static let at = UInt8(ascii: "@"), backtick = UInt8(ascii: "`")
}
