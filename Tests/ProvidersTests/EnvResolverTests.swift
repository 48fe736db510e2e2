import FoundationEssentials
import Testing
import Model
@testable import Providers

/// Builds a create request from JSON, the way the VK sends it.
func decodeRequest(_ json: String) throws -> PodCreateRequests {
    try JSONDecoder().decode(PodCreateRequests.self, from: Data(json.utf8))
}

private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

@Suite struct EnvResolverTests {
    private func env(_ containerJSON: String, extra: String = "") throws -> [(name: String, value: String)] {
        let req = try decodeRequest("""
        {"pod": {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1",
                              "labels": {"app": "demo"}, "annotations": {"team": "a b"}},
                 "spec": {"nodeName": "vk-node", "containers": [\(containerJSON)]}}
         \(extra)}
        """)
        return try EnvResolver.environment(for: req.pod.containers[0], in: req)
    }

    private func dict(_ e: [(name: String, value: String)]) -> [String: String] {
        Dictionary(e.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
    }

    @Test func envFromComesFirstAndEnvOverridesItKeepingOneEntryPerName() throws {
        let e = try env("""
        {"name": "c", "image": "i",
         "envFrom": [{"configMapRef": {"name": "cm"}}, {"prefix": "S_", "secretRef": {"name": "sec"}}],
         "env": [{"name": "A", "value": "from-env"}, {"name": "Z", "value": "1"}, {"name": "Z", "value": "2"}]}
        """, extra: """
        , "configmaps": [{"metadata": {"name": "cm"}, "data": {"A": "from-cm", "B": "b", "1BAD": "x", "has space": "y"}}]
        , "secrets": [{"metadata": {"name": "sec"}, "data": {"TOKEN": "\(b64("s3cr3t\n"))"}}]
        """)
        #expect(e.map(\.name) == ["A", "B", "S_TOKEN", "Z"])
        #expect(dict(e) == ["A": "from-env", "B": "b", "S_TOKEN": "s3cr3t\n", "Z": "2"])
    }

    @Test func valueFromConfigMapAndSecretKeys() throws {
        let e = try env("""
        {"name": "c", "image": "i", "env": [
          {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
          {"name": "SEC", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
          {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
          {"name": "OPTKEY", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": true}}}]}
        """, extra: """
        , "configmaps": [{"metadata": {"name": "cm"}, "data": {"k": "v"}}]
        , "secrets": [{"metadata": {"name": "sec"}, "data": {"pw": "\(b64("p\"a'ss"))"}}]
        """)
        #expect(e.map(\.name) == ["CM", "SEC"])
        #expect(dict(e) == ["CM": "v", "SEC": "p\"a'ss"])
    }

    @Test func missingConfigMapIsAnInvalidPodNamingIt() throws {
        #expect(throws: ProviderError.invalidPod("container c: env X refers to ConfigMap \"settings\", which was not sent with the pod")) {
            try env("""
            {"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}}]}
            """)
        }
        #expect(throws: ProviderError.invalidPod("container c: env X refers to key \"missing\" of Secret \"sec\", which does not exist")) {
            try env("""
            {"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "missing"}}}]}
            """, extra: #", "secrets": [{"metadata": {"name": "sec"}, "data": {}}]"#)
        }
        #expect(throws: ProviderError.invalidPod("container c: envFrom refers to Secret \"gone\", which was not sent with the pod")) {
            try env(#"{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "gone"}}]}"#)
        }
    }

