import FoundationEssentials
import Model

/// Resolves a container's environment as the kubelet would: `envFrom` first,
/// then `env` in order (later wins), `valueFrom` ConfigMap/Secret keys from the
/// request, the downward API (`fieldRef`, `resourceFieldRef`; see `DownwardAPI`)
/// for what the VK did not resolve, and `$(VAR)` references to earlier
/// variables expanded (`$$` escapes; unknown references stay as written), in
/// time linear in the value's length. Values are otherwise byte-exact: no
/// quoting, trimming or shell interpretation happens here.
///
/// The result holds each name once, at the position where it first appeared,
/// with the last value given to it (the kubelet keeps a map, so only "last
/// wins" is observable; the stable order keeps scripts reproducible).
public enum EnvResolver {
    public static func environment(for container: Container, in request: PodCreateRequests) throws(ProviderError) -> [(name: String, value: String)] {
        var env = OrderedEnv()
        for source in container.envFrom ?? [] {
            let prefix = source.prefix ?? ""
            if let ref = source.configMapRef {
                guard let cm = request.configmaps?.first(where: { $0.metadata.name == (ref.name ?? "") }) else {
                    if ref.optional == true { continue }
                    throw .invalidPod("container \(container.name): envFrom refers to ConfigMap \"\(ref.name ?? "")\", which was not sent with the pod")
                }
                // The kubelet reads only `data` for envFrom, never `binaryData`.
                for (key, value) in (cm.data ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let name = prefix + key
                    // Kubernetes skips (and reports) keys that are not valid names.
                    if isValidName(name) { env.set(name, value) }
                }
            }
            if let ref = source.secretRef {
                guard let secret = request.secrets?.first(where: { $0.metadata.name == (ref.name ?? "") }) else {
                    if ref.optional == true { continue }
                    throw .invalidPod("container \(container.name): envFrom refers to Secret \"\(ref.name ?? "")\", which was not sent with the pod")
                }
                for (key, value) in try decodedSecret(secret).sorted(by: { $0.key < $1.key }) {
                    let name = prefix + key
                    if isValidName(name) { env.set(name, String(decoding: value, as: UTF8.self)) }
                }
            }
        }
        for variable in container.env ?? [] {
            if let value = variable.value, !value.isEmpty {
                // Only variables defined so far are visible, as in the kubelet.
                let expanded = expand(value, lookup: env.lookup)
                env.set(variable.name, expanded)
            } else if let from = variable.valueFrom {
                guard let value = try valueFrom(from, variable: variable.name, container: container, request: request) else {
                    continue  // an optional reference that is missing: the variable is left out
                }
                env.set(variable.name, value)
            } else {
                env.set(variable.name, "")
            }
        }
        // A Secret or ConfigMap value can hold a NUL byte; no process environment can:
        // the value would be cut short (or dropped from a Slurm script) without a word.
        if let bad = env.entries.first(where: { $0.value.utf8.contains(0) }) {
            throw .invalidPod("container \(container.name): environment variable \(bad.name) contains a NUL byte, which no process environment can carry")
        }
        return env.entries
    }

    /// `command` and `args` with `$(VAR)` references expanded against `env`.
    public static func expand(_ words: [String], with env: [(name: String, value: String)]) -> [String] {
        var map: [String: String] = [:]
        for (name, value) in env { map[name] = value }
        return words.map { expand($0, lookup: { map[$0] }) }
    }

    /// Kubernetes' `expansion.Expand`, byte for byte: `$(NAME)` becomes the value
    /// of NAME when known and stays `$(NAME)` otherwise; `$$` is `$`; a `$`
    /// followed by anything else, or a `$(` never closed, is kept as written.
    public static func expand(_ input: String, lookup: (String) -> String?) -> String {
        var steps = 0
        return expand(input, lookup: lookup, steps: &steps)
    }

