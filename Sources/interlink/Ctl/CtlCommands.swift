import FoundationEssentials
import HTTPClient
import Model

/// The five `ctl` commands, each one API call (the way the VK makes it) plus
/// the local pod index and the output format.
struct CtlCommands {
    var args: CtlArguments
    var connection: CtlConnection
    var statePath: String

    private var namespace: String { args.namespace ?? "default" }

    // MARK: create

    func create() async throws(CtlFailure) {
        var files: [(path: String, text: String)] = []
        for path in args.files {
            guard let data = FileManager.default.contents(atPath: path) else { throw CtlFailure("cannot read \(path)") }
            files.append((path, String(decoding: data, as: UTF8.self)))
        }
        let bundle: CtlManifest.Bundle
        do { bundle = try CtlManifest.bundle(files) } catch { throw CtlFailure(error.message) }
        let pod = bundle.request.pod
        for what in bundle.unused {
            writeStderr("warning: \(what) is not used by pod \(pod.namespace)/\(pod.name); not sent\n")
        }
        let body = try encode(bundle.request)
        let response = try await connection.call(op: "CreatePod", method: "POST", path: "/create", body: body)
        let answer = try? JSONDecoder().decode(CreateStruct.self, from: response.body)

        var state = try CtlState.load(from: statePath)
        state.record(pod)
        do { try state.save(to: statePath) } catch { writeStderr("warning: \(error.message)\n") }

        switch args.output {
        case .json:
            struct Created: Encodable { var namespace, name, uid, jid: String }
            try printJSON(Created(namespace: pod.namespace, name: pod.name, uid: pod.uid, jid: answer?.PodJID ?? ""))
        case .table:
            writeStdout(Data("pod \(pod.namespace)/\(pod.name) created (uid \(pod.uid))\n".utf8))
        }
    }

    // MARK: status

    func status() async throws(CtlFailure) {
        let state = try CtlState.load(from: statePath)
        var targets: [(pod: Pod, created: String?)] = []
        if let wanted = args.positionals.first {
            let found = try lookup(wanted, in: state)
            targets = [(found.pod, found.created)]
        } else {
            targets = state.pods.map { ($0.pod, $0.created) }
        }
        if targets.isEmpty {
            switch args.output {
            case .json: writeStdout(Data("[]\n".utf8))
            case .table: writeStderr("no pods created from here (index: \(statePath))\n")
            }
            return
        }
        let response = try await connection.call(op: "GetStatus", method: "GET", path: "/status",
                                                  body: try encode(targets.map(\.pod)))
        let statuses: [PodStatus]
        do { statuses = try JSONDecoder().decode([PodStatus].self, from: response.body) }
        catch { throw CtlFailure("unexpected /status answer: \(WireJSON.describe(error))") }

        switch args.output {
        case .json:
            try printJSON(statuses)
        case .table:
            let now = Date()
            let rows = targets.map { target in
                let s = statuses.first { $0.UID == target.pod.uid }
                return CtlTable.row(namespace: target.pod.namespace.isEmpty ? (s?.namespace ?? "") : target.pod.namespace,
                                    name: target.pod.name.isEmpty ? (s?.name ?? target.pod.uid) : target.pod.name,
                                    status: s, created: target.created, now: now)
            }
            writeStdout(Data(CtlTable.render(rows).utf8))
        }
    }

    // MARK: logs

