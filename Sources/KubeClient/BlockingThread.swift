#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a new detached POSIX thread.
///
/// Why not Dispatch: a custom or global concurrent queue shares libdispatch's
/// small worker pool, which on Linux grows only slowly when its threads block;
/// a few followed log streams (each blocked in `curl_easy_perform` for hours)
/// then delay every other request by seconds. A thread per transfer costs tens
/// of microseconds, nothing next to an HTTP round trip. (Foundation's `Thread`
/// would pull corelibs Foundation into the binary.)
enum BlockingThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func run(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            // No thread to be had (resource limits): run inline rather than lose the work.
            let box = Unmanaged<Box>.fromOpaque(box).takeRetainedValue()
            box.body()
        }
    }
}
