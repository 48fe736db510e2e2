import FoundationEssentials

/// Where the API server is and how to prove who we are: the resolved result
/// of explicit settings, a kubeconfig or the in-cluster service account
/// (`KubeConnectionResolver` picks). PEM material is held in memory when the
/// source gave it inline (`*-data`), else as a file path read by libcurl.
public struct KubeConnection: Sendable, Equatable {
    /// `https://host:port` (no trailing slash).
    public var server: String
    public var caData: Data?
    public var caFile: String?
    public var insecureSkipTLSVerify: Bool
    /// A fixed bearer token (kubeconfig `token`).
    public var token: String?
    /// A token file re-read when it changes (kubeconfig `tokenFile`, the
    /// in-cluster service-account token, which the kubelet rotates).
    public var tokenFile: String?
    public var clientCertData: Data?
    public var clientCertFile: String?
    public var clientKeyData: Data?
    public var clientKeyFile: String?
    /// Where these settings came from, for logs and errors ("kubeconfig /x, context y").
    public var source: String

    public init(server: String, caData: Data? = nil, caFile: String? = nil, insecureSkipTLSVerify: Bool = false,
                token: String? = nil, tokenFile: String? = nil,
                clientCertData: Data? = nil, clientCertFile: String? = nil,
                clientKeyData: Data? = nil, clientKeyFile: String? = nil, source: String = "explicit") {
        var s = server
        while s.hasSuffix("/") { s.removeLast() }
        self.server = s; self.caData = caData; self.caFile = caFile
        self.insecureSkipTLSVerify = insecureSkipTLSVerify; self.token = token; self.tokenFile = tokenFile
        self.clientCertData = clientCertData; self.clientCertFile = clientCertFile
        self.clientKeyData = clientKeyData; self.clientKeyFile = clientKeyFile; self.source = source
    }
}

/// Settings given directly (the `Kubernetes:` config section); each nil field
/// falls through to the next source.
public struct KubeConnectionOptions: Sendable, Equatable {
    /// A kubeconfig path that wins over `KUBECONFIG` and `~/.kube/config`.
    public var kubeconfig: String?
    /// A context other than the kubeconfig's `current-context`.
    public var context: String?
    /// With `server`, no kubeconfig is read at all.
    public var server: String?
    public var tokenFile: String?
    public var caFile: String?
    public var insecureSkipTLSVerify: Bool

    public init(kubeconfig: String? = nil, context: String? = nil, server: String? = nil,
                tokenFile: String? = nil, caFile: String? = nil, insecureSkipTLSVerify: Bool = false) {
        self.kubeconfig = kubeconfig; self.context = context; self.server = server
        self.tokenFile = tokenFile; self.caFile = caFile; self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }
}

/// First match wins: explicit `server` > a kubeconfig (`options.kubeconfig`,
/// else `KUBECONFIG`, else `~/.kube/config`) > in-cluster
/// (`KUBERNETES_SERVICE_HOST`/`_PORT`, the service-account token and CA).
public enum KubeConnectionResolver {
    public static let serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

    public static func resolve(_ options: KubeConnectionOptions, environment: [String: String],
                               serviceAccountDir: String = serviceAccountDir) throws(KubeError) -> KubeConnection {
        if let server = options.server, !server.isEmpty {
            guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
                throw .config("server \"\(server)\" must start with https://")
            }
            return KubeConnection(server: server, caFile: options.caFile, insecureSkipTLSVerify: options.insecureSkipTLSVerify,
                                  tokenFile: options.tokenFile, source: "explicit server \(server)")
        }
        if let path = kubeconfigPath(options, environment: environment) {
            return try Kubeconfig.load(path: path).connection(context: options.context)
        }
        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty {
            let port = environment["KUBERNETES_SERVICE_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "443"
            let hostPart = host.contains(":") ? "[\(host)]" : host  // IPv6 service address
            let token = serviceAccountDir + "/token"
            guard FileManager.default.fileExists(atPath: token) else {
                throw .config("in cluster (KUBERNETES_SERVICE_HOST=\(host)) but \(token) is missing; is automountServiceAccountToken off?")
            }
            let ca = serviceAccountDir + "/ca.crt"
            return KubeConnection(server: "https://\(hostPart):\(port)",
                                  caFile: FileManager.default.fileExists(atPath: ca) ? ca : nil,
                                  tokenFile: token, source: "in-cluster service account")
        }
        throw .config("no kubeconfig (set Kubernetes.Kubeconfig or KUBECONFIG, or create ~/.kube/config) and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)")
    }

    /// The kubeconfig to read, if any: an explicit path must exist; of
    /// `KUBECONFIG` (a colon-separated list) the first existing file is used
    /// (files are not merged); `~/.kube/config` only if present.
    static func kubeconfigPath(_ options: KubeConnectionOptions, environment: [String: String]) -> String? {
        if let p = options.kubeconfig, !p.isEmpty { return p }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            for p in list.split(separator: ":").map(String.init) where FileManager.default.fileExists(atPath: p) { return p }
        }
        if let home = environment["HOME"], !home.isEmpty {
            let p = home + "/.kube/config"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }
}
