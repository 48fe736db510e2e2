import COpenSSL
import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The server side of TLS (1.2 and later) from PEM files: a certificate chain,
/// its key, and optionally a CA whose client certificates are then required
/// (mutual TLS). The files are checked for changes (inode, size, mtime) at most
/// once a second when a connection arrives; a changed set is loaded for the
/// connections that follow, and one that fails to load is logged and the
/// previous one kept. Any listener can use it: `session(fd:)` hands back a
/// `TLSConnection` (a `ByteStream`) after the handshake.
public final class TLSContext: Sendable {
    public struct Files: Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        /// Clients must present a certificate signed by this CA; nil: no client certificates.
        public var caCertFile: String?
        public init(certFile: String, keyFile: String, caCertFile: String? = nil) {
            self.certFile = certFile; self.keyFile = keyFile; self.caCertFile = caCertFile
        }
        var paths: [String] { [certFile, keyFile] + (caCertFile.map { [$0] } ?? []) }
    }

    /// How often the files are checked for changes, at most.
    static let reloadCheckSeconds = 1.0

    private struct State {
        var context: ContextBox
        var stamps: [FileStamp]
        var lastCheck: ContinuousClock.Instant
        /// Stamps of a set that failed to load, so the failure is logged once.
        var failedStamps: [FileStamp]?
    }

    public let files: Files
    private let state: Mutex<State>

    /// Loads the files; the error names the one that failed.
    public init(files: Files) throws(TLSError) {
        self.files = files
        let stamps = files.paths.map(FileStamp.init(path:))
        let context = try Self.build(files)
        state = Mutex(State(context: context, stamps: stamps, lastCheck: .now))
    }

    /// Reloads the files if they changed since the last load; true if a new set is now in use.
    @discardableResult
    public func reloadIfChanged(force: Bool = false) -> Bool {
        let due = state.withLock { s -> [FileStamp]? in
            let now = ContinuousClock.now
            guard force || now - s.lastCheck >= .seconds(Self.reloadCheckSeconds) else { return nil }
            s.lastCheck = now
            let current = files.paths.map(FileStamp.init(path:))
            return current == s.stamps || current == s.failedStamps ? nil : current
        }
        guard let stamps = due else { return false }
        do {
            let context = try Self.build(files)
            state.withLock { $0.context = context; $0.stamps = stamps; $0.failedStamps = nil }
            Log.info("tls certificates reloaded", ["certFile": files.certFile])
            return true
        } catch {
            state.withLock { $0.failedStamps = stamps }
            Log.warn("tls certificates changed but cannot be loaded; keeping the previous ones", ["error": error.description])
            return false
        }
    }

    /// Wraps an accepted socket and runs the server handshake, bounded by `timeoutSeconds`
    /// (also the bound of every later wait to send). Nil when the handshake fails.
    public func session(fd: Int32, peer: String, timeoutSeconds: Double) -> TLSConnection? {
        reloadIfChanged()
        let context = state.withLock { $0.context }
        guard let ssl = SSL_new(context.pointer) else { return nil }
        let connection = TLSConnection(ssl: ssl, fd: fd, timeoutMS: Int32(clamping: Int(timeoutSeconds * 1000)))
        if let failure = connection.handshake() {
            Log.debug("tls handshake failed", ["peer": peer, "error": failure])
            return nil
        }
        return connection
    }

    private static func build(_ files: Files) throws(TLSError) -> ContextBox {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw .setup("SSL_CTX_new failed: \(lastError())") }
        let box = ContextBox(ctx)
        guard copenssl_ctx_min_tls12(ctx) == 1 else { throw .setup("cannot require TLS 1.2: \(lastError())") }
        copenssl_ctx_modes(ctx)
        guard SSL_CTX_use_certificate_chain_file(ctx, files.certFile) == 1 else {
            throw .cannotLoad(key: "TLS.CertFile", path: files.certFile, reason: lastError())
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, files.keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .cannotLoad(key: "TLS.KeyFile", path: files.keyFile, reason: lastError())
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else { throw .keyDoesNotMatch(certFile: files.certFile, keyFile: files.keyFile) }
        // Sessions resumed across connections must carry the same client verification.
        let sid = Array("interlink".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))
        if let ca = files.caCertFile {
            guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1, let names = SSL_load_client_CA_file(ca) else {
                throw .cannotLoad(key: "TLS.CACertFile", path: ca, reason: lastError())
            }
            SSL_CTX_set_client_CA_list(ctx, names)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        return box
    }

    static func lastError() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        copenssl_last_error(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Owns one SSL_CTX reference. Sessions hold their own reference, so a context
/// replaced by a reload lives on until its last connection ends.
final class ContextBox: @unchecked Sendable {  // the pointer is immutable; SSL_CTX is thread-safe for SSL_new
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { SSL_CTX_free(pointer) }
}

/// What identifies a file's content cheaply: a rewrite or a rename changes one of these.
struct FileStamp: Equatable, Sendable {
    var inode: UInt64 = 0
    var size: Int64 = -1
    var mtimeNs: Int64 = -1

    init(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}
