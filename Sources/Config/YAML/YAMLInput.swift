/// Turns the text into the byte form the parser reads: enforces the size limit,
/// rejects characters YAML forbids (as PyYAML's reader does: C0/C1 controls
/// other than tab and line breaks, U+FFFE/U+FFFF), and normalises line breaks
/// (`\r\n`, `\r`, U+0085 become `\n`; PyYAML treats them alike). U+2028/U+2029
/// are rejected: PyYAML gives them meanings this reader does not model.
enum YAMLInput {
    static func bytes(_ text: String) throws(YAMLError) -> [UInt8] {
        if text.utf8.count > YAMLParser.maxInputBytes {
            throw YAMLError(line: 1, message: "the input is \(text.utf8.count) bytes, more than the \(YAMLParser.maxInputBytes / 1024 / 1024) MiB limit")
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var line = 1
        var lastWasCR = false
        for u in text.unicodeScalars {
            let v = u.value
            defer { lastWasCR = v == 0x0D }
            switch v {
            case 0x0A:
                if lastWasCR { continue }
                out.append(C.nl); line += 1
            case 0x0D, 0x85:
                out.append(C.nl); line += 1
            case 0x09, 0x20...0x7E:
                out.append(UInt8(v))
            case 0x2028, 0x2029:
                throw YAMLError(line: line, message: "the line separator U+\(String(v, radix: 16, uppercase: true)) is not supported")
            case 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF:
                out += Array(String(Character(u)).utf8)
            default:
                throw YAMLError(line: line, message: "the character " + unicodeName(v) + " is not allowed in YAML")
            }
        }
        return out
    }
}
