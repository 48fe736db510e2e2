import CCurl
import Synchronization

/// Idle libcurl easy handles kept for reuse. An easy handle keeps its
/// connection cache, DNS cache and TLS session across `curl_easy_reset`, so a
/// client that takes its handles from here talks to one server over one open
/// connection instead of a TCP and TLS handshake per call.
///
/// A handle is used by one transfer at a time (taken, then given back); at
/// most `maxIdle` are kept, the rest are cleaned up. The raw pointers never
/// leave this type and the pool lock, hence `@unchecked Sendable`.
final class CurlHandlePool: @unchecked Sendable {
    /// Addresses as integers: raw pointers are not Sendable, which `Mutex` wants.
    private let idle = Mutex<[UInt]>([])
    private let maxIdle: Int

    init(maxIdle: Int = 4) { self.maxIdle = maxIdle }

    deinit {
        for h in idle.withLock({ $0 }) { curl_easy_cleanup(UnsafeMutableRawPointer(bitPattern: h)) }
    }

    func take() -> UnsafeMutableRawPointer? {
        idle.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    /// Forgets every option of the finished transfer (they point at its
    /// buffers) but keeps the connection.
    func give(_ handle: UnsafeMutableRawPointer) {
        curl_easy_reset(handle)
        let address = UInt(bitPattern: handle)
        let kept = idle.withLock { list -> Bool in
            guard list.count < maxIdle else { return false }
            list.append(address)
            return true
        }
        if !kept { curl_easy_cleanup(handle) }
    }
}
