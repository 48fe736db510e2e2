import FoundationEssentials
@testable import Config

/// The hand-written YAML reader and the config loader on top of it.
/// Properties: no trap, no hang; every document it accepts converts to JSON
/// that a JSON parser reads back; loading a config either succeeds or throws a
/// `ConfigError` (never anything else).
enum YAMLTarget {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let docs = try? YAML.documentsAsJSON(text) {
            for d in docs {
                do { _ = try JSONDecoder().decode(AnyJSON.self, from: d) } catch {
                    fatalError("YAML reader produced invalid JSON \(String(decoding: d, as: UTF8.self)): \(error)")
                }
            }
        }
        _ = try? ConfigLoader.decode(text: text, path: "fuzz.yaml", environment: [:])
    }
}

/// Any JSON value: decoding it is a full validation of the text.
enum AnyJSON: Decodable {
    case null, bool(Bool), number(Double), string(String), array([AnyJSON]), object([String: AnyJSON])
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([AnyJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: AnyJSON].self)) }
    }
}