    @Test func optionalEnvFromSourceMayBeMissing() throws {
        let e = try env(#"{"name": "c", "image": "i", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}}]}"#)
        #expect(e.isEmpty)
    }

    @Test func fieldRefsReadPodMetadata() throws {
        let e = try env("""
        {"name": "c", "image": "i", "env": [
          {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
          {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
          {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
          {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
          {"name": "AN", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
          {"name": "NONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['absent']"}}},
          {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
        """)
        #expect(dict(e) == ["N": "web", "NS": "ns1", "UID": "u-1", "L": "demo", "AN": "a b", "NONE": "", "NODE": "vk-node"])
    }

    @Test func unsupportedFieldRefIsAnInvalidPod() throws {
        #expect(throws: ProviderError.invalidPod("container c: env IP uses fieldRef \"status.podIP\", which InterLink does not support")) {
            try env(#"{"name": "c", "image": "i", "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}"#)
        }
    }

    @Test func referencesExpandAgainstEarlierVariablesOnly() throws {
        let e = try env("""
        {"name": "c", "image": "i", "env": [
          {"name": "HOST", "value": "db"},
          {"name": "URL", "value": "pg://$(HOST):$(PORT)/$$(HOST)$"},
          {"name": "PORT", "value": "5432"},
          {"name": "SELF", "value": "x$(SELF)"},
          {"name": "CMD", "value": "$(date) $(id) `id` $HOME $(unclosed"}]}
        """)
        #expect(dict(e)["URL"] == "pg://db:$(PORT)/$(HOST)$")
        #expect(dict(e)["SELF"] == "x$(SELF)")
        #expect(dict(e)["CMD"] == "$(date) $(id) `id` $HOME $(unclosed")
    }

    @Test(arguments: ["", "with \"double\" and 'single' quotes", "line1\nline2\r\n", "`id`; rm -rf / #",
                      "$(id)", "ünïcødé ✓ 日本", "  spaced  ", "tab\there", "back\\slash", "$", "$$"])
    func hostileLiteralValuesStayByteExact(value: String) throws {
        let json = String(decoding: try JSONEncoder().encode(["name": "V", "value": value]), as: UTF8.self)
        let e = try env(#"{"name": "c", "image": "i", "env": [\#(json)]}"#)
        // `$$` is Kubernetes' escape for `$`; everything else passes through untouched.
        #expect(e.first?.value == (value == "$$" ? "$" : value))
        #expect(e.count == 1)
    }

    @Test func secretValuesAreBase64DecodedAndInvalidBase64Reported() throws {
        let e = try env(#"{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "s"}}]}"#,
                        extra: #", "secrets": [{"metadata": {"name": "s"}, "data": {"K": "\#(b64("a\nb $(x)"))"}}]"#)
        #expect(e.first?.value == "a\nb $(x)")
        #expect(throws: ProviderError.invalidPod("key \"K\" of Secret \"s\" is not valid base64")) {
            try env(#"{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "s"}}]}"#,
                    extra: #", "secrets": [{"metadata": {"name": "s"}, "data": {"K": "not base64!"}}]"#)
        }
    }

    @Test func commandAndArgsExpandLikeKubernetes() {
        let env: [(name: String, value: String)] = [("GREETING", "hello world"), ("N", "1"), ("N", "2")]
        let words = EnvResolver.expand(["echo", "$(GREETING)", "$(N)", "$$(GREETING)", "$(date)", "$(", "a$b", ""], with: env)
        #expect(words == ["echo", "hello world", "2", "$(GREETING)", "$(date)", "$(", "a$b", ""])
    }

    @Test func envNameRule() {
        #expect(EnvResolver.isValidName("A_b-1.x"))
        #expect(EnvResolver.isValidName("_x"))
        #expect(!EnvResolver.isValidName("1A"))
        #expect(!EnvResolver.isValidName(""))
        #expect(!EnvResolver.isValidName("A=B"))
        #expect(!EnvResolver.isValidName("A B"))
    }
}

/// slurm-script fuzz target: a Secret (or ConfigMap) value with a NUL byte
/// reached the job's environment, where no process can carry it (bash drops
/// it from the script, exec cuts the value there). Resolution now refuses it.
@Suite("Fuzz regressions: environment")
struct EnvResolverFuzzRegressionTests {
    @Test func aSecretValueWithANULByteIsRefusedNotTruncated() throws {
        let request = try decodeRequest("""
        {"pod":{"metadata":{"name":"p","namespace":"ns","uid":"u"},"spec":{"containers":[{"name":"c","image":"i",
          "env":[{"name":"S","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}},
         "secrets":[{"metadata":{"name":"s"},"data":{"k":"\(Data("ab\0cd".utf8).base64EncodedString())"}}]}
        """)
        #expect(throws: ProviderError.invalidPod("container c: environment variable S contains a NUL byte, which no process environment can carry")) {
            _ = try EnvResolver.environment(for: request.pod.containers[0], in: request)
        }
        var clean = request
        clean.secrets?[0].data?["k"] = Data("abcd".utf8).base64EncodedString()
        #expect(try EnvResolver.environment(for: clean.pod.containers[0], in: clean).first?.value == "abcd")
    }
}
