import FoundationEssentials
import KubeClient
import Model

/// Why a pod cannot be sent yet: a ConfigMap, Secret or token it needs is
/// missing or unreadable. The pod stays Pending with this reason and is retried.
public struct ResolveError: Error, Sendable, CustomStringConvertible {
    /// Kubelet's container waiting reason for the same situation.
    public var reason: String
    public var message: String
    public var description: String { message }
}

/// Builds the `PodCreateRequests` the Go virtual kubelet would send for a pod:
/// every ConfigMap and Secret it references (volumes, projected sources, env
/// `valueFrom`, `envFrom`) read from the API server, and each projected volume's
/// service-account token (TokenRequest API), CA bundle and downward-API files as
/// a ConfigMap named after the volume in `projectedvolumesmaps`.
public struct PodResolver: Sendable {
    public static let apiCalls: [KubeAPICall] = [
        KubeAPICall("get", "configmaps"), KubeAPICall("get", "secrets"), KubeAPICall("create", "serviceaccounts/token"),
    ]
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    public func resolve(_ p: APIPod) async throws(ResolveError) -> PodCreateRequests {
        let pod = p.pod
        let ns = pod.namespace
        var cmNames: [(String, Bool)] = [], secretNames: [(String, Bool)] = []
        for v in pod.volumes {
            if let cm = v.configMap, let n = cm.name { cmNames.append((n, cm.optional ?? false)) }
            if let s = v.secret, let n = s.secretName ?? s.name { secretNames.append((n, s.optional ?? false)) }
            for src in v.projected?.sources ?? [] {
                if let cm = src.configMap, let n = cm.name { cmNames.append((n, cm.optional ?? false)) }
                if let s = src.secret, let n = s.secretName ?? s.name { secretNames.append((n, s.optional ?? false)) }
            }
        }
        for c in pod.initContainers + pod.containers {
            for e in c.env ?? [] {
                if let r = e.valueFrom?.configMapKeyRef, let n = r.name { cmNames.append((n, r.optional ?? false)) }
                if let r = e.valueFrom?.secretKeyRef, let n = r.name { secretNames.append((n, r.optional ?? false)) }
            }
            for f in c.envFrom ?? [] {
                if let r = f.configMapRef, let n = r.name { cmNames.append((n, r.optional ?? false)) }
                if let r = f.secretRef, let n = r.name { secretNames.append((n, r.optional ?? false)) }
            }
        }
        var configmaps: [ConfigMap] = [], secrets: [Secret] = []
        var seen = Set<String>()
        for (name, optional) in cmNames where seen.insert("cm/" + name).inserted {
            if let cm = try await fetch(ConfigMap.self, "configmaps", ns, name, optional: optional, kind: "configmap") { configmaps.append(cm) }
        }
        for (name, optional) in secretNames where seen.insert("s/" + name).inserted {
            if let s = try await fetch(Secret.self, "secrets", ns, name, optional: optional, kind: "secret") { secrets.append(s) }
        }
        var projected: [ConfigMap] = []
        for v in pod.volumes where v.projected != nil {
            var data: [String: String] = [:]
            for src in p.projectedExtras[v.name] ?? [] {
                if let t = src.serviceAccountToken {
                    data[t.path] = try await token(pod: pod, serviceAccount: p.serviceAccountName ?? "default", t)
                }
                for item in src.downwardAPI?.items ?? [] {
                    guard let f = item.fieldRef else { continue }
                    guard let value = Self.downward(f.fieldPath, pod) else {
                        throw ResolveError(reason: "CreateContainerConfigError",
                                           message: "volume \"\(v.name)\": downward API field \"\(f.fieldPath)\" is not supported")
                    }
                    data[item.path] = value
                }
            }
            if !data.isEmpty {
                projected.append(ConfigMap(metadata: ObjectMeta(name: v.name, namespace: ns), data: data))
            }
        }
        return PodCreateRequests(pod: pod, configmaps: configmaps, secrets: secrets, projectedvolumesmaps: projected)
    }

    static func downward(_ path: String, _ pod: Pod) -> String? {
        switch path {
        case "metadata.name": return pod.name
        case "metadata.namespace": return pod.namespace
        case "metadata.uid": return pod.uid
        case "spec.nodeName": return pod.spec?.nodeName ?? ""
        case "metadata.labels": return (pod.metadata.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: "\n")
        case "metadata.annotations": return pod.annotations.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: "\n")
        default:
            for (prefix, map) in [("metadata.labels['", pod.metadata.labels ?? [:]), ("metadata.annotations['", pod.annotations)]
            where path.hasPrefix(prefix) && path.hasSuffix("']") {
                return map[String(path.dropFirst(prefix.count).dropLast(2))] ?? ""
            }
            return nil
        }
    }

    private func fetch<T: Decodable>(_ t: T.Type, _ resource: String, _ ns: String, _ name: String, optional: Bool,
                                     kind: String) async throws(ResolveError) -> T? {
        do {
            return try await client.get(t, KubePath.core(resource, namespace: ns, name: name), call: "get \(resource)")
        } catch {
            if error.isNotFound && optional { return nil }
            if error.isNotFound {
                throw ResolveError(reason: "CreateContainerConfigError", message: "\(kind) \"\(name)\" not found")
            }
            throw ResolveError(reason: "CreateContainerConfigError", message: "cannot read \(kind) \"\(name)\": \(error.description)")
        }
    }

    private func token(pod: Pod, serviceAccount: String, _ t: APIPod.ExtraProjection.Token) async throws(ResolveError) -> String {
        struct Request: Encodable {
            struct Ref: Encodable { var kind = "Pod"; var apiVersion = "v1"; var name: String; var uid: String }
            struct Spec: Encodable { var audiences: [String]?; var expirationSeconds: Int64; var boundObjectRef: Ref }
            var apiVersion = "authentication.k8s.io/v1"
            var kind = "TokenRequest"
            var spec: Spec
        }
        struct Answer: Decodable { struct S: Decodable { var token: String }; var status: S }
        let req = Request(spec: .init(audiences: t.audience.map { [$0] }, expirationSeconds: t.expirationSeconds ?? 3607,
                                      boundObjectRef: .init(name: pod.name, uid: pod.uid)))
        do {
            let body = try WireJSON.encode(req)
            let a = try await client.create(Answer.self, KubePath.core("serviceaccounts", namespace: pod.namespace, name: serviceAccount, subresource: "token"),
                                            body: body, call: "create serviceaccounts/token")
            return a.status.token
        } catch let e as KubeError {
            throw ResolveError(reason: "CreateContainerConfigError",
                               message: "cannot get a token for service account \"\(serviceAccount)\": \(e.description)")
        } catch {
            throw ResolveError(reason: "CreateContainerConfigError", message: "cannot encode the token request: \(error)")
        }
    }
}
