import Foundation
import Testing
@testable import Config

/// The reader against PyYAML's safe_load_all (the reference), on a corpus, on
/// generated documents and on mutated corpus files. python3 runs once per test.
@Suite("YAML differential against PyYAML")
struct YAMLDifferentialTests {
    @Test func corpusFilesReadExactlyAsPyYAMLReadsThem() async throws {
        let corpus = try PyYAML.corpus()
        #expect(corpus.count >= 40)
        guard let ref = try await PyYAML.run(corpus.map(\.text)) else { return }
        for ((name, text), expected) in zip(corpus, ref) {
            guard case .ok(let docs) = expected else { Issue.record("PyYAML rejects corpus file \(name)"); continue }
            switch PyYAML.ours(text) {
            case .success(let mine): #expect(mine == docs, "\(name)")
            case .failure(let e): Issue.record("\(name): we reject what PyYAML reads: \(e)")
            }
        }
    }

    @Test func rejectedFilesAreRejectedByPyYAMLOrUseDocumentedUnsupportedFeatures() async throws {
        let corpus = try PyYAML.corpus("reject")
        #expect(corpus.count >= 30)
        guard let ref = try await PyYAML.run(corpus.map(\.text)) else { return }
        for ((name, text), expected) in zip(corpus, ref) {
            guard case .failure(let e) = PyYAML.ours(text) else { Issue.record("\(name) should be rejected"); continue }
            #expect(e.line >= 1, "\(name): \(e)")
            if name.hasPrefix("unsupported_") {
                #expect(PyYAML.isDocumentedUnsupported(e) || { if case .rejected = expected { return true }; return false }(), "\(name): \(e)")
            } else if case .ok = expected {
                Issue.record("\(name): PyYAML accepts it but we reject it: \(e)")
            }
        }
    }

    @Test func twoThousandGeneratedDocumentsAgreeWithPyYAML() async throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        let texts = (0..<2000).map { _ -> String in var g = YAMLGenerator(rng: &rng); return g.document() }
        guard let ref = try await PyYAML.run(texts) else { return }
        var accepted = 0
        for (text, expected) in zip(texts, ref) {
            let mine = PyYAML.ours(text)
            switch (mine, expected) {
            case (.success(let a), .ok(let b)):
                accepted += 1
                #expect(a == b, "generated document differs:\n\(text)")
            case (.failure, .rejected): break
            case (.success, .rejected(let why)): Issue.record("PyYAML rejects (\(why)) but we accept:\n\(text)")
            case (.failure(let e), .ok): Issue.record("we reject (\(e)) what PyYAML reads:\n\(text)")
            }
        }
        #expect(accepted >= 1900, "the generator should produce valid YAML; only \(accepted) accepted")
    }

    @Test func mutatedCorpusFilesNeverCrashAndAgreeWithPyYAMLWhenAccepted() async throws {
        let corpus = try PyYAML.corpus().map { Array($0.text.utf8) }.filter { $0.count < 4000 }
        var rng = SplitMix64(seed: 42)
        let alphabet = Array(" \n-:#'\"[]{},|>&*!?%@`\\0123456789abcxyz.\t~".utf8)
        var compared: [String] = []
        for n in 0..<10_000 {
            var bytes = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<(1 + Int(rng.next() % 3)) where !bytes.isEmpty {
                let p = Int(rng.next() % UInt64(bytes.count))
                let c = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                switch rng.next() % 3 {
                case 0: bytes[p] = c
                case 1: bytes.insert(c, at: p)
                default: bytes.remove(at: p)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            // Never a crash: either documents (valid JSON) or an error with a line.
            switch PyYAML.ours(text) {
            case .success: break
            case .failure(let e): #expect(e.line >= 1 && e.message != "our output is not valid JSON", "\(e)")
            }
            if n % 4 == 0 { compared.append(text) }
        }
        guard let ref = try await PyYAML.run(compared) else { return }
        for (text, expected) in zip(compared, ref) {
            switch (PyYAML.ours(text), expected) {
            case (.success(let a), .ok(let b)): #expect(a == b, "mutated document differs:\n\(text)")
            case (.success, .rejected(let why)): Issue.record("PyYAML rejects (\(why)) but we accept:\n\(text)")
            case (.failure(let e), .ok): #expect(PyYAML.isDocumentedUnsupported(e), "we reject (\(e)) what PyYAML reads:\n\(text)")
            case (.failure, .rejected): break
            }
        }
    }
}

/// Deterministic PRNG so failures reproduce.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
}
