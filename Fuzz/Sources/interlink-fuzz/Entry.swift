#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry points. `-sanitize=fuzzer` links libFuzzer's `main`, which
/// calls these. One binary holds every target (one link instead of six);
/// `FUZZ_TARGET` picks the one this process runs, and a property violation
/// ends the process with `fatalError`, which libFuzzer records as a crash.
enum FuzzTarget: String, CaseIterable, Sendable {
    case httpParser = "http-parser"
    case yaml
    case jsonCreate = "json-create"
    case jsonLogs = "json-logs"
    case jsonPods = "json-pods"
    case slurmScript = "slurm-script"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .httpParser: HTTPParserTarget.run(bytes)
        case .yaml: YAMLTarget.run(bytes)
        case .jsonCreate: JSONTargets.runCreate(bytes)
        case .jsonLogs: JSONTargets.runLogs(bytes)
        case .jsonPods: JSONTargets.runPods(bytes)
        case .slurmScript: SlurmScriptTarget.run(bytes)
        }
    }

    static let selected: FuzzTarget = {
        let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            let line = "interlink-fuzz: set FUZZ_TARGET to one of: \(names) (got \"\(name)\")\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
        return t
    }()
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    _ = FuzzTarget.selected
    if FuzzTarget.selected == .slurmScript { SlurmScriptTarget.setUp() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}
