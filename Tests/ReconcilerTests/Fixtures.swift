import FoundationEssentials
import Model
import Providers
@testable import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// Shared builders for the reconciler tests.
enum Fx {
    static func uid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    static func pod(_ n: Int, restart: RestartPolicy = .always, annotations: [String: String] = [:],
                    containers: [String] = ["main"], inits: [String] = []) -> Pod {
        Pod(metadata: ObjectMeta(name: "pod-\(n)", namespace: "default", uid: uid(n), annotations: annotations),
            spec: PodSpec(containers: containers.map { Container(name: $0, image: "busybox", args: ["echo", "hi"]) },
                          initContainers: inits.isEmpty ? nil : inits.map { Container(name: $0, image: "busybox") },
                          restartPolicy: restart.rawValue))
    }

    static func request(_ n: Int, restart: RestartPolicy = .always, annotations: [String: String] = [:]) -> PodCreateRequests {
        PodCreateRequests(pod: pod(n, restart: restart, annotations: annotations))
    }

    static func tempDir() -> String {
        let d = "/tmp/interlink-rt-" + UUID().uuidString.lowercased()
        mkdir(d, 0o700)
        return d
    }

    static func settings(_ dir: String, maxCreateAttempts: Int = 5, maxRestarts: Int = 10) -> ReconcilerSettings {
        ReconcilerSettings(interval: 3600, maxCreateAttempts: maxCreateAttempts, maxRestarts: maxRestarts,
                           dataRoot: dir, backoffBase: 0, backoffMax: 0, unseenGraceSeconds: 3600, orphanGraceSeconds: 0)
    }

    static func mode(_ path: String) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { return -1 }
        return Int(st.st_mode & 0o777)
    }

    static func record(_ n: Int, restart: RestartPolicy = .always, at now: Date = Date(timeIntervalSince1970: 1_000)) -> PodRecord {
        PodRecord(request: request(n, restart: restart), at: now)
    }
}