    /// `expand`, counting in `steps` every input byte it looks at, so a test can
    /// show the work is linear: each byte is inspected at most twice (once by
    /// the main scan, once by the search for a closing `)`), whatever the input.
    static func expand(_ input: String, lookup: (String) -> String?, steps: inout Int) -> String {
        let u = Array(input.utf8)
        let dollar = UInt8(ascii: "$"), open = UInt8(ascii: "("), close = UInt8(ascii: ")")
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        // Once a search for ")" from some position fails, every later one would
        // fail too: remembering that keeps `$($($(...` from being quadratic.
        var noCloseFrom = Int.max
        var i = 0
        while i < u.count {
            steps += 1
            guard u[i] == dollar, i + 1 < u.count else { out.append(u[i]); i += 1; continue }
            let next = u[i + 1]
            if next == dollar {
                out.append(dollar); i += 2
            } else if next == open, i + 2 < noCloseFrom, let end = closing(u, from: i + 2, close, &steps) {
                let name = String(decoding: u[(i + 2)..<end], as: UTF8.self)
                if let value = lookup(name) { out.append(contentsOf: value.utf8) } else { out.append(contentsOf: u[i...end]) }
                i = end + 1
            } else {
                if next == open { noCloseFrom = min(noCloseFrom, i + 2) }
                out.append(dollar); out.append(next); i += 2
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func closing(_ u: [UInt8], from start: Int, _ close: UInt8, _ steps: inout Int) -> Int? {
        var j = start
        while j < u.count {
            steps += 1
            if u[j] == close { return j }
            j += 1
        }
        return nil
    }

    /// Kubernetes' classic environment variable name rule: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
    public static func isValidName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard let first = u.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45 || c == 46 }
        return letter(first) && u.dropFirst().allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }

    /// A Secret's values as bytes: `data` base64-decoded, `stringData` (hand-written
    /// manifests only; the API server merges it into `data`) taking precedence.
    public static func decodedSecret(_ secret: Secret) throws(ProviderError) -> [String: Data] {
        var out: [String: Data] = [:]
        for (key, encoded) in secret.data ?? [:] {
            guard let bytes = Data(base64Encoded: encoded) else {
                throw .invalidPod("key \"\(key)\" of Secret \"\(secret.metadata.name ?? "")\" is not valid base64")
            }
            out[key] = bytes
        }
        for (key, text) in secret.stringData ?? [:] { out[key] = Data(text.utf8) }
        return out
    }

    // MARK: - valueFrom

    private static func valueFrom(_ from: EnvVarSource, variable: String, container: Container,
                                  request: PodCreateRequests) throws(ProviderError) -> String? {
        let context = "container \(container.name): env \(variable)"
        if let ref = from.configMapKeyRef {
            let name = ref.name ?? ""
            guard let cm = request.configmaps?.first(where: { $0.metadata.name == name }) else {
                if ref.optional == true { return nil }
                throw .invalidPod("\(context) refers to ConfigMap \"\(name)\", which was not sent with the pod")
            }
            guard let value = cm.data?[ref.key] else {
                if ref.optional == true { return nil }
                throw .invalidPod("\(context) refers to key \"\(ref.key)\" of ConfigMap \"\(name)\", which does not exist")
            }
            return value
        }
        if let ref = from.secretKeyRef {
            let name = ref.name ?? ""
            guard let secret = request.secrets?.first(where: { $0.metadata.name == name }) else {
                if ref.optional == true { return nil }
                throw .invalidPod("\(context) refers to Secret \"\(name)\", which was not sent with the pod")
            }
            guard let value = try decodedSecret(secret)[ref.key] else {
                if ref.optional == true { return nil }
                throw .invalidPod("\(context) refers to key \"\(ref.key)\" of Secret \"\(name)\", which does not exist")
            }
            return String(decoding: value, as: UTF8.self)
        }
        if let field = from.fieldRef {
            guard let value = DownwardAPI.fieldValue(field.fieldPath, of: request.pod) else {
                throw .invalidPod("\(context) uses fieldRef \"\(field.fieldPath)\", which InterLink does not support")
            }
            return value
        }
        if let ref = from.resourceFieldRef {
            return try DownwardAPI.resourceValue(ref, defaultContainer: container.name, of: request.pod, context: context)
        }
        throw .invalidPod("\(context) has a valueFrom with no supported source")
    }
}

/// Name/value pairs with one entry per name: first position, last value.
private struct OrderedEnv {
    var entries: [(name: String, value: String)] = []
    var index: [String: Int] = [:]

    mutating func set(_ name: String, _ value: String) {
        if let i = index[name] { entries[i].value = value; return }
        index[name] = entries.count
        entries.append((name, value))
    }

    func lookup(_ name: String) -> String? { index[name].map { entries[$0].value } }
}