    func logs() async throws(CtlFailure) {
        let state = try CtlState.load(from: statePath)
        let found = try lookup(args.positionals[0], in: state)
        let pod = found.pod
        let names = (pod.initContainers + pod.containers).map(\.name)
        let container: String
        if let c = args.container {
            if !names.isEmpty && !names.contains(c) {
                throw CtlFailure("pod \(pod.namespace)/\(pod.name) has no container \"\(c)\" (it has: \(names.joined(separator: ", ")))")
            }
            container = c
        } else if pod.containers.count == 1 {
            container = pod.containers[0].name
        } else if pod.containers.isEmpty {
            throw CtlFailure("pod \(pod.uid) is not in the local index: name the container with -c", exitCode: 2)
        } else {
            throw CtlFailure("pod \(pod.namespace)/\(pod.name) has several containers (\(pod.containers.map(\.name).joined(separator: ", "))): choose one with -c", exitCode: 2)
        }
        let request = LogStruct(Namespace: pod.namespace, PodUID: pod.uid, PodName: pod.name, ContainerName: container,
                                Opts: LogOpts(Tail: args.tail ?? 0, Timestamps: args.timestamps, Follow: args.follow))
        let body = try encode(request)
        if !args.follow {
            let response = try await connection.call(op: "GetLogs", method: "GET", path: "/getLogs", body: body)
            writeStdout(response.body)
            return
        }
        do {
            for try await chunk in try connection.stream(op: "GetLogs", method: "GET", path: "/getLogs", body: body) {
                writeStdout(chunk)
            }
        } catch let e as CtlFailure {
            throw e
        } catch let e as HTTPClientError {
            throw CtlConnection.failure(e)
        } catch {
            throw CtlFailure("\(error)")
        }
    }

    // MARK: delete

    func delete() async throws(CtlFailure) {
        var state = try CtlState.load(from: statePath)
        let pod = try lookup(args.positionals[0], in: state).pod
        _ = try await connection.call(op: "DeletePod", method: "DELETE", path: "/delete", body: try encode(pod))
        state.forget(uid: pod.uid)
        do { try state.save(to: statePath) } catch { writeStderr("warning: \(error.message)\n") }
        let label = pod.name.isEmpty ? pod.uid : "\(pod.namespace)/\(pod.name)"
        switch args.output {
        case .json:
            struct Deleted: Encodable { var namespace, name, uid: String; var deleted = true }
            try printJSON(Deleted(namespace: pod.namespace, name: pod.name, uid: pod.uid))
        case .table:
            writeStdout(Data("pod \(label) deleted\n".utf8))
        }
    }

    // MARK: ping

    func ping() async throws(CtlFailure) {
        let response = try await connection.call(op: "Ping", method: "POST", path: "/pinglink", body: nil)
        let text = String(decoding: response.body, as: UTF8.self).trimmed
        switch args.output {
        case .json:
            writeStdout(Data(((text.isEmpty ? "{}" : text) + "\n").utf8))
        case .table:
            var line = "interlink at \(connection.target) is up"
            if let ping = try? JSONDecoder().decode(PingResponse.self, from: response.body) {
                var parts: [String] = []
                if let s = ping.status, !s.isEmpty { parts.append("status \(s)") }
                if let r = ping.resources { parts.append("cpu \(r.cpu), memory \(r.memory), pods \(r.pods)") }
                if let t = ping.taints, !t.isEmpty { parts.append("taints " + t.map { "\($0.key)=\($0.value):\($0.effect)" }.joined(separator: ",")) }
                if !parts.isEmpty { line += ": " + parts.joined(separator: "; ") }
            } else if !text.isEmpty {
                line += ": " + CtlConnection.oneLine(text).prefix(200)
            }
            writeStdout(Data((line + "\n").utf8))
        }
    }

    // MARK: helpers

    /// A pod from the index by name (in `-n`) or UID; an unknown UID still
    /// works (as a bare pod), an unknown name cannot.
    private func lookup(_ nameOrUID: String, in state: CtlState) throws(CtlFailure) -> (pod: Pod, created: String?) {
        if let entry = state.find(nameOrUID, namespace: namespace) { return (entry.pod, entry.created) }
        if Validation.isUUID(nameOrUID) {
            return (Pod(metadata: ObjectMeta(name: nil, namespace: namespace, uid: nameOrUID)), nil)
        }
        throw CtlFailure("no pod \(namespace)/\(nameOrUID) in the local index \(statePath); give its UID instead")
    }

    private func encode<T: Encodable>(_ value: T) throws(CtlFailure) -> Data {
        do { return try WireJSON.encode(value) } catch { throw CtlFailure("cannot encode the request: \(error)") }
    }

    private func printJSON<T: Encodable>(_ value: T) throws(CtlFailure) {
        do { writeStdout(try WireJSON.encode(value, pretty: true) + Data("\n".utf8)) }
        catch { throw CtlFailure("cannot encode the answer: \(error)") }
    }
}
