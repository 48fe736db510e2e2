import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The provider's small file I/O: index files (written atomically), the scan of
/// pod directories, and the per-container status files.
enum SlurmFiles {
    static func readIndex(_ path: String) -> SlurmIndex? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(SlurmIndex.self, from: data)
    }

    static func writeIndex(_ index: SlurmIndex, to path: String) throws(ProviderError) {
        let data: Data
        do { data = try WireJSON.encode(index) } catch {
            throw .unavailable("could not encode the Slurm index of pod \(index.namespace)/\(index.name): \(error)")
        }
        try write(data, to: path, mode: 0o600)
    }

    /// Writes through a temporary file and a rename, so readers never see half a file.
    static func write(_ data: Data, to path: String, mode: Int) throws(ProviderError) {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        try makeDirectory(dir)
        let tmp = "\(path).tmp.\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: tmp)
            guard rename(tmp, path) == 0 else {
                throw ProviderError.unavailable("could not rename \(tmp) to \(path): \(String(cString: strerror(errno)))")
            }
        } catch let e as ProviderError { throw e } catch {
            throw .unavailable("could not write \(path): \(error)")
        }
    }

    static func makeDirectory(_ path: String) throws(ProviderError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .unavailable("could not create directory \(path): \(error)")
        }
    }

    /// `(path, index)` for every pod directory under `dataRoot` that has one.
    static func indexes(under dataRoot: String) -> [(String, SlurmIndex)] {
        let root = dataRoot.hasSuffix("/") ? String(dataRoot.dropLast()) : dataRoot
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        return entries.sorted().compactMap { entry in
            let path = "\(root)/\(entry)/\(SlurmLayout.folder)/index.json"
            return readIndex(path).map { (path, $0) }
        }
    }

    static func containerFiles(_ layout: SlurmLayout, _ container: String) -> ContainerFiles {
        let start = FileManager.default.contents(atPath: layout.startFile(container))
            .map { String(decoding: $0, as: UTF8.self).trimmed }
        let exit = FileManager.default.contents(atPath: layout.exitFile(container))
            .flatMap { ContainerFiles.Exit.parse(String(decoding: $0, as: UTF8.self)) }
        return ContainerFiles(startedAt: start?.isEmpty == false ? start : nil, exit: exit)
    }
}

/// Free capacity from `sinfo -N -O NodeHost,CPUsState,Memory,AllocMem,StateLong` (`|`-separated).
enum SlurmCapacity {
    static func parse(_ output: String) -> PingResponse {
        var cpus = 0, memMiB = 0, nodes = 0
        for line in output.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmed }
            guard f.count >= 5 else { continue }
            let state = f[4].lowercased()
            if state.hasPrefix("down") || state.hasPrefix("drain") || state.hasPrefix("fail") { continue }
            // CPUsState is allocated/idle/other/total.
            let c = f[1].split(separator: "/")
            if c.count == 4, let idle = Int(c[1]) { cpus += idle }
            if let total = Int(f[2]), let alloc = Int(f[3]) { memMiB += max(0, total - alloc) }
            nodes += 1
        }
        return PingResponse(status: "ok", resources: .init(cpu: String(cpus), memory: "\(memMiB)Mi", pods: String(max(1, nodes) * 110)))
    }
}
