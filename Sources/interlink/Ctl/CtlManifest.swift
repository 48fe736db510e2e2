import Config
import FoundationEssentials
import Model

/// Turns the `-f` files of `ctl create` into one `PodCreateRequests`, the way
/// the virtual kubelet would: exactly one Pod, plus the ConfigMaps and Secrets
/// it references (by volume, projected volume, `envFrom` or `valueFrom`).
///
/// Files hold JSON (an object, or an array of objects) or YAML with one or
/// more `---` documents. A pod without `metadata.uid` gets a fresh UUID and
/// one without a namespace gets `default`; Secret `stringData` is folded into
/// base64 `data` as the API server would.
enum CtlManifest {
    struct Bundle {
        var request: PodCreateRequests
        var generatedUID: Bool
        /// ConfigMaps/Secrets found in the files that the pod does not use.
        var unused: [String]
    }

    /// A manifest that cannot be sent; `description` names the file and the problem.
    struct ManifestError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private struct KindProbe: Decodable { var kind: String? }

    /// Splits a file's text into its objects (JSON bytes each) and their kinds.
    static func documents(in text: String, file: String) throws(ManifestError) -> [(kind: String, json: Data)] {
        let trimmed = text.trimmed
        var docs: [Data] = []
        if trimmed.hasPrefix("{") {
            docs = [Data(trimmed.utf8)]
        } else if trimmed.hasPrefix("[") {
            // A JSON array of objects: re-encode each element on its own.
            do {
                let items = try JSONDecoder().decode([JSONValue].self, from: Data(trimmed.utf8))
                docs = try items.map { try JSONEncoder().encode($0) }
            } catch {
                throw ManifestError(message: "\(file): \(WireJSON.describe(error))")
            }
        } else {
            do { docs = try YAML.documentsAsJSON(text) }
            catch { throw ManifestError(message: "\(file): \(error)") }
        }
        var result: [(kind: String, json: Data)] = []
        for (index, doc) in docs.enumerated() {
            let where_ = docs.count > 1 ? "\(file) (document \(index + 1))" : file
            if doc.isEmpty || String(decoding: doc, as: UTF8.self).trimmed == "null" { continue }
            guard let probe = try? JSONDecoder().decode(KindProbe.self, from: doc) else {
                throw ManifestError(message: "\(where_): not an object")
            }
            guard let kind = probe.kind, !kind.isEmpty else { throw ManifestError(message: "\(where_): has no \"kind\"") }
            if kind == "List" {
                // `kubectl get -o yaml` output wraps objects in a List.
                struct ListItems: Decodable { var items: [JSONValue]? }
                let items = (try? JSONDecoder().decode(ListItems.self, from: doc))?.items ?? []
                for item in items {
                    let data = (try? JSONEncoder().encode(item)) ?? Data()
                    result += try documents(in: String(decoding: data, as: UTF8.self), file: where_)
                }
                continue
            }
            result.append((kind, doc))
        }
        return result
    }

