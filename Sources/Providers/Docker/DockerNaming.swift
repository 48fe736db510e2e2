import FoundationEssentials

/// The labels stamped on every container the Docker provider creates. They carry
/// everything `observe` needs to rebuild a pod's state after a restart, so no
/// local state is required: the daemon is the record.
public enum DockerLabel {
    /// `<instanceName>`: which InterLink owns the container.
    public static let managed = "interlink.managed"
    public static let podUID = "interlink.pod-uid"
    public static let namespace = "interlink.namespace"
    public static let podName = "interlink.pod-name"
    /// The Kubernetes container name (init and main names are unique within a pod).
    public static let container = "interlink.container"
    public static let attempt = "interlink.attempt"
    /// `true` for init containers.
    public static let isInit = "interlink.init"
    /// Order within its kind (init containers run in this order).
    public static let index = "interlink.index"
    /// How many containers (init + main) the incarnation has, so `observe` can tell a
    /// complete pod from one whose create is still under way.
    public static let count = "interlink.count"
    /// JSON list of the container's `SubPathMount`s, checked again right before it starts.
    public static let subPaths = "interlink.subpaths"
    /// Which run of the container this is within its incarnation (0 first, then
    /// one more per kubelet-style restart): restartCount is read from it.
    public static let restart = "interlink.restart"
    /// Consecutive short runs before this one (the backoff streak, see `KubeletRestart`).
    public static let backoffStreak = "interlink.backoff-streak"
    /// The pod's restartPolicy, so observe can decide restarts from Docker alone.
    public static let restartPolicy = "interlink.restart-policy"
    /// JSON `DockerLifecycleSpec`: the container's probes and hooks (named ports resolved).
    public static let lifecycle = "interlink.lifecycle"
}

/// Docker container names for pod containers: readable, valid for Docker
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), deterministic, and distinct across pods and
/// attempts whatever the names' lengths. Pod names may have 253 characters, so
/// the readable parts are truncated and a hash of the full identity keeps the
/// name unique; the full names are in the labels (`DockerLabel`).
public enum DockerNaming {
    /// `il-<ns>-<podname-truncated>-<hash of ns/name/uid>-<container>-a<attempt>[-r<restart>]`,
    /// at most 180 characters. The first run keeps the name it always had.
    public static func containerName(namespace: String, podName: String, uid: String,
                                     container: String, attempt: Int, restart: Int = 0) -> String {
        let hash = fnv1a64("\(namespace)/\(podName)/\(uid)/\(container)")
        var hex = String(hash, radix: 16)
        while hex.count < 16 { hex = "0" + hex }
        return "il-\(sanitize(namespace, max: 30))-\(sanitize(podName, max: 40))-\(hex)-"
            + "\(sanitize(container, max: 63))-a\(attempt)" + (restart > 0 ? "-r\(restart)" : "")
    }

    /// FNV-1a, 64 bits: stable across runs and platforms (Swift's `Hasher` is seeded per process).
    static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Keeps Docker's allowed characters and replaces every other one by `-`, so a
    /// hostile name can never smuggle anything into the `--name` value.
    static func sanitize(_ text: String, max: Int) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        let mapped = String(text.prefix(max).map { allowed.contains($0) ? $0 : "-" })
        return mapped.isEmpty ? "x" : mapped
    }

    /// Whether `name` may be used as the container's hostname (a DNS label).
    static func isDNSLabel(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 63, name.first != "-", name.last != "-" else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }
}
