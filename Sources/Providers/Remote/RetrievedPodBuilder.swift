import Model

/// Builds the plugin `/create` body from the VK's create request the way the
/// upstream interLink server does (`getData`/`retrieveData`): one entry per
/// init container, then per container; for each of its volumeMounts, the
/// volume of that name contributes its ConfigMap (looked up by the ConfigMap's
/// name), its resolved projected map (by the *volume's* name), its Secret (by
/// `secretName`), or, for an emptyDir, a path. Objects the request does not
/// carry are left out, as upstream does.
enum RetrievedPodBuilder {
    static func build(_ request: PodCreateRequests, dataRoot: String) -> RetrievedPodData {
        let pod = request.pod
        let volumes = pod.volumes
        let entries = (pod.initContainers + pod.containers).map { c -> RetrievedContainer in
            var out = RetrievedContainer(name: c.name)
            for mount in c.volumeMounts ?? [] {
                guard let vol = volumes.first(where: { $0.name == mount.name }) else { continue }
                if let cm = vol.configMap {
                    if let found = request.configmaps?.first(where: { $0.metadata.name == cm.name }) { out.configMaps.append(found) }
                } else if vol.projected != nil {
                    if let found = request.projectedvolumesmaps?.first(where: { $0.metadata.name == vol.name }) {
                        out.projectedvolumemaps.append(found)
                    }
                } else if let s = vol.secret {
                    if let found = request.secrets?.first(where: { $0.metadata.name == s.secretName }) { out.secrets.append(found) }
                } else if vol.emptyDir != nil {
                    let root = dataRoot.hasSuffix("/") ? String(dataRoot.dropLast()) : dataRoot
                    out.emptyDirs.append("\(root)/\(pod.namespace)-\(pod.uid)/emptyDirs/\(vol.name)")
                }
            }
            return out
        }
        return RetrievedPodData(pod: pod, container: entries)
    }
}
