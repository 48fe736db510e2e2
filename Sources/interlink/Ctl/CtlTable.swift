import FoundationEssentials
import Model

/// The human-readable views of `ctl status`: one row per pod with its phase
/// (derived as the VK derives it), readiness, restarts, age and a detail
/// column naming what each non-running container is doing or how it ended.
enum CtlTable {
    struct Row: Equatable {
        var namespace: String
        var name: String
        var phase: String
        var ready: String
        var restarts: String
        var age: String
        var detail: String
    }

    static func row(namespace: String, name: String, status: PodStatus?, created: String?, now: Date) -> Row {
        let age = created.flatMap { RFC3339.date($0) }.map { formatAge(now.timeIntervalSince($0)) } ?? "-"
        guard let status else {
            return Row(namespace: namespace, name: name, phase: "Unknown", ready: "-", restarts: "-", age: age,
                       detail: "not known to the server")
        }
        let containers = status.containers
        let phase = PodPhase.derive(from: containers)
        let ready = "\(containers.filter(\.ready).count)/\(containers.count)"
        let restarts = containers.reduce(0) { $0 + Int($1.restartCount) }
        let details = status.initContainers.compactMap { describe($0, prefix: "init:") } + containers.compactMap { describe($0, prefix: "") }
        return Row(namespace: namespace, name: name, phase: phase.rawValue, ready: ready, restarts: "\(restarts)",
                   age: age, detail: details.joined(separator: ", "))
    }

    /// "main: Error (exit 3)", "main: ContainerCreating", or nil for a plain running container.
    static func describe(_ c: ContainerStatus, prefix: String) -> String? {
        if let t = c.state.terminated {
            var s = "\(prefix)\(c.name): \(t.reason ?? (t.exitCode == 0 ? "Completed" : "Error")) (exit \(t.exitCode)"
            if let sig = t.signal, sig != 0 { s += ", signal \(sig)" }
            s += ")"
            if let m = t.message, !m.isEmpty { s += " \(CtlConnection.oneLine(m).prefix(80))" }
            return s
        }
        if let w = c.state.waiting {
            var s = "\(prefix)\(c.name): \(w.reason ?? "Waiting")"
            if let m = w.message, !m.isEmpty { s += " \(CtlConnection.oneLine(m).prefix(80))" }
            return s
        }
        if c.state.running != nil {
            // Running is the normal case; only a restarted one is worth a word.
            guard c.restartCount > 0, let last = c.lastState.terminated else { return nil }
            return "\(prefix)\(c.name): restarted, last exit \(last.exitCode)"
        }
        return "\(prefix)\(c.name): state unknown"
    }

    /// kubectl's style: 42s, 5m, 3h, 2d.
    static func formatAge(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    /// Columns padded to their widest cell, two spaces apart; no trailing blanks.
    static func render(_ rows: [Row]) -> String {
        let header = ["NAMESPACE", "NAME", "PHASE", "READY", "RESTARTS", "AGE", "DETAIL"]
        let cells = [header] + rows.map { [$0.namespace, $0.name, $0.phase, $0.ready, $0.restarts, $0.age, $0.detail] }
        var widths = [Int](repeating: 0, count: header.count)
        for line in cells { for (i, c) in line.enumerated() { widths[i] = max(widths[i], c.count) } }
        return cells.map { line in
            var out = ""
            for (i, c) in line.enumerated() {
                out += i == line.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count + 2)
            }
            while out.hasSuffix(" ") { out.removeLast() }
            return out
        }.joined(separator: "\n") + "\n"
    }
}
