import Model

/// `#SBATCH` options from the site configuration and the
/// `slurm-job.vk.io/flags` annotation, parsed into individual flags and checked.
///
/// Contract: `parse` splits the text on white space (single and double quotes
/// group words, without any expansion); a word that does not start with `-` is
/// the value of the option before it (`-p batch`, `--time 30`). Each flag must
/// look like a Slurm option (`--name[=value]` or `-x[value]`), contain no control
/// characters and no `"`. `admit` applies the site's policy to a pod's flags:
/// options InterLink owns (`owned`: job name, output files, working directory,
/// comment) are dropped with a note, the pod is not failed; any other option not
/// in the allow-list fails the pod with a sentence naming it. `merge` keeps one
/// flag per option: the pod's over the resources derived from its spec, and the
/// site's over the pod's unless the site lets pods override it.
/// Errors are `ProviderError.invalidPod` with one sentence.
enum SlurmFlags {
    /// One option: its canonical key (long name) and the text written after `#SBATCH`.
    struct Flag: Equatable, Sendable {
        var key: String
        var text: String

        /// Options Slurm treats as one: `--mem`, `--mem-per-cpu` and `--mem-per-gpu`
        /// are mutually exclusive, so a pod's `--mem-per-cpu` replaces a derived `--mem`.
        var group: String { key.hasPrefix("mem") && Self.memoryKeys.contains(key) ? "mem" : key }
        static let memoryKeys: Set<String> = ["mem", "mem-per-cpu", "mem-per-gpu"]
    }

    /// A pod's flags after the policy: what goes into the script, and what was
    /// ignored (for the pod's status message and a warning).
    struct Admitted: Equatable, Sendable {
        var flags: [Flag] = []
        var notes: [String] = []
    }

    /// Options InterLink sets itself, and why: a pod's value is ignored, not fatal.
    static let owned: [String: String] = [
        "job-name": "the job name carries the pod's identity",
        "comment": "the comment marks the job as InterLink's",
        "output": "the job's output is where InterLink reads it",
        "error": "the job's output is where InterLink reads it",
        "chdir": "the job runs in the pod's directory",
    ]

    /// Options refused whatever the allow-list says, with the reason. They would
    /// hand the job InterLink's environment or another user's identity, send it
    /// out of InterLink's sight, or change what sbatch itself does.
    static let forbidden: [String: String] = [
        "export": "it decides which environment reaches the job (InterLink passes --export itself) and can run code in the batch shell (BASH_ENV)",
        "export-file": "it decides which environment reaches the job",
        "get-user-env": "it decides which environment reaches the job",
        "clusters": "it would send the job to another cluster, out of InterLink's sight",
        "cluster-constraint": "it would send the job to another cluster, out of InterLink's sight",
        "uid": "it would run the job as another user",
        "gid": "it would run the job as another group",
        "wrap": "it replaces the job script",
        "parsable": "InterLink reads sbatch's answer itself",
        "test-only": "the job would never run",
        "array": "one pod is one job",
        "wait": "sbatch would block until the job ends",
        "input": "it reads a file of the node as the job's input",
    ]

    /// Short options that take a value, and their long names (so `-p x` overrides `--partition=y`).
    static let shortNames: [Character: String] = [
        "A": "account", "a": "array", "b": "begin", "C": "constraint", "c": "cpus-per-task",
        "D": "chdir", "d": "dependency", "e": "error", "F": "nodefile", "G": "gpus", "i": "input", "J": "job-name",
        "L": "licenses", "M": "clusters", "m": "distribution", "N": "nodes", "n": "ntasks",
        "o": "output", "p": "partition", "q": "qos", "S": "core-spec", "t": "time", "w": "nodelist", "x": "exclude",
    ]

    /// Short options without a value (named, so a refusal says what they are).
    static let shortSwitches: [Character: String] = [
        "H": "hold", "h": "help", "I": "immediate", "k": "no-kill", "O": "overcommit", "Q": "quiet",
        "s": "oversubscribe", "V": "version", "v": "verbose", "W": "wait",
    ]

    /// Long options that take no value, so the word after one is never its value.
    static let longSwitches: Set<String> = [
        "exclusive", "contiguous", "hold", "no-requeue", "requeue", "overcommit", "oversubscribe", "spread-job",
        "use-min-nodes", "parsable", "test-only", "get-user-env", "quiet", "verbose", "wait", "ignore-pbs",
        "no-kill", "reboot", "help", "usage", "version", "immediate",
    ]

