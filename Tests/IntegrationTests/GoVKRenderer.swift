import Foundation
import Model

/// Turns a pod as a user writes it (plus the cluster's ConfigMaps and Secrets)
/// into the `PodCreateRequests` the upstream Go virtual kubelet sends, from
/// what its code does (interLink `pkg/virtualkubelet/execute.go`, the
/// virtual-kubelet library's env resolution), not from its code:
///
/// - admission adds `kube-api-access-xxxxx` (token, `kube-root-ca.crt` item
///   `ca.crt`, downward-API `namespace`; `defaultMode` 420) and mounts it
///   read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every
///   container; the API server fills the usual defaults;
/// - env `valueFrom` ConfigMap/Secret keys and `envFrom` arrive as plain values
///   (explicit `env` wins over `envFrom`), and their ConfigMaps/Secrets are not sent;
/// - configMap and secret volumes send their object in `configmaps`/`secrets`
///   (Secret `data` base64);
/// - a projected volume is sent resolved as one ConfigMap named after the
///   volume in `projectedvolumesmaps` (token, configMap items or all keys,
///   downward-API fields); the sources' ConfigMaps are not in `configmaps`;
/// - a downwardAPI volume is sent the same way and rewritten in the pod into a
///   projected volume with one downwardAPI source.
struct GoVKRenderer {
    var configMaps: [String: [String: String]] = [:]
    var secrets: [String: [String: String]] = [:]
    var nodeName = "virtual-kubelet"
    static let rootCA = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\ndmVyLWNhQDE3MDAwMDAwMDAwHhcNMjYwMTAxMDAwMDAwWhcNMzYwMTAxMDAwMDAw\n-----END CERTIFICATE-----\n"
    static let serviceAccountMount = "/var/run/secrets/kubernetes.io/serviceaccount"

    func request(for written: Pod) throws -> PodCreateRequests {
        var pod = written
        var spec = pod.spec ?? PodSpec(containers: [])
        // Admission and API-server defaulting.
        let saVolume = "kube-api-access-" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(5))
        spec.volumes = (spec.volumes ?? []) + [Volume(name: saVolume, projected: ProjectedVolumeSource(sources: [
            VolumeProjection(serviceAccountToken: ServiceAccountTokenProjection(path: "token", expirationSeconds: 3607)),
            VolumeProjection(configMap: ConfigMapVolumeSource(name: "kube-root-ca.crt", items: [KeyToPath(key: "ca.crt", path: "ca.crt")])),
            VolumeProjection(downwardAPI: DownwardAPIProjection(items: [
                DownwardAPIVolumeFile(path: "namespace", fieldRef: FieldSelector(fieldPath: "metadata.namespace", apiVersion: "v1"))])),
        ], defaultMode: 420))]
        func admit(_ c: inout Container) throws {
            c.volumeMounts = (c.volumeMounts ?? []) + [VolumeMount(name: saVolume, mountPath: Self.serviceAccountMount, readOnly: true)]
            c.terminationMessagePath = c.terminationMessagePath ?? "/dev/termination-log"
            c.terminationMessagePolicy = c.terminationMessagePolicy ?? "File"
            try resolveEnv(&c, pod: pod)
        }
        for i in spec.containers.indices { try admit(&spec.containers[i]) }
        if var inits = spec.initContainers { for i in inits.indices { try admit(&inits[i]) }; spec.initContainers = inits }
        spec.serviceAccountName = spec.serviceAccountName ?? "default"
        spec.nodeName = nodeName
        spec.terminationGracePeriodSeconds = spec.terminationGracePeriodSeconds ?? 30
        spec.restartPolicy = spec.restartPolicy ?? "Always"
        pod.metadata.uid = pod.metadata.uid ?? UUID().uuidString.lowercased()
        pod.metadata.creationTimestamp = RFC3339.now()
        pod.status = PodStatusFields(phase: "Pending")

