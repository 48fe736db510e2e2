extension StringProtocol {
    /// The text without leading and trailing white space and newlines.
    /// (FoundationEssentials has no `trimmingCharacters`; this keeps the binary small.)
    public var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