    static func parse(_ text: String, source: String) throws(ProviderError) -> [Flag] {
        var words: [String] = []
        var current = "", inWord = false
        var quote: Character? = nil
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
                continue
            }
            if ch == "'" || ch == "\"" { quote = ch; inWord = true; continue }
            if ch.isNewline || ch.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw .invalidPod("\(source) must not contain a line break; give flags on one line separated by spaces")
            }
            if ch.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(ch); inWord = true
        }
        if quote != nil { throw .invalidPod("\(source) has an unterminated quote") }
        if inWord { words.append(current) }

        var flags: [Flag] = []
        var i = 0
        while i < words.count {
            var word = words[i]
            guard word.hasPrefix("-") else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (options start with - or --)")
            }
            let next = i + 1 < words.count && !words[i + 1].hasPrefix("-") ? words[i + 1] : nil
            if let value = next {
                // `-p batch`: a short option without attached value takes the next word.
                if !word.hasPrefix("--"), word.count == 2, let short = word.last, shortNames[short] != nil {
                    word += value; i += 1
                } else if word.hasPrefix("--"), !word.contains("="), !longSwitches.contains(String(word.dropFirst(2))) {
                    // `--time 30` is `--time=30` to sbatch.
                    word += "=" + value; i += 1
                }
            }
            flags.append(try check(word, source: source))
            i += 1
        }
        return flags
    }

    static func check(_ word: String, source: String) throws(ProviderError) -> Flag {
        if word.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .invalidPod("\(source): the flag \"\(word.prefix(80).debugDescription)\" contains a control character such as a line break")
        }
        if word.unicodeScalars.contains("\"") {
            throw .invalidPod("\(source): the flag \(word.prefix(80)) must not contain a double quote")
        }
        let key: String
        if word.hasPrefix("--") {
            let body = word.dropFirst(2)
            let name = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard let first = name.first, first.isLetter,
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (expected --name or --name=value)")
            }
            key = name
        } else {
            let chars = Array(word.dropFirst())
            guard let letter = chars.first, letter.isASCII, letter.isLetter else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (expected -x or --name=value)")
            }
            // Short options without a value can be clustered (`-vJname`): only a
            // value-taking short option may carry more characters.
            if shortNames[letter] == nil && chars.count > 1 {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" clusters several short options; give each one separately")
            }
            key = shortNames[letter] ?? shortSwitches[letter] ?? String(letter)
        }
        // Slurm reads `#SBATCH` words with its own quoting: a value with spaces is quoted for it.
        let text = word.contains(where: { $0.isWhitespace }) ? quoteValue(word) : word
        return Flag(key: key, text: text)
    }

    private static func quoteValue(_ word: String) -> String {
        guard let eq = word.firstIndex(of: "=") else { return "\"\(word)\"" }
        return "\(word[...eq])\"\(word[word.index(after: eq)...])\""
    }

    /// The policy for a pod's flags: owned options are noted and dropped, options
    /// outside `allowed` (long names) fail the pod.
    static func admit(_ flags: [Flag], source: String, allowed: Set<String>) throws(ProviderError) -> Admitted {
        var out = Admitted()
        for f in flags {
            if let why = owned[f.key] {
                out.notes.append("\(source): \(f.text) ignored, InterLink sets --\(f.key) itself (\(why))")
                continue
            }
            if let why = forbidden[f.key] {
                throw .invalidPod("\(source): the option --\(f.key) is not allowed: \(why)")
            }
            guard allowed.contains(f.key) else {
                // sbatch also takes abbreviations (`--exp`): name what it would have meant.
                let known = (Array(owned.keys) + Array(forbidden.keys) + Array(allowed)).sorted()
                if let full = known.first(where: { $0 != f.key && $0.hasPrefix(f.key) }) {
                    throw .invalidPod("\(source): the option --\(f.key) abbreviates --\(full); write options in full, and only those this site allows (SlurmAllowedFlags)")
                }
                throw .invalidPod("\(source): the option \(f.text.hasPrefix("--") ? "--\(f.key)" : "\(f.text.prefix(2)) (--\(f.key))") is not allowed by this site (SlurmAllowedFlags)")
            }
            out.flags.append(f)
        }
        return out
    }

    /// The site's own flags are trusted, except where they would take InterLink's options.
    static func admitSite(_ flags: [Flag]) -> Admitted {
        var out = Admitted()
        for f in flags {
            if owned[f.key] != nil || f.key == "export" {
                out.notes.append("config SlurmFlags: \(f.text) ignored, InterLink sets --\(f.key) itself")
            } else {
                out.flags.append(f)
            }
        }
        return out
    }

    /// One flag per option group. The pod's flags replace the resources derived
    /// from its spec; the site's replace the pod's unless `podOverridesSite`.
    /// A pod flag that loses to the site's is noted.
    static func merge(resources: [Flag], site: [Flag], pod: [Flag], podOverridesSite: Bool) -> Admitted {
        var notes: [String] = []
        let siteGroups = Set(site.map(\.group))
        var podKept = pod
        if !podOverridesSite {
            podKept = pod.filter { f in
                guard siteGroups.contains(f.group), let s = site.last(where: { $0.group == f.group }) else { return true }
                notes.append("annotation slurm-job.vk.io/flags: \(f.text) ignored, the site sets \(s.text) (SlurmFlags)")
                return false
            }
        }
        let lists = podOverridesSite ? [resources, site, podKept] : [resources, podKept, site]
        return Admitted(flags: lastPerGroup(lists.flatMap { $0 }), notes: notes)
    }

    /// Keeps the last flag of each group, in the order of their last occurrence.
    static func lastPerGroup(_ all: [Flag]) -> [Flag] {
        var lastIndex: [String: Int] = [:]
        for (i, f) in all.enumerated() { lastIndex[f.group] = i }
        return all.enumerated().filter { lastIndex[$0.element.group] == $0.offset }.map(\.element)
    }
}
