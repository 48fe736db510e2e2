import Foundation
import Testing
@testable import Config

@Suite("YAML reader")
struct YAMLReaderTests {
    private func json(_ text: String) throws -> String {
        try YAML.documentsAsJSON(text).map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }
    private func error(_ text: String) -> YAMLError? {
        do { _ = try YAML.documentsAsJSON(text); return nil } catch { return error }
    }

    @Test func nodesCarryTheLineTheyStartOn() throws {
        let doc = try #require(YAML.documents("# c\na: 1\nb:\n  - x\n  - y: |\n      text\n").first)
        #expect(doc.line == 2)
        guard case .mapping(let entries) = doc.value else { Issue.record("not a mapping"); return }
        #expect(entries.map(\.key) == ["a", "b"])
        #expect(entries.map(\.keyLine) == [2, 3])
        #expect(doc["b"]?.line == 4)
        guard case .sequence(let items) = doc["b"]?.value else { Issue.record("not a sequence"); return }
        #expect(items[1]["y"]?.line == 5)
    }

    @Test func mappingsKeepDocumentOrderInJSON() throws {
        #expect(try json("z: 1\na: 2\nm: 3\n") == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test func emptyDocumentsAreSkipped() throws {
        #expect(try YAML.documentsAsJSON("---\n# nothing\n---\na: 1\n---\n~\n").count == 1)
        #expect(try YAML.documentsAsJSON("").isEmpty)
    }

    @Test func nonFiniteFloatsBecomeYAMLSpelledStrings() throws {
        #expect(try json("[.inf, -.inf, .nan, 1.5]") == #"[".inf","-.inf",".nan",1.5]"#)
    }

    @Test func errorsNameTheLine() {
        #expect(error("a: 1\nb: 2\na: 3\n") == YAMLError(line: 3, message: "duplicate mapping key 'a'"))
        #expect(error("a: 1\nb:\n\t- x\n")?.line == 3)
        #expect(error("a: 1\nb: &anchor x\n")?.line == 2)
        #expect(error("a: 1\nb: *alias\n")?.line == 2)
        #expect(error("a: !!str x\n")?.message.contains("tags") == true)
        #expect(error("? a\n: b\n")?.message.contains("complex") == true)
        #expect(error("%YAML 1.1\n---\na: 1\n")?.message.contains("directives") == true)
        #expect(error("a:\n  b: 1\n c: 2\n")?.line == 3)
        #expect(error("a: 'open\nb: 2\n")?.message.contains("unterminated") == true)
        #expect(error("a: \"open\n")?.message.contains("started on line 1") == true)
    }

    @Test func errorDescriptionIsOneLine() {
        let e = error("a: [1,\n  2\n")
        #expect(e?.description.hasPrefix("line ") == true)
        #expect(e?.description.contains("\n") == false)
    }

    @Test func nestingDeeperThanTheLimitIsRejected() throws {
        let ok = String(repeating: "[", count: YAMLParser.maxDepth) + String(repeating: "]", count: YAMLParser.maxDepth)
        #expect(try YAML.documentsAsJSON(ok).count == 1)
        let deep = String(repeating: "[", count: YAMLParser.maxDepth + 1) + String(repeating: "]", count: YAMLParser.maxDepth + 1)
        #expect(error(deep)?.message.contains("nested deeper than 100") == true)
        var block = ""
        for d in 0...YAMLParser.maxDepth { block += String(repeating: "  ", count: d) + "- k:\n" }
        #expect(error(block)?.message.contains("nested deeper") == true)
    }

    @Test func inputLargerThanFourMiBIsRejected() {
        let big = "a: \"" + String(repeating: "x", count: YAMLParser.maxInputBytes) + "\"\n"
        #expect(error(big)?.message.contains("4 MiB") == true)
    }

    @Test func integersOutsideSixtyFourBitsAreRejectedNotWrapped() throws {
        #expect(try json("[9223372036854775807, -9223372036854775808]") == "[[9223372036854775807,-9223372036854775808]]".dropFirst().dropLast())
        #expect(error("a: 9223372036854775808\n")?.message.contains("64-bit") == true)
    }

    @Test func yaml11ScalarsResolveLikePyYAML() throws {
        #expect(try json("[yes, Off, ~, 0x1F, 017, 09, 1_000, 1:30, 1.0e+3, 1e3, .5, '1']")
                == #"[true,false,null,31,15,"09",1000,90,1000.0,"1e3",0.5,"1"]"#)
    }

    @Test func blockScalarsHonourChompingAndIndentation() throws {
        #expect(try json("a: |-\n  x\n\nb: >+\n  y\n  z\n\nc: |2\n    w\n") == #"{"a":"x","b":"y z\n\n","c":"  w\n"}"#)
    }

    @Test func crlfInputReadsLikeLF() throws {
        #expect(try json("a: 1\r\nb:\r\n  - x\r\n") == json("a: 1\nb:\n  - x\n"))
    }
}
