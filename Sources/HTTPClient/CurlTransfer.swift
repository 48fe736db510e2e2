import CCurl
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `curl_global_init` must run once before any handle exists and is not
/// thread-safe itself; a global `let` is initialised exactly once, lazily and
/// under a lock, by the Swift runtime.
private let curlGlobalInit: CURLcode = {
    // libcurl may write to a socket the peer closed; a signal must not kill us.
    signal(SIGPIPE, SIG_IGN)
    return curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()

/// One blocking libcurl transfer: configures an easy handle from a request,
/// runs `curl_easy_perform` on the calling thread (never call it on the
/// cooperative pool) and collects the status, headers and body.
///
/// The context is shared with libcurl's C callbacks through an unretained
/// pointer; only the transfer's own thread touches the mutable parts, and the
/// cancel flag is atomic, hence `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPClientRequest
    /// When set, 2xx body bytes go here instead of `body`; returning false aborts.
    var onChunk: ((Data) -> Bool)?
    private let cancelFlag = Atomic<Bool>(false)

    private(set) var status = 0
    private(set) var headers: [(String, String)] = []
    private(set) var body = Data()
    /// Connections libcurl had to open for this transfer (0 when it reused one).
    private(set) var connectionsOpened = 0

    init(_ request: HTTPClientRequest) { self.request = request }

    /// Safe from any thread: the next libcurl callback aborts the transfer.
    func cancel() { cancelFlag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelFlag.load(ordering: .relaxed) }

    /// Streaming mode hands on body bytes only for a success status; an error
    /// answer is kept whole so the caller can report it.
    fileprivate var streamsBody: Bool { onChunk != nil && (200..<300).contains(status) }

    fileprivate func receiveHeaderLine(_ line: String) {
        let text = line.trimmed
        if text.hasPrefix("HTTP/") {
            // A new status line (after a 1xx interim answer) starts a new header block.
            headers.removeAll()
            let parts = text.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
        } else if let colon = text.firstIndex(of: ":") {
            headers.append((String(text[..<colon]).trimmed, String(text[text.index(after: colon)...]).trimmed))
        }
    }

    fileprivate func receiveBody(_ data: Data) -> Bool {
        if streamsBody, let onChunk { return onChunk(data) }
        body.append(data)
        return true
    }

    /// Runs the transfer to completion. `streaming` bounds only the connect
    /// phase by the request's timeout. With a `pool`, the easy handle (and so
    /// its open connection and TLS session) comes from and goes back to it.
    func perform(streaming: Bool, pool: CurlHandlePool? = nil) throws(HTTPClientError) {
        guard curlGlobalInit == CURLE_OK else {
            throw .transport(code: Int(curlGlobalInit.rawValue), message: "libcurl failed to initialise")
        }
        try Self.validate(request)
        guard let handle = pool?.take() ?? curl_easy_init() else {
            throw .transport(code: Int(CURLE_FAILED_INIT.rawValue), message: "libcurl could not create a handle")
        }
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        var reusable = false
        defer {
            curl_slist_free_all(headerList)
            if let pool, reusable { pool.give(handle) } else { curl_easy_cleanup(handle) }
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errBuf in
            _ = ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errBuf.baseAddress)
            configure(handle, streaming: streaming, headerList: &headerList)
            let me = Unmanaged.passUnretained(self).toOpaque()
            _ = ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, me)
            _ = ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, me)
            _ = ccurl_setopt_ptr(handle, CURLOPT_XFERINFODATA, me)
            _ = ccurl_setopt_write(handle, CURLOPT_WRITEFUNCTION, curlWriteBody)
            _ = ccurl_setopt_write(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader)
            _ = ccurl_setopt_xferinfo(handle, curlProgress)
            _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
            return curl_easy_perform(handle)
        }
        var opened = 0
        if ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK { connectionsOpened = opened }
        if code == CURLE_OK {
            var status = 0
            if ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status > 0 { self.status = status }
            // A handle whose transfer failed may hold a broken connection: drop it.
            reusable = true
            return
        }
        if isCancelled { throw .cancelled }
        var osErrno = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
        let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw .transport(code: Int(code.rawValue),
                         message: Self.describe(code, detail: detail, osErrno: Int32(osErrno), request: request, streaming: streaming))
    }

    private func configure(_ h: UnsafeMutableRawPointer, streaming: Bool,
                           headerList: inout UnsafeMutablePointer<curl_slist>?) {
        let r = request
        // libcurl copies string options, so temporary C strings are enough.
        func set(_ opt: CURLoption, _ value: String) { _ = value.withCString { ccurl_setopt_ptr(h, opt, $0) } }
        func blob(_ opt: CURLoption, _ data: Data) {
            var copy = data
            _ = copy.withUnsafeMutableBytes { ccurl_setopt_blob(h, opt, $0.baseAddress, $0.count) }
        }

        set(CURLOPT_URL, r.url)
        // HTTP/2 over TLS where the server offers it (ALPN), else HTTP/1.1 keep-alive.
        _ = ccurl_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        _ = ccurl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        let timeoutMs = Int(max(1, (r.timeoutSeconds * 1000).rounded()))
        _ = ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs)
        if !streaming { _ = ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, timeoutMs) }
        if let path = r.unixSocketPath { set(CURLOPT_UNIX_SOCKET_PATH, path) }

        // Method and body. CUSTOMREQUEST keeps the verb while POSTFIELDS carries
        // the body, which is how GET (and DELETE) with a body go out.
        let method = r.method.uppercased()
        var body = r.body
        if body == nil && ["POST", "PUT", "PATCH"].contains(method) { body = Data() }
        if let body {
            _ = ccurl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            if body.isEmpty {
                set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                _ = body.withUnsafeBytes { ccurl_setopt_ptr(h, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }
            }
            if method != "POST" { set(CURLOPT_CUSTOMREQUEST, method) }
        } else if method == "HEAD" {
            _ = ccurl_setopt_long(h, CURLOPT_NOBODY, 1)
        } else {
            _ = ccurl_setopt_long(h, CURLOPT_HTTPGET, 1)
            if method != "GET" { set(CURLOPT_CUSTOMREQUEST, method) }
        }

        var lines = r.headers.map { "\($0.0): \($0.1)" }
        if let token = r.bearerToken?.trimmed, !token.isEmpty { lines.append("Authorization: Bearer \(token)") }
        // curl would wait for `100 Continue` on large bodies; our servers never send it.
        lines.append("Expect:")
        if body != nil && !r.headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            lines.append("Content-Type:")  // drop curl's form-urlencoded default
        }
        for line in lines { headerList = curl_slist_append(headerList, line) }
        _ = ccurl_setopt_ptr(h, CURLOPT_HTTPHEADER, headerList)

        // TLS: in-memory PEM wins over a path.
        if let ca = r.caData { blob(CURLOPT_CAINFO_BLOB, ca) } else if let ca = r.caFile { set(CURLOPT_CAINFO, ca) }
        if let cert = r.certData { blob(CURLOPT_SSLCERT_BLOB, cert); set(CURLOPT_SSLCERTTYPE, "PEM") }
        else if let cert = r.clientCert { set(CURLOPT_SSLCERT, cert) }
        if let key = r.keyData { blob(CURLOPT_SSLKEY_BLOB, key); set(CURLOPT_SSLKEYTYPE, "PEM") }
        else if let key = r.clientKey { set(CURLOPT_SSLKEY, key) }
        if r.insecureSkipTLSVerify {
            _ = ccurl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            _ = ccurl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
    }

    static func validate(_ r: HTTPClientRequest) throws(HTTPClientError) {
        let lower = r.url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw .invalidRequest("URL \"\(r.url)\" must start with http:// or https://")
        }
        // Scalars, not Characters: "\r\n" is one Character and would slip past a Character test.
        func clean(_ s: String) -> Bool { !s.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) }
        guard clean(r.url) else { throw .invalidRequest("URL contains a line break") }
        guard !r.method.isEmpty, r.method.allSatisfy({ $0.isLetter }) else {
            throw .invalidRequest("method \"\(r.method)\" is not a plain HTTP verb")
        }
        for (name, value) in r.headers {
            guard !name.isEmpty, clean(name), !name.contains(":"), !name.contains(" ") else {
                throw .invalidRequest("header name \"\(name)\" is not valid")
            }
            guard clean(value) else { throw .invalidRequest("header \(name) contains a line break") }
        }
        if let token = r.bearerToken, !clean(token.trimmed) {
            throw .invalidRequest("bearer token contains a line break")
        }
    }

    /// One sentence a user can act on, for a failed transfer.
    static func describe(_ code: CURLcode, detail: String, osErrno: Int32, request r: HTTPClientRequest,
                         streaming: Bool) -> String {
        let target = r.unixSocketPath.map { "unix socket \($0)" } ?? r.url
        let why = osErrno != 0 ? String(cString: strerror(osErrno)) : (detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        switch code {
        case CURLE_COULDNT_CONNECT:
            return "cannot connect to \(target): \(why)"
        case CURLE_COULDNT_RESOLVE_HOST:
            return "cannot resolve the host of \(r.url): \(detail.isEmpty ? why : detail)"
        case CURLE_OPERATION_TIMEDOUT:
            let what = streaming ? "connecting to" : "request to"
            return "\(what) \(target) timed out after \(formatSeconds(r.timeoutSeconds))"
        case CURLE_PEER_FAILED_VERIFICATION:
            return "TLS: the certificate of \(r.url) is not trusted: \(detail)"
        case CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR:
            return "TLS with \(r.url) failed: \(detail.isEmpty ? why : detail)"
        case CURLE_GOT_NOTHING:
            return "\(target) closed the connection without answering"
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return "invalid URL \(r.url): \(detail)"
        default:
            return "request to \(target) failed: \(detail.isEmpty ? why : detail) (curl error \(code.rawValue))"
        }
    }

    private static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}

// MARK: - C callbacks (non-capturing, so they convert to C function pointers)

private let curlWriteBody: ccurl_write_cb = { ptr, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let n = size * count
    if transfer.isCancelled { return 0 }  // any short count aborts with CURLE_WRITE_ERROR
    guard n > 0, let ptr else { return n }
    return transfer.receiveBody(Data(bytes: ptr, count: n)) ? n : 0
}

private let curlWriteHeader: ccurl_write_cb = { ptr, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let n = size * count
    guard n > 0, let ptr else { return n }
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
    transfer.receiveHeaderLine(line)
    return n
}

/// Called at least about once a second even on an idle connection, so a
/// cancelled follow-stream stops promptly.
private let curlProgress: ccurl_xferinfo_cb = { userdata, _, _, _, _ in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.isCancelled ? 1 : 0
}
