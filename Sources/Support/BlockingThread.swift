#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (socket loops, `curl_easy_perform`, waiting for a child
/// process) on a new detached POSIX thread.
///
/// Why not Dispatch: the global queues share libdispatch's worker pool, which on
/// Linux grows only slowly when its threads block; a few long blocking jobs (a
/// followed log stream) then delay every other task by seconds. A thread per job
/// costs tens of microseconds. (Foundation's `Thread` would pull corelibs
/// Foundation into the binary.)
public enum BlockingThread {
    private final class Body {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on its own thread; false when no thread could be created.
    @discardableResult
    public static func start(stackBytes: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) -> Bool {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, stackBytes)
        let ctx = Unmanaged.passRetained(Body(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, &attr, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, ctx)
        if rc != 0 { Unmanaged<Body>.fromOpaque(ctx).release(); return false }
        return true
    }

    /// Like `start`, but runs `body` inline when no thread can be had (resource
    /// limits) rather than lose the work.
    public static func run(_ body: @escaping @Sendable () -> Void) {
        if !start(body) { body() }
    }
}
