/// Why a TLS context could not be built from its files. The description is one
/// sentence naming the file and OpenSSL's reason.
public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `key` names the config key (`TLS.CertFile`), `reason` is OpenSSL's text.
    case cannotLoad(key: String, path: String, reason: String)
    case keyDoesNotMatch(certFile: String, keyFile: String)
    case setup(String)

    public var description: String {
        switch self {
        case .cannotLoad(let key, let path, let reason):
            return "Cannot load \(key) \(path): \(reason.isEmpty ? "unreadable or not PEM" : reason)."
        case .keyDoesNotMatch(let cert, let key):
            return "The private key \(key) does not belong to the certificate \(cert)."
        case .setup(let why):
            return "Cannot set up TLS: \(why)."
        }
    }
}
