import Foundation
@testable import Model
import Testing

/// Inputs the fuzz targets in Fuzz/ found, kept as tests of the behaviour a
/// user sees. Each names the target and what it found.
@Suite("Fuzz regressions: Model")
struct ModelFuzzRegressionTests {
    static let uid = "11111111-2222-3333-4444-555555555555"

    static func pod(_ edit: (inout Container) -> Void, annotations: [String: String]? = nil) -> Pod {
        var c = Container(name: "c", image: "busybox")
        edit(&c)
        return Pod(metadata: ObjectMeta(name: "p", namespace: "ns", uid: uid, annotations: annotations), spec: PodSpec(containers: [c]))
    }

    /// slurm-script target: a NUL in workingDir (JSON "\u0000") reached the
    /// generated script, where bash silently drops it, so the job ran in another
    /// directory than asked; exec() would cut it short too. Now /create refuses it.
    @Test func aNULByteInAnythingThatBecomesAProcessArgumentIsRefused() throws {
        let json = #"{"metadata":{"name":"p","namespace":"ns","uid":"\#(Self.uid)"},"spec":{"containers":[{"name":"c","image":"busybox","workingDir":"\u0000"}]}}"#
        let decoded = try JSONDecoder().decode(Pod.self, from: Data(json.utf8))
        #expect(decoded.containers.first?.workingDir == "\0", "the NUL arrives in the decoded pod")
        #expect(Validation.problem(withSpecOf: decoded)?.contains("workingDir contains a control character") == true)

        let cases: [(String, Pod)] = [
            ("command", Self.pod { $0.command = ["sh\0-c"] }),
            ("args", Self.pod { $0.args = ["ok", "a\0b"] }),
            ("env X", Self.pod { $0.env = [EnvVar(name: "X", value: "v\0")] }),
            ("volumeMount v", Self.pod { $0.volumeMounts = [VolumeMount(name: "v", mountPath: "/d\0ata")] }),
        ]
        for (field, pod) in cases {
            #expect(Validation.problem(withSpecOf: pod) == "container c: \(field) contains a NUL byte, which no process argument or environment can carry")
        }
        let annotated = Self.pod({ _ in }, annotations: ["slurm-job.vk.io/pre-exec": "echo\0hi"])
        #expect(Validation.problem(withSpecOf: annotated) == "annotation slurm-job.vk.io/pre-exec contains a NUL byte")
    }

    @Test func ordinaryValuesWithoutNULStayAccepted() {
        let pod = Self.pod({
            $0.command = ["sh", "-c", "echo 'it''s' $(date) \\ \n"]
            $0.workingDir = "/work dir"
            $0.env = [EnvVar(name: "X", value: "ünï ✓")]
        }, annotations: ["slurm-job.vk.io/flags": "--time=30"])
        #expect(Validation.problem(withSpecOf: pod) == nil)
    }

    /// json-create / json-pods targets: a volume of a source InterLink does not
    /// model (`nfs`) lost that key when encoded, so a pod read back from the
    /// journal had a volume with no source and the failure no longer named it.
    @Test func anUnsupportedVolumeSourceSurvivesTheJournalRoundTrip() throws {
        let json = #"{"metadata":{"uid":"\#(Self.uid)"},"spec":{"containers":[{"name":"c","image":"i"}],"volumes":[{"name":"v","nfs":{"server":"x","path":"/"}},{"name":"w","configMap":{"name":"cm"}}]}}"#
        let pod = try JSONDecoder().decode(Pod.self, from: Data(json.utf8))
        #expect(pod.volumes.map(\.unsupportedType) == ["nfs", nil])
        let again = try JSONDecoder().decode(Pod.self, from: JSONEncoder().encode(pod))
        #expect(again == pod)
        #expect(again.volumes.first?.unsupportedType == "nfs")
        #expect(again.volumes.last?.configMap?.name == "cm")
    }
}
