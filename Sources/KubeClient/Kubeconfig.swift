import Config
import FoundationEssentials

/// The parts of a kubeconfig file this client understands, read with the
/// project's own YAML reader. Relative file paths are relative to the
/// kubeconfig's directory, as client-go resolves them.
struct Kubeconfig: Decodable {
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: ExecConfig?
        var authProvider: AuthProvider?
        struct ExecConfig: Decodable { var command: String? }
        struct AuthProvider: Decodable { var name: String? }
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }
    struct Context: Decodable { var cluster: String?; var user: String? }

    var currentContext: String?
    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    struct NamedCluster: Decodable { var name: String; var cluster: Cluster? }
    struct NamedUser: Decodable { var name: String; var user: User? }
    struct NamedContext: Decodable { var name: String; var context: Context? }
    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    /// Set by `load`: the file, for messages and relative paths.
    var path = ""

    static func load(path: String) throws(KubeError) -> Kubeconfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .config("kubeconfig \(path) cannot be read")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws(KubeError) -> Kubeconfig {
        let docs: [Data]
        do { docs = try YAML.documentsAsJSON(text) } catch {
            throw .config("kubeconfig \(path): \(error)")
        }
        guard let doc = docs.first else { throw .config("kubeconfig \(path) is empty") }
        do {
            var k = try JSONDecoder().decode(Kubeconfig.self, from: doc)
            k.path = path
            return k
        } catch {
            throw .config("kubeconfig \(path) is not a kubeconfig: \(error)")
        }
    }

    func connection(context wanted: String?) throws(KubeError) -> KubeConnection {
        guard let name = wanted ?? currentContext, !name.isEmpty else {
            throw .config("kubeconfig \(path) has no current-context (set Kubernetes.Context)")
        }
        guard let ctx = contexts?.first(where: { $0.name == name })?.context else {
            throw .config("kubeconfig \(path) has no context \"\(name)\"")
        }
        guard let clusterName = ctx.cluster, let cluster = clusters?.first(where: { $0.name == clusterName })?.cluster else {
            throw .config("kubeconfig \(path): context \"\(name)\" names cluster \"\(ctx.cluster ?? "")\", which is not defined")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw .config("kubeconfig \(path): cluster \"\(clusterName)\" has no server")
        }
        var user = User()
        if let userName = ctx.user, !userName.isEmpty {
            guard let u = users?.first(where: { $0.name == userName })?.user else {
                throw .config("kubeconfig \(path): context \"\(name)\" names user \"\(userName)\", which is not defined")
            }
            user = u
        }
        if user.exec != nil {
            throw .unsupported("kubeconfig \(path): user \"\(ctx.user ?? "")\" uses an exec credential plugin (\(user.exec?.command ?? "?")), which interlink does not run; use a token, tokenFile or client certificate")
        }
        if let p = user.authProvider {
            throw .unsupported("kubeconfig \(path): user \"\(ctx.user ?? "")\" uses the auth-provider \"\(p.name ?? "?")\", which interlink does not support; use a token, tokenFile or client certificate")
        }
        func pem(_ field: String, _ b64: String?) throws(KubeError) -> Data? {
            guard let b64, !b64.isEmpty else { return nil }
            guard let d = Data(base64Encoded: b64.filter { !$0.isWhitespace }) else {
                throw .config("kubeconfig \(path): \(field) is not valid base64")
            }
            return d
        }
        return KubeConnection(
            server: server,
            caData: try pem("certificate-authority-data", cluster.certificateAuthorityData),
            caFile: resolved(cluster.certificateAuthority),
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
            token: user.token.flatMap { $0.isEmpty ? nil : $0 },
            tokenFile: resolved(user.tokenFile),
            clientCertData: try pem("client-certificate-data", user.clientCertificateData),
            clientCertFile: resolved(user.clientCertificate),
            clientKeyData: try pem("client-key-data", user.clientKeyData),
            clientKeyFile: resolved(user.clientKey),
            source: "kubeconfig \(path), context \(name)")
    }

    private func resolved(_ p: String?) -> String? {
        guard let p, !p.isEmpty else { return nil }
        if p.hasPrefix("/") { return p }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return dir + "/" + p
    }
}

