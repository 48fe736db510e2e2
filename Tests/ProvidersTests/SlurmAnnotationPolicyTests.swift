import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// What a pod's Slurm annotations may ask for: the site's allow-lists decide,
/// InterLink's own options are kept, and nothing widens what the site allows.
@Suite struct SlurmAnnotationPolicyTests {
    static let source = "annotation slurm-job.vk.io/flags"

    func admit(_ text: String, allowed: [String] = InterLinkConfig.defaultSlurmAllowedFlags) throws -> SlurmFlags.Admitted {
        try SlurmFlags.admit(try SlurmFlags.parse(text, source: Self.source), source: Self.source, allowed: Set(allowed))
    }

    @Test func theDefaultAllowListAdmitsWhatPodsAlreadyAskFor() throws {
        let text = "-t 2800 --time=10 --mem=4G --mem-per-cpu=1G --mem-per-gpu=8G --cpus-per-task=4 -c 2 -n 4 --ntasks=2 "
            + "-N 1 --nodes=1-2 --ntasks-per-node=2 --gres=gpu:a100:2 --gpus=1 -G 1 --gpus-per-node=1 --gpus-per-task=1 "
            + "-C a100 --constraint=gpu&ib --exclusive --cpus-per-gpu=4 --tmp=10G --hint=nomultithread"
        let a = try admit(text)
        #expect(a.notes.isEmpty)
        #expect(a.flags.count == 23)
    }

