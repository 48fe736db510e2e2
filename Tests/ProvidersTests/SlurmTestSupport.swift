import Config
import FoundationEssentials
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// Shared builders for the Slurm tests.
enum SlurmFixtures {
    static func config(runtime: String, dataRoot: String = "/var/lib/interlink") -> InterLinkConfig {
        var c = InterLinkConfig()
        c.containerRuntime = runtime
        c.dataRootFolder = dataRoot
        c.instanceName = "il-test"
        c.imageRoot = "docker://"
        c.slurmFlags = ["--partition=batch", "--account=proj1"]
        c.commandPrefix = "module load apptainer"
        return c
    }

    /// A pod touching every feature the script renders.
    static func richPod() -> DesiredPod {
        var main = Container(name: "main", image: "busybox:1.36", command: ["sh", "-c"], args: ["echo $(GREETING) world"],
                             resources: ResourceRequirements(limits: ["cpu": "1500m", "memory": "256Mi", "nvidia.com/gpu": "1"]),
                             volumeMounts: [VolumeMount(name: "data", mountPath: "/data")])
        main.workingDir = "/data"
        // One of every probe and hook handler the supervisor renders.
        main.ports = [ContainerPort(name: "http", containerPort: 8080)]
        main.startupProbe = Probe(tcpSocket: TCPSocketAction(port: .string("http")), periodSeconds: 2, failureThreshold: 30)
        main.livenessProbe = Probe(exec: ExecAction(command: ["cat", "/data/alive"]), initialDelaySeconds: 5, timeoutSeconds: 2)
        main.readinessProbe = Probe(httpGet: HTTPGetAction(path: "/healthz", port: .int(8080),
                                                           httpHeaders: [HTTPHeader(name: "X-Probe", value: "it's $(ready)")]),
                                    successThreshold: 2)
        main.lifecycle = Lifecycle(postStart: LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo up > /data/alive"])),
                                   preStop: LifecycleHandler(sleep: SleepAction(seconds: 3)))
        var side = Container(name: "sidecar", image: "alpine", args: ["sleep", "1"],
                             resources: ResourceRequirements(requests: ["cpu": "250m", "memory": "64Mi"]))
        side.lifecycle = Lifecycle(preStop: LifecycleHandler(httpGet: HTTPGetAction(path: "/quit", port: .int(8443), scheme: "HTTPS")))
        let initC = Container(name: "fetch", image: "busybox:1.36", command: ["sh", "-c", "echo ready > /data/ready"],
                              volumeMounts: [VolumeMount(name: "data", mountPath: "/data")])
        var spec = PodSpec(containers: [main, side], initContainers: [initC], volumes: [Volume(name: "data", emptyDir: EmptyDirVolumeSource())])
        spec.activeDeadlineSeconds = 600
        let pod = Pod(metadata: ObjectMeta(name: "rich", namespace: "team-a", uid: "11111111-2222-3333-4444-555555555555",
                                           annotations: ["slurm-job.vk.io/flags": "-t 30 --job-name=test-pod-cfg --constraint=gpu"]), spec: spec)
        return DesiredPod(request: PodCreateRequests(pod: pod), attempt: 2)
    }

    static func richMounts(dataRoot: String = "/var/lib/interlink") -> MaterialisedPod {
        let dir = "\(dataRoot)/team-a-11111111-2222-3333-4444-555555555555/emptyDir/data"
        let m = Mount(hostPath: dir, containerPath: "/data", readOnly: false)
        return MaterialisedPod(mounts: ["main": [m], "fetch": [m]])
    }

    static let richEnv: [String: [(name: String, value: String)]] = [
        "main": [(name: "GREETING", value: "hello"), (name: "QUOTED", value: "it's \"here\"")],
        "sidecar": [],
        "fetch": [(name: "MODE", value: "init")],
    ]

    static func tempDir(_ tag: String) -> String {
        var template = Array("/tmp/il-slurm-\(tag)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    static func bash(_ args: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run("/bin/bash", args)
    }
}
