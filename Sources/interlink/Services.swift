import FoundationEssentials
import Model
import Reconciler
import Server
import StatusPatcher
import Synchronization

/// The HTTP API as a service: cancelling it stops accepting and drains the
/// requests in flight (each create is journaled before its 200 goes out).
struct HTTPServerService: Service {
    let server: HTTPServer
    var name: String { "http" }

    func run() async {
        await withTaskCancellationHandler {
            await server.run()
        } onCancel: {
            Task { await server.shutdown() }
        }
    }
}

/// The reconcile loop as a service: cancelling it lets the current tick
/// finish and closes the journal before `run()` returns.
struct ReconcilerService: Service {
    let reconciler: Reconciler
    var name: String { "reconciler" }

    func run() async {
        let stopper = Mutex<Task<Void, Never>?>(nil)
        await withTaskCancellationHandler {
            await reconciler.run()
        } onCancel: {
            let r = reconciler
            stopper.withLock { $0 = Task { await r.stop() } }
        }
        if let t = stopper.withLock({ $0 }) { await t.value } else { await reconciler.stop() }
    }
}

/// The status patcher as a service (it stops when cancelled).
struct StatusPatcherService: Service {
    let patcher: StatusPatcher
    var name: String { "status-patcher" }
    func run() async { await patcher.run() }
}
