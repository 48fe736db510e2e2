import FoundationEssentials
import Model
@testable import Server

/// JSON decoding of the request bodies the VK sends. Properties: no trap;
/// whatever decodes re-encodes, and decoding that encoding gives the same value
/// (what we answer or journal is what we understood); the API's validation of
/// the decoded value answers without trapping.
enum JSONTargets {
    static func runCreate(_ bytes: [UInt8]) {
        guard let v = roundTrip(PodCreateRequests.self, bytes) else { return }
        _ = Validation.problem(with: v.pod) ?? Validation.problem(withSpecOf: v.pod)
    }

    static func runLogs(_ bytes: [UInt8]) {
        guard let v = roundTrip(LogStruct.self, bytes) else { return }
        _ = InterLinkAPI.problem(with: v)
    }

    static func runPods(_ bytes: [UInt8]) {
        guard let pods = roundTrip([Pod].self, bytes) else { return }
        for p in pods { _ = Validation.problem(with: p) ?? Validation.problem(withSpecOf: p) }
    }

    static func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        guard let value = try? WireJSON.decode(T.self, from: Data(bytes)) else { return nil }
        let encoded: Data
        do { encoded = try WireJSON.encode(value) } catch { fatalError("decoded \(T.self) does not encode: \(error)") }
        do {
            let again = try WireJSON.decode(T.self, from: encoded)
            guard again == value else {
                fatalError("\(T.self) changed through encode+decode:\n\(value)\n\(again)\nencoded: \(String(decoding: encoded, as: UTF8.self))")
            }
        } catch {
            fatalError("our own encoding of \(T.self) does not decode: \(WireJSON.describe(error))\n\(String(decoding: encoded, as: UTF8.self))")
        }
        return value
    }
}