    /// Builds the request from every document of every file (`(path, text)` pairs).
    static func bundle(_ files: [(path: String, text: String)], newUID: () -> String = { UUID().uuidString.lowercased() })
        throws(ManifestError) -> Bundle {
        var pods: [(Pod, String)] = []
        var configMaps: [ConfigMap] = []
        var secrets: [Secret] = []
        for (path, text) in files {
            for (kind, json) in try documents(in: text, file: path) {
                do {
                    switch kind {
                    case "Pod": pods.append((try JSONDecoder().decode(Pod.self, from: json), path))
                    case "ConfigMap": configMaps.append(try JSONDecoder().decode(ConfigMap.self, from: json))
                    case "Secret": secrets.append(try JSONDecoder().decode(Secret.self, from: json))
                    default:
                        throw ManifestError(message: "\(path): kind \"\(kind)\" is not supported (only Pod, ConfigMap and Secret)")
                    }
                } catch let e as ManifestError {
                    throw e
                } catch {
                    throw ManifestError(message: "\(path): \(kind): \(WireJSON.describe(error))")
                }
            }
        }
        guard pods.count == 1, var pod = pods.first?.0 else {
            throw ManifestError(message: pods.isEmpty ? "no Pod in the files given with -f"
                : "the files hold \(pods.count) Pods (\(pods.map { $0.0.name }.joined(separator: ", "))); create takes exactly one")
        }
        var generated = false
        if (pod.metadata.namespace ?? "").isEmpty { pod.metadata.namespace = "default" }
        if (pod.metadata.uid ?? "").isEmpty { pod.metadata.uid = newUID(); generated = true }
        if let problem = Validation.problem(with: pod) ?? Validation.problem(withSpecOf: pod) {
            throw ManifestError(message: "\(pods[0].1): \(problem)")
        }

        let refs = references(of: pod)
        var unused: [String] = []
        var sendMaps: [ConfigMap] = []
        var sendSecrets: [Secret] = []
        for var cm in configMaps {
            let name = cm.metadata.name ?? ""
            if (cm.metadata.namespace ?? "").isEmpty { cm.metadata.namespace = pod.namespace }
            guard refs.configMaps.contains(name), cm.metadata.namespace == pod.namespace else {
                unused.append("ConfigMap \(cm.metadata.namespace ?? "")/\(name)"); continue
            }
            sendMaps.append(cm)
        }
        for var secret in secrets {
            let name = secret.metadata.name ?? ""
            if (secret.metadata.namespace ?? "").isEmpty { secret.metadata.namespace = pod.namespace }
            guard refs.secrets.contains(name), secret.metadata.namespace == pod.namespace else {
                unused.append("Secret \(secret.metadata.namespace ?? "")/\(name)"); continue
            }
            sendSecrets.append(foldStringData(secret))
        }
        // A required reference nobody supplied would leave the pod stuck: say so now.
        for name in refs.requiredConfigMaps.sorted() where !sendMaps.contains(where: { $0.metadata.name == name }) {
            throw ManifestError(message: "pod \(pod.namespace)/\(pod.name) uses ConfigMap \"\(name)\", which no -f file holds")
        }
        for name in refs.requiredSecrets.sorted() where !sendSecrets.contains(where: { $0.metadata.name == name }) {
            throw ManifestError(message: "pod \(pod.namespace)/\(pod.name) uses Secret \"\(name)\", which no -f file holds")
        }
        let request = PodCreateRequests(pod: pod, configmaps: sendMaps, secrets: sendSecrets, projectedvolumesmaps: [])
        return Bundle(request: request, generatedUID: generated, unused: unused)
    }

    /// Kubernetes merges `stringData` into `data` (base64), `stringData` winning.
    static func foldStringData(_ secret: Secret) -> Secret {
        var s = secret
        guard let plain = s.stringData, !plain.isEmpty else { s.stringData = nil; return s }
        var data = s.data ?? [:]
        for (k, v) in plain { data[k] = Data(v.utf8).base64EncodedString() }
        s.data = data
        s.stringData = nil
        return s
    }

    struct References {
        var configMaps: Set<String> = []
        var secrets: Set<String> = []
        var requiredConfigMaps: Set<String> = []
        var requiredSecrets: Set<String> = []
    }

    /// Every ConfigMap and Secret name the pod mentions, and which of them are not optional.
    static func references(of pod: Pod) -> References {
        var r = References()
        func cm(_ name: String?, _ optional: Bool?) {
            guard let name, !name.isEmpty else { return }
            r.configMaps.insert(name)
            if optional != true { r.requiredConfigMaps.insert(name) }
        }
        func secret(_ name: String?, _ optional: Bool?) {
            guard let name, !name.isEmpty else { return }
            r.secrets.insert(name)
            if optional != true { r.requiredSecrets.insert(name) }
        }
        for v in pod.volumes {
            if let c = v.configMap { cm(c.name, c.optional) }
            if let s = v.secret { secret(s.secretName, s.optional) }
            for p in v.projected?.sources ?? [] {
                if let c = p.configMap { cm(c.name, c.optional) }
                if let s = p.secret { secret(s.secretName, s.optional) }
            }
        }
        for c in pod.initContainers + pod.containers {
            for e in c.env ?? [] {
                if let ref = e.valueFrom?.configMapKeyRef { cm(ref.name, ref.optional) }
                if let ref = e.valueFrom?.secretKeyRef { secret(ref.name, ref.optional) }
            }
            for e in c.envFrom ?? [] {
                if let ref = e.configMapRef { cm(ref.name, ref.optional) }
                if let ref = e.secretRef { secret(ref.name, ref.optional) }
            }
        }
        return r
    }
}

/// Any JSON value, to split a JSON array or List into separate objects.
indirect enum JSONValue: Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
