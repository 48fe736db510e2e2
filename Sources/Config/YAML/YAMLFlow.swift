/// Flow collections: `[a, b]`, `{k: v}`, nested, spanning lines, with comments,
/// trailing commas, `{a, b}` (null values) and single-pair `[k: v]` entries, as
/// PyYAML reads them. Keys must be scalars.
extension YAMLParser {
    mutating func parseFlowCollection(depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let startLine = line
        let isSequence = peek() == C.lbracket
        let close = isSequence ? C.rbracket : C.rbrace
        advance()
        var items: [YAMLNode] = []
        var entries: [YAMLEntry] = []
        var seen: Set<String> = []
        while true {
            try skipFlowSpace(startLine: startLine)
            if peek() == close { advance(); break }
            let entryLine = line
            var key: YAMLNode
            var value: YAMLNode? = nil
            key = try parseFlowNode(depth: depth)
            try skipFlowSpace(startLine: startLine)
            if peek() == C.colon {
                if line != key.line || lastTokenLine != key.line {
                    throw fail("a key in a flow collection must fit on one line, with its ':' on that line")
                }
                advance()
                try skipFlowSpace(startLine: startLine)
                if peek() == C.comma || peek() == close {
                    value = YAMLNode(.scalar(.null), line: line)
                } else {
                    value = try parseFlowNode(depth: depth)
                }
                try skipFlowSpace(startLine: startLine)
            }
            if isSequence {
                if let value {
                    let k = try flowKey(key)
                    items.append(YAMLNode(.mapping([YAMLEntry(key: k, keyLine: entryLine, value: value)]), line: entryLine))
                } else {
                    items.append(key)
                }
            } else {
                let k = try flowKey(key)
                if !seen.insert(k).inserted { throw fail("duplicate mapping key '\(k)'", line: entryLine) }
                entries.append(YAMLEntry(key: k, keyLine: entryLine, value: value ?? YAMLNode(.scalar(.null), line: entryLine)))
            }
            if peek() == C.comma { advance(); continue }
            if peek() == close { advance(); break }
            let what = isSequence ? "flow sequence" : "flow mapping"
            throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))' in the \(what) started on line \(startLine), found \(snippet())")
        }
        lastTokenLine = line
        return YAMLNode(isSequence ? .sequence(items) : .mapping(entries), line: startLine)
    }

    private func flowKey(_ node: YAMLNode) throws(YAMLError) -> String {
        guard case .scalar(let s) = node.value else {
            throw fail("flow collections as mapping keys are not supported", line: node.line)
        }
        if case .string(let t) = s, t == "<<" { throw fail("merge keys ('<<') are not supported", line: node.line) }
        return s.keyString
    }

    private mutating func skipFlowSpace(startLine: Int) throws(YAMLError) {
        try skipToNextToken()
        if atEnd { throw fail("unterminated flow collection (started on line \(startLine))") }
        if atDocumentMarker { throw fail("a document marker inside a flow collection (started on line \(startLine)); it is not closed") }
    }

    private mutating func parseFlowNode(depth: Int) throws(YAMLError) -> YAMLNode {
        if peek() == C.lbracket || peek() == C.lbrace { return try parseFlowCollection(depth: depth + 1) }
        let token = try scanScalarToken(parent: -1, flow: true)
        if token.style == .plain && token.text.isEmpty { throw fail("expected a value, found \(snippet())") }
        return YAMLNode(.scalar(try resolve(token)), line: token.startLine)
    }
}
