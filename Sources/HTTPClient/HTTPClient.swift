import FoundationEssentials
import Model
import Support

/// An HTTP/1.1 client on libcurl: TCP or a unix socket, TLS with files or
/// in-memory PEM (kubeconfig `*-data`), bearer tokens, any verb with or
/// without a body (GET with a body included), no redirects followed, no
/// `Expect: 100-continue`.
///
/// Contract: `send` returns every answer the server gives, whatever its status,
/// and throws only when there is no answer (`HTTPClientError.transport`) or the
/// request is malformed or cancelled. Each transfer's blocking libcurl work
/// runs on a thread of its own, never on Swift's cooperative pool (nor on
/// Dispatch's, see `BlockingThread`); cancelling the calling task aborts it.
///
/// With `reuseConnections`, transfers take their libcurl handle from a small
/// pool, so sequential calls to one server share one keep-alive connection
/// (and HTTPS one TLS session); HTTP/2 is negotiated where the server offers it.
public final class HTTPClient: Sendable {
    private let pool: CurlHandlePool?

    public init(reuseConnections: Bool = false) {
        pool = reuseConnections ? CurlHandlePool() : nil
    }

    public func send(_ r: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse {
        let transfer = CurlTransfer(r)
        let result: Result<HTTPClientResponse, HTTPClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<Result<HTTPClientResponse, HTTPClientError>, Never>) in
                BlockingThread.run {
                    do throws(HTTPClientError) {
                        if transfer.isCancelled { throw .cancelled }
                        try transfer.perform(streaming: false, pool: self.pool)
                        cont.resume(returning: .success(HTTPClientResponse(
                            status: transfer.status, headers: transfer.headers, body: transfer.body,
                            connectionsOpened: transfer.connectionsOpened)))
                    } catch {
                        cont.resume(returning: .failure(error))
                    }
                }
            }
        } onCancel: {
            transfer.cancel()
        }
        return try result.get()
    }

    /// The response body in chunks as they arrive (for `logs -f`). A non-2xx
    /// answer ends the stream with `HTTPClientError.status(code, body:)`; a
    /// transport failure with `.transport`. Cancelling the consuming task (or
    /// dropping the stream) aborts the transfer within about a second.
    public func stream(_ r: HTTPClientRequest) -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { continuation in
            let transfer = CurlTransfer(r)
            transfer.onChunk = { chunk in
                if case .terminated = continuation.yield(chunk) { return false }
                return true
            }
            continuation.onTermination = { _ in transfer.cancel() }
            BlockingThread.run {
                do throws(HTTPClientError) {
                    try transfer.perform(streaming: true, pool: self.pool)
                    if (200..<300).contains(transfer.status) {
                        continuation.finish()
                    } else {
                        continuation.finish(throwing: HTTPClientError.status(transfer.status, body: transfer.body))
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
                // Drop the closure (and the continuation it holds) with the transfer.
                transfer.onChunk = nil
            }
        }
    }
}
