import FoundationEssentials
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// Builds a create request from JSON, the way the VK sends it.
func decodeRequest(_ json: String) throws -> PodCreateRequests {
    try JSONDecoder().decode(PodCreateRequests.self, from: Data(json.utf8))
}

private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

@Suite struct EnvResolverTests {
    private func env(_ containerJSON: String, extra: String = "", podExtra: String = "",
                     specExtra: String = "") throws -> [(name: String, value: String)] {
        let req = try decodeRequest("""
        {"pod": {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1",
                              "labels": {"app": "demo"}, "annotations": {"team": "a b"}},
                 "spec": {"nodeName": "vk-node", "containers": [\(containerJSON)]\(specExtra)}\(podExtra)}
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

    @Test func fieldRefsReadStatusAndSpecFieldsAsTheVKSentThem() throws {
        let e = try env("""
        {"name": "c", "image": "i", "env": [
          {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
          {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
          {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
          {"name": "DQ", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations[\\"team\\"]"}}}]}
        """, podExtra: #", "status": {"phase": "Pending", "podIP": "10.1.2.3", "hostIP": "192.168.0.7"}"#,
                        specExtra: #", "serviceAccountName": "runner""#)
        #expect(dict(e) == ["IP": "10.1.2.3", "HOST_IP": "192.168.0.7", "SA": "runner", "DQ": "a b"])
    }

    @Test func unsupportedFieldRefIsAnInvalidPod() throws {
        #expect(throws: ProviderError.invalidPod("container c: env X uses fieldRef \"spec.nonsense\", which InterLink does not support")) {
            try env(#"{"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nonsense"}}}]}"#)
        }
        #expect(throws: ProviderError.invalidPod("container c: env X uses fieldRef \"metadata.labels['']\", which InterLink does not support")) {
            try env(#"{"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['']"}}}]}"#)
        }
    }

    @Test func resourceFieldRefsDivideAndRoundUpAsTheKubeletDoes() throws {
        let e = try env("""
        {"name": "c", "image": "i",
         "resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}, "requests": {"cpu": "250m"}},
         "env": [
          {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
          {"name": "CPU_LIMIT_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
          {"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"containerName": "c", "resource": "requests.cpu", "divisor": "1m"}}},
          {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
          {"name": "MEM_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
          {"name": "MEM_G", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1G"}}}]}
        """)
        // requests.memory is unset: the API server would have defaulted it to the limit.
        #expect(dict(e) == ["CPU_LIMIT": "2", "CPU_LIMIT_M": "1500", "CPU_REQ": "250", "MEM_MI": "1024",
                            "MEM_REQ": "1073741824", "MEM_G": "2"])
    }

    @Test func anUnsetLimitIsThisHostsCapacityAndBadReferencesAreNamed() throws {
        let e = try env(#"{"name": "c", "image": "i", "env": [{"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}, {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}}]}"#)
        #expect(Int(dict(e)["CPUS"] ?? "") == sysconfCPUs())
        #expect(dict(e)["REQ"] == "0")
        #expect(throws: ProviderError.invalidPod("container c: env X: resourceFieldRef names container \"other\", which the pod does not have")) {
            try env(#"{"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"containerName": "other", "resource": "limits.cpu"}}}]}"#)
        }
        #expect(throws: ProviderError.invalidPod("container c: env X: resourceFieldRef \"limits.gpu\" is not supported (use limits. or requests. of cpu, memory or ephemeral-storage)")) {
            try env(#"{"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]}"#)
        }
    }

    private func sysconfCPUs() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    @Test func expansionOfManyUnclosedReferencesIsLinearAndKeepsTheInput() {
        // 200,000 unclosed "$(" (400 KB): Kubernetes keeps them as written. The old
        // scan looked for ")" from every one of them (about 4e10 steps).
        let input = String(repeating: "$(", count: 200_000)
        var steps = 0
        #expect(EnvResolver.expand(input, lookup: { _ in "X" }, steps: &steps) == input)
        #expect(steps <= 2 * input.utf8.count, "\(steps) steps for \(input.utf8.count) bytes")

        // Closed references between unclosed ones still expand, and the work stays linear.
        let mixed = String(repeating: "$(A)$(", count: 50_000)
        steps = 0
        let lookup: (String) -> String? = { $0 == "A" ? "v" : nil }
        let out = EnvResolver.expand(mixed, lookup: lookup, steps: &steps)
        #expect(out == Self.referenceExpand(mixed, lookup))
        #expect(out.hasPrefix("v$($(A)"))   // an unclosed "$(" takes the next ")" as its end
        #expect(steps <= 2 * mixed.utf8.count, "\(steps) steps for \(mixed.utf8.count) bytes")
    }

    /// Kubernetes' `expansion.Expand` written the obvious (quadratic) way, as a reference.
    static func referenceExpand(_ input: String, _ lookup: (String) -> String?) -> String {
        let u = Array(input.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            if u[i] == 36, i + 1 < u.count {
                if u[i + 1] == 36 { out.append(36); i += 2; continue }
                if u[i + 1] == 40, let end = u[(i + 2)...].firstIndex(of: 41) {
                    let name = String(decoding: u[(i + 2)..<end], as: UTF8.self)
                    if let v = lookup(name) { out += Array(v.utf8) } else { out += u[i...end] }
                    i = end + 1; continue
                }
                out += [u[i], u[i + 1]]; i += 2; continue
            }
            out.append(u[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func expansionAgreesWithTheReferenceOnRandomInputs() {
        var rng = SplitMix(seed: 13)
        let alphabet = Array("$()AB x")
        let lookup: (String) -> String? = { ["A": "1", "B": "", "A B": "sp"][$0] }
        for _ in 0..<3000 {
            let input = String((0..<Int(rng.next() % 24)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            #expect(EnvResolver.expand(input, lookup: lookup) == Self.referenceExpand(input, lookup), "\(input.debugDescription)")
        }
    }

    @Test func expansionMatchesKubernetesAroundUnclosedReferences() {
        let lookup: (String) -> String? = { ["A": "1", "B": "2", "A$(B": "odd"][$0] }
        #expect(EnvResolver.expand("$(A$(B)", lookup: lookup) == "odd")   // the name runs to the first ")"
        #expect(EnvResolver.expand("$(A) $(", lookup: lookup) == "1 $(")
        #expect(EnvResolver.expand("$( $(A)", lookup: lookup) == "$( $(A)")  // name " $(A" is unknown
        #expect(EnvResolver.expand("x$(A", lookup: lookup) == "x$(A")
        #expect(EnvResolver.expand("$(B)$$(A)$", lookup: lookup) == "2$(A)$")
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

/// A tiny deterministic generator, so a failing input can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
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
