import Foundation
import Providers
import Testing
@testable import Config

/// Runs the PyYAML reference (Corpus/pyyaml_dump.py) once for a batch of texts.
enum PyYAML {
    enum Outcome { case ok([JSONValue]), rejected(String) }

    static var corpusDirectory: URL { Bundle.module.resourceURL!.appendingPathComponent("Corpus") }

    static func corpus(_ sub: String? = nil) throws -> [(name: String, text: String)] {
        let dir = sub.map { corpusDirectory.appendingPathComponent($0) } ?? corpusDirectory
        return try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
            .map { ($0, try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)) }
    }

    /// nil (after recording an issue) when python3 or PyYAML is missing.
    static func run(_ texts: [String]) async throws -> [Outcome]? {
        let script = corpusDirectory.appendingPathComponent("pyyaml_dump.py").path
        guard ProcessRunner.resolve("python3") != nil else {
            Issue.record("python3 is missing: run scripts/install-deps.sh test (make test installs PyYAML)")
            return nil
        }
        let input = try JSONSerialization.data(withJSONObject: texts)
        let result = try await ProcessRunner.run("python3", [script], stdin: input, timeout: 300)
        guard result.succeeded else {
            Issue.record("PyYAML reference failed (run scripts/install-deps.sh test; make test installs PyYAML): \(result.stderrText)")
            return nil
        }
        guard case .array(let items) = try JSONValue.parse(Array(result.stdout)), items.count == texts.count else {
            Issue.record("PyYAML reference answered something unexpected"); return nil
        }
        return items.map { item in
            guard case .object(let fields) = item, let (k, v) = fields.first else { return .rejected("?") }
            if k == "ok", case .array(let docs) = v { return .ok(docs) }
            if case .string(let m) = v { return .rejected(m) }
            return .rejected("?")
        }
    }

    /// Our reading of a text, in the same shape.
    static func ours(_ text: String) -> Result<[JSONValue], YAMLError> {
        do {
            let docs = try YAML.documentsAsJSON(text)
            return .success(try docs.map { try JSONValue.parse(Array($0)) })
        } catch let e as YAMLError {
            return .failure(e)
        } catch {
            return .failure(YAMLError(line: 0, message: "our output is not valid JSON"))
        }
    }

    /// Rejections for features the README lists as unsupported (PyYAML may accept them).
    static func isDocumentedUnsupported(_ e: YAMLError) -> Bool {
        ["not supported", "duplicate mapping key", "64-bit range", "nested deeper than"].contains { e.message.contains($0) }
    }
}