        // remoteExecutionHandleVolumes.
        var request = PodCreateRequests(pod: pod)
        var cms: [ConfigMap] = [], secs: [Secret] = [], maps: [ConfigMap] = []
        for (i, v) in (spec.volumes ?? []).enumerated() {
            if let cm = v.configMap, let name = cm.name {
                cms.append(ConfigMap(metadata: ObjectMeta(name: name, namespace: pod.namespace), data: try configMap(name)))
            } else if let s = v.secret, let name = s.secretName {
                secs.append(Secret(metadata: ObjectMeta(name: name, namespace: pod.namespace),
                                   data: try secret(name).mapValues { Data($0.utf8).base64EncodedString() }))
            } else if let p = v.projected {
                maps.append(ConfigMap(metadata: ObjectMeta(name: v.name), data: try resolve(p.sources ?? [], pod: pod)))
            } else if let d = v.downwardAPI {
                let source = VolumeProjection(downwardAPI: DownwardAPIProjection(items: d.items))
                maps.append(ConfigMap(metadata: ObjectMeta(name: v.name), data: try resolve([source], pod: pod)))
                spec.volumes![i] = Volume(name: v.name, projected: ProjectedVolumeSource(sources: [source], defaultMode: d.defaultMode ?? 420))
            }
        }
        pod.spec = spec
        request.pod = pod
        request.configmaps = cms.isEmpty ? nil : cms
        request.secrets = secs.isEmpty ? nil : secs
        request.projectedvolumesmaps = maps
        return request
    }

    private func configMap(_ name: String) throws -> [String: String] {
        if name == "kube-root-ca.crt" { return ["ca.crt": Self.rootCA] }
        guard let d = configMaps[name] else { throw RenderError(what: "ConfigMap \(name)") }
        return d
    }

    private func secret(_ name: String) throws -> [String: String] {
        guard let d = secrets[name] else { throw RenderError(what: "Secret \(name)") }
        return d
    }

    private func resolve(_ sources: [VolumeProjection], pod: Pod) throws -> [String: String] {
        var data: [String: String] = [:]
        for s in sources {
            if let t = s.serviceAccountToken { data[t.path] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln" }
            if let cm = s.configMap, let name = cm.name {
                let all = try configMap(name)
                if let items = cm.items { for item in items { data[item.path] = all[item.key] } } else { data.merge(all) { $1 } }
            }
            for item in s.downwardAPI?.items ?? [] {
                switch item.fieldRef?.fieldPath {
                case "metadata.name": data[item.path] = pod.name
                case "metadata.namespace": data[item.path] = pod.namespace
                case "metadata.uid": data[item.path] = pod.uid
                default: break  // the VK logs and skips what it does not support
                }
            }
        }
        return data
    }

    /// The virtual-kubelet library resolves env before the interLink VK sees the pod.
    private func resolveEnv(_ c: inout Container, pod: Pod) throws {
        var env = c.env ?? []
        for i in env.indices {
            guard let from = env[i].valueFrom else { continue }
            if let r = from.configMapKeyRef { env[i] = EnvVar(name: env[i].name, value: try configMap(r.name ?? "")[r.key] ?? "") }
            else if let r = from.secretKeyRef { env[i] = EnvVar(name: env[i].name, value: try secret(r.name ?? "")[r.key] ?? "") }
        }
        let explicit = Set(env.map(\.name))
        for source in c.envFrom ?? [] {
            var values: [String: String] = [:]
            if let r = source.configMapRef { values = try configMap(r.name ?? "") }
            if let r = source.secretRef { values = try secret(r.name ?? "") }
            for (k, v) in values.sorted(by: { $0.key < $1.key }) where !explicit.contains((source.prefix ?? "") + k) {
                env.append(EnvVar(name: (source.prefix ?? "") + k, value: v))
            }
        }
        c.env = env.isEmpty ? nil : env
        c.envFrom = nil
    }

    struct RenderError: Error, CustomStringConvertible {
        let what: String
        var description: String { "the fixture refers to \(what), which the cluster does not have" }
    }
}
