import Config
import Foundation
import Model
@testable import Server
import Testing

/// docs/openapi.yaml and the router agree: a client generated from the spec
/// reaches every route, and nothing the spec promises is missing. (Validity of
/// the document itself is checked by openapi-spec-validator in make test; the
/// live server against it by scripts/schemathesis.sh.)
@Suite("OpenAPI spec matches the router")
struct OpenAPISpecTests {
    static let httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The spec read with our own YAML reader (it is a config-style YAML file too).
    static func spec() throws -> [String: Any] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let docs = try YAML.documentsAsJSON(text)
        #expect(docs.count == 1)
        return try #require(JSONSerialization.jsonObject(with: docs[0]) as? [String: Any])
    }

    static func operations(_ spec: [String: Any]) throws -> [String: [String: [String: Any]]] {
        let paths = try #require(spec["paths"] as? [String: [String: Any]])
        return paths.mapValues { item in
            item.filter { Self.httpMethods.contains($0.key) }.compactMapValues { $0 as? [String: Any] }
        }
    }

    @Test func everyRouteAndMethodIsInTheSpecAndTheReverse() throws {
        let ops = try Self.operations(Self.spec())
        let inSpec = Set(ops.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
        let inRouter = Set(InterLinkAPI.routes.flatMap { path, route in route.methods.map { "\($0) \(path)" } })
        #expect(inRouter.subtracting(inSpec).sorted() == [], "routes the router serves but the spec does not list")
        #expect(inSpec.subtracting(inRouter).sorted() == [], "operations in the spec the router does not serve")
        #expect(inRouter.count >= 9 * 2, "the router lists too few routes to be the real table: \(inRouter.sorted())")
    }

    @Test func onlyTheOpenRoutesAreWithoutBearerAuth() throws {
        let spec = try Self.spec()
        let global = try #require(spec["security"] as? [[String: Any]])
        #expect(global.count == 1 && global[0]["bearerAuth"] != nil, "the spec's default is bearer auth")
        let schemes = (spec["components"] as? [String: Any])?["securitySchemes"] as? [String: [String: Any]]
        #expect(schemes?["bearerAuth"]?["scheme"] as? String == "bearer")
        for (path, methods) in try Self.operations(spec) {
            let route = try #require(InterLinkAPI.routes[path])
            for (method, op) in methods {
                let open = (op["security"] as? [Any])?.isEmpty == true
                #expect(open == route.open, "\(method.uppercased()) \(path): spec says \(open ? "open" : "token"), router says \(route.open ? "open" : "token")")
            }
        }
    }

    /// The answers the handlers give to a client's mistakes are documented, with the `{"error"}` body.
    @Test func documentedErrorAnswersMatchTheHandlers() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("il-spec-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "s3cret".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let api = InterLinkAPI(core: FakeCore(), auth: TokenAuthenticator(path: tokenFile))
        let spec = try Self.spec()
        let ops = try Self.operations(spec)
        for (path, methods) in ops {
            for (method, op) in methods {
                let documented = Set(((op["responses"] as? [String: Any]) ?? [:]).keys)
                func check(_ token: String?, _ body: String, _ why: String) async throws {
                    let r = await api.handle(vkRequest(method.uppercased(), path, body: Data(body.utf8), token: token))
                    #expect(documented.contains(String(r.status)), "\(method.uppercased()) \(path) \(why) answers \(r.status), which the spec does not list (\(documented.sorted()))")
                    if r.status >= 400 && method != "head" {
                        #expect(errorMessage(r) != nil, "\(method.uppercased()) \(path) \(why): \(r.status) without an {\"error\"} body")
                    }
                }
                try await check("s3cret", "", "with an empty body")
                if op["requestBody"] != nil {
                    try await check("s3cret", "{not json", "with a body that is not JSON")
                    try await check("s3cret", "[1, {}]", "with JSON of the wrong shape")
                }
                try await check("wrong", "{}", "with a wrong token")
            }
        }
    }

    /// The request examples a reader of the spec copies are answered 200 by the handlers.
    @Test func theSpecsRequestExamplesAreAccepted() async throws {
        let spec = try Self.spec()
        var tried = 0
        for (path, methods) in try Self.operations(spec) {
            for (method, op) in methods {
                guard let body = op["requestBody"] as? [String: Any] else { continue }
                let resolved = try Self.resolve(body, in: spec)
                let content = try #require((resolved["content"] as? [String: Any])?["application/json"] as? [String: Any])
                for (name, example) in (content["examples"] as? [String: [String: Any]]) ?? [:] {
                    let value = try #require(example["value"], "\(path) example \(name) has no value")
                    let data = try JSONSerialization.data(withJSONObject: value)
                    let core = FakeCore(knownUIDs: ["0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"])  // the examples' pod, as if created
                    let r = await InterLinkAPI(core: core, auth: nil).handle(vkRequest(method.uppercased(), path, body: data))
                    #expect(r.status == 200, "\(method.uppercased()) \(path) example \(name): \(r.status) \(errorMessage(r) ?? "")")
                    tried += 1
                }
            }
        }
        #expect(tried >= 8, "the spec should carry examples for create, delete, status and getLogs (each method)")
    }

    /// Follows one local `$ref` (`#/components/...`).
    static func resolve(_ object: [String: Any], in spec: [String: Any]) throws -> [String: Any] {
        guard let ref = object["$ref"] as? String else { return object }
        var node: Any = spec
        for part in ref.dropFirst(2).split(separator: "/") {
            node = try #require((node as? [String: Any])?[String(part)], "unresolved \(ref)")
        }
        return try #require(node as? [String: Any])
    }
}