    @Test(arguments: [
        ("--export=ALL,BASH_ENV=$(id)", "--export"),
        ("--export=NONE", "--export"),
        ("--export-file=/etc/shadow", "--export-file"),
        ("--get-user-env", "--get-user-env"),
        ("-M other", "--clusters"),
        ("--clusters=other", "--clusters"),
        ("--uid=0", "--uid"),
        ("--gid=0", "--gid"),
        ("--wrap=id", "--wrap"),
        ("-p gpu", "--partition"),
        ("--account=other", "--account"),
        ("--requeue", "--requeue"),
        ("--exp=ALL", "abbreviates --export"),
        ("--job-nam=stolen", "abbreviates --job-name"),
        ("-v", "--verbose"),
    ])
    func optionsOutsideTheAllowListFailThePodNamingTheOption(text: String, named: String) {
        #expect {
            _ = try admit(text)
        } throws: { error in
            guard case .invalidPod(let m) = error as? ProviderError else { return false }
            return m.hasPrefix(Self.source) && m.contains(named)
        }
    }

    @Test func optionsInterLinkOwnsAreIgnoredWithANoteEachNotFatal() throws {
        let a = try admit("--job-name=test-pod-cfg -J x --output=/tmp/o -o o --error=e -e e --chdir=/ -D / --comment=c -t 2800")
        #expect(a.flags.map(\.key) == ["time"])
        #expect(a.notes.count == 9)
        for (note, option) in zip(a.notes, ["job-name", "job-name", "output", "output", "error", "error", "chdir", "chdir", "comment"]) {
            #expect(note.contains("InterLink sets --\(option) itself"), "\(note)")
        }
    }

    @Test func theSiteCanWidenOrNarrowTheList() throws {
        #expect(try admit("-p gpu", allowed: ["partition"]).flags.map(\.text) == ["-pgpu"])
        #expect(throws: ProviderError.self) { _ = try admit("-t 10", allowed: ["partition"]) }
        // Even a site that lists --export cannot hand it to pods.
        #expect(throws: ProviderError.self) { _ = try admit("--export=ALL", allowed: ["export"]) }
    }

    @Test func theSitesOwnFlagsCannotTakeInterLinksOptionsEither() throws {
        let site = SlurmFlags.admitSite(try SlurmFlags.parse("--partition=batch --job-name=x --export=ALL", source: "config SlurmFlags"))
        #expect(site.flags.map(\.text) == ["--partition=batch"])
        #expect(site.notes.count == 2)
    }

    // MARK: singularity-options and singularity-mounts

    func policy(allowedMounts: [String] = [], dataRoot: String = "/var/lib/interlink") -> SingularityPolicy {
        SingularityPolicy(allowedOptions: Set(InterLinkConfig.defaultSingularityAllowedOptions),
                          allowedMounts: allowedMounts, dataRoot: dataRoot)
    }

    @Test func singularityOptionsPassTheAllowList() throws {
        #expect(try policy().options(["--nv", "--cleanenv", "--containall"]) == ["--nv", "--cleanenv", "--containall"])
        for bad in [["--bind", "/:/host"], ["-B", "/etc"], ["--overlay=/scratch/o.img"], ["docker://evil"], ["--add-caps=ALL"],
                    ["--allow-setuid"], ["--env-file=/etc/shadow"], ["--home=/etc"]] {
            #expect(throws: ProviderError.self, "\(bad)") { _ = try policy().options(bad) }
        }
    }

    @Test func singularityMountsOnlyFromDirectoriesTheSiteAllowsAndNeverTheDataRoot() throws {
        let p = policy(allowedMounts: ["/cvmfs", "/"])
        #expect(try policy(allowedMounts: ["/cvmfs"]).mounts(["--bind", "/cvmfs/atlas:/cvmfs/atlas:ro", "-B/cvmfs/x"])
                == ["--bind", "/cvmfs/atlas:/cvmfs/atlas:ro", "--bind", "/cvmfs/x"])
        let refused: [([String], String)] = [
            (["--bind", "/etc:/etc"], "SingularityAllowedMounts"),
            (["--bind", "/var/lib/interlink:/state"], "DataRootFolder"),
            (["--bind", "/var/lib/interlink/other-pod/secret:/s"], "DataRootFolder"),
            (["--bind", "/var:/v"], "DataRootFolder"),
            (["--bind", "/cvmfs/../var/lib/interlink:/x"], "without . or .."),
            (["--bind", "/cvmfs/a,/var/lib/interlink"], "DataRootFolder"),
            (["--bind", "relative:/x"], "absolute"),
            (["/cvmfs"], "not a bind"),
        ]
        for (words, why) in refused {
            #expect {
                _ = try policy(allowedMounts: ["/cvmfs"]).mounts(words)
            } throws: { error in "\(error)".contains(why) }
        }
        // A site that allows everything still never binds the data root.
        #expect(throws: ProviderError.self) { _ = try p.mounts(["--bind", "/var/lib/interlink/x:/x"]) }
        #expect(try p.mounts(["--bind", "/etc:/etc"]) == ["--bind", "/etc:/etc"])
    }

    @Test func aSymlinkUnderAnAllowedDirectoryCannotReachTheDataRoot() throws {
        let root = SlurmFixtures.tempDir("sing")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = "\(root)/data", scratch = "\(root)/scratch"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        #expect(symlink(data, "\(scratch)/state") == 0)
        let p = policy(allowedMounts: [scratch], dataRoot: data)
        #expect(throws: ProviderError.self) { _ = try p.mounts(["--bind", "\(scratch)/state:/s"]) }
        #expect(try p.mounts(["--bind", "\(scratch):/s"]) == ["--bind", "\(scratch):/s"])
    }

    @Test func singularityAnnotationsAreCheckedInTheRenderedScript() throws {
        var desired = SlurmFixtures.richPod()
        desired.request.pod.metadata.annotations?["slurm-job.vk.io/singularity-mounts"] = "--bind /var/lib/interlink:/state"
        #expect(throws: ProviderError.self) {
            _ = try SlurmScript.render(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                       config: SlurmFixtures.config(runtime: "apptainer"))
        }
        // Runtimes that do not read them ignore them, as upstream does.
        _ = try SlurmScript.render(pod: desired, mounts: SlurmFixtures.richMounts(), env: SlurmFixtures.richEnv,
                                   config: SlurmFixtures.config(runtime: "docker"))
    }
}
