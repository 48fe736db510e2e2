import FoundationEssentials

/// The encoder/decoder settings every module uses for wire JSON: sorted keys and
/// unescaped slashes (as Go writes them), so golden files and logs are stable.
public enum WireJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
                                    : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }

    /// A one-line description of a decoding failure, for a 400 answer.
    public static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : " at \(p.hasPrefix(".") ? String(p.dropFirst()) : p)"
        }
        switch e {
        case .dataCorrupted(let ctx) where ctx.codingPath.isEmpty && ctx.underlyingError == nil:
            // Foundation reports an integer that does not fit its field (beyond Int64, or
            // beyond Int32 for a probe's periodSeconds) exactly like broken syntax.
            return "invalid JSON, or a number that does not fit its field (integers must fit 64 bits, 32 for ports, modes and probe timings)"
        case .dataCorrupted(let ctx):
            let under = (ctx.underlyingError.map { " (\(String(describing: $0)))" }) ?? ""
            return "invalid JSON\(path(ctx)): \(ctx.debugDescription)\(under)"
        case .keyNotFound(let key, let ctx): return "missing field \"\(key.stringValue)\"\(path(ctx))"
        case .typeMismatch(let type, let ctx): return "wrong type\(path(ctx)): expected \(type)"
        case .valueNotFound(let type, let ctx): return "null where \(type) is required\(path(ctx))"
        @unknown default: return "\(error)"
        }
    }
}
