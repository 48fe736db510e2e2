import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// This process's environment, read straight from `environ` (without corelibs
/// Foundation's `ProcessInfo`).
public enum ProcessEnvironment {
    /// `NAME=value` entries in their order.
    public static var entries: [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee { result.append(String(cString: entry)); p += 1 }
        return result
    }

    /// The environment by name (a name given twice keeps its first value, as getenv does).
    public static var current: [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<eq])
            if result[name] == nil { result[name] = String(entry[entry.index(after: eq)...]) }
        }
        return result
    }
}
