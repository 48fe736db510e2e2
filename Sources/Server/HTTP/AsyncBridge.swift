import FoundationEssentials
import Dispatch
import Synchronization

/// Runs an async handler from a connection thread: the task runs on the
/// cooperative pool, the OS thread waits on a semaphore (never the reverse).
enum AsyncBridge {
    static func call(_ handler: @escaping HTTPHandler, _ request: HTTPRequest) -> HTTPResponse {
        let done = DispatchSemaphore(value: 0)
        let slot = ResultSlot()
        Task.detached {
            slot.set(await handler(request))
            done.signal()
        }
        done.wait()
        return slot.take() ?? .error(500, "The handler produced no response.")
    }
}

private final class ResultSlot: Sendable {
    private let value = Mutex<HTTPResponse?>(nil)
    func set(_ r: HTTPResponse) { value.withLock { $0 = r } }
    func take() -> HTTPResponse? { value.withLock { $0 } }
}

/// Moves the elements of a response stream from the task that iterates it to
/// the connection thread that writes them, one element in flight at a time
/// (backpressure: a slow client slows the producer instead of growing a queue).
/// `cancel()` stops the iteration, which cancels the stream.
final class StreamPump: Sendable {
    enum Item: Sendable {
        case chunk(Data)
        case end
        case failed(String)
    }

    private struct State {
        var queue: [Item] = []
        var producerWaiting: CheckedContinuation<Void, Never>?
        var cancelled = false
        var task: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    init(_ stream: AsyncThrowingStream<Data, any Error>) {
        let task = Task.detached { [self] in
            do {
                for try await chunk in stream {
                    guard await self.push(.chunk(chunk)) else { return }
                }
                _ = await self.push(.end)
            } catch {
                _ = await self.push(.failed(String(describing: error)))
            }
        }
        let cancelled = state.withLock { s -> Bool in s.task = task; return s.cancelled }
        if cancelled { task.cancel() }
    }

    /// Hands one item over and waits until the writer took it; false once cancelled.
    private func push(_ item: Item) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let accepted = state.withLock { s -> Bool in
                if s.cancelled { return false }
                s.queue.append(item)
                s.producerWaiting = c
                return true
            }
            if accepted { available.signal() } else { c.resume() }
        }
        return !state.withLock { $0.cancelled }
    }

    /// Blocks the calling thread up to `timeoutMS` for the next item; nil on timeout.
    func next(timeoutMS: Int) -> Item? {
        guard available.wait(timeout: .now() + .milliseconds(timeoutMS)) == .success else { return nil }
        let (item, waiter) = state.withLock { s -> (Item?, CheckedContinuation<Void, Never>?) in
            let i = s.queue.isEmpty ? nil : s.queue.removeFirst()
            let w = s.producerWaiting
            s.producerWaiting = nil
            return (i, w)
        }
        waiter?.resume()
        return item
    }

    func cancel() {
        let (waiter, task) = state.withLock { s -> (CheckedContinuation<Void, Never>?, Task<Void, Never>?) in
            s.cancelled = true
            let w = s.producerWaiting
            s.producerWaiting = nil
            return (w, s.task)
        }
        waiter?.resume()
        task?.cancel()
    }
}
