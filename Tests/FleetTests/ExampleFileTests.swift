import Foundation
import Testing
import TestSupport

/// The deployment examples stay valid: their YAML parses (PyYAML as the independent parser),
/// their systemd units are well formed, their manifests pass `berth validate`, and every berth
/// command line in them names a subcommand and flags that the built CLI's `--help` lists.
@Suite struct ExampleFileTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    static func path(_ relative: String) -> String { examples.appendingPathComponent(relative).path }

    static let yamlFiles = ["fleet/ci-lock.yml", "fleet/daemonset-locked.yaml", "fleet/prometheus-rules.yml", "fleet/images.yaml",
                            "ci/github-actions.yml", "kubernetes/daemonset.yaml", "kubernetes/configmap.yaml"]
    static let units = ["fleet/berth-locked.service", "fleet/berth-locked.timer",
                        "systemd/berth.service", "systemd/berth.timer", "systemd/berth-converge.service"]

    /// Every YAML document of `file` as JSON, parsed by PyYAML (`safe_load_all`).
    static func yamlDocuments(_ file: String) throws -> [Any] {
        let script = "import json,sys,yaml\nprint(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"
        let r = try Shell.run(path: "/usr/bin/python3", ["-c", script, path(file)], check: false)
        guard r.status == 0 else { throw TestBedError("\(file) is not valid YAML: \(r.stderrText)") }
        return try JSONSerialization.jsonObject(with: r.stdout) as? [Any] ?? []
    }

    @Test(arguments: yamlFiles) func yamlParses(_ file: String) throws {
        let docs = try Self.yamlDocuments(file)
        #expect(!docs.isEmpty, "\(file) holds no document")
    }

    /// `[Section]` headers, `Key=Value` lines, comments and blank lines only, with the keys a unit needs.
    @Test(arguments: units) func systemdUnitIsWellFormed(_ file: String) throws {
        let text = try String(contentsOfFile: Self.path(file), encoding: .utf8)
        var sections: [String: [String: String]] = [:], current: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { current = String(line.dropFirst().dropLast()); sections[current!] = [:]; continue }
            guard let current, let eq = line.firstIndex(of: "=") else {
                Issue.record("\(file):\(n + 1): not a section header or Key=Value: \(line)")
                continue
            }
            sections[current]![String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        #expect(sections["Unit"]?["Description"] != nil, "\(file): [Unit] Description")
        if file.hasSuffix(".service") { #expect(sections["Service"]?["ExecStart"]?.contains("berth ") == true, "\(file): ExecStart") }
        if file.hasSuffix(".timer") {
            #expect(sections["Timer"]?["RandomizedDelaySec"] != nil, "\(file): RandomizedDelaySec")
            #expect(sections["Install"]?["WantedBy"] == "timers.target")
        }
    }

    @Test(arguments: ["fleet/images.yaml"]) func manifestValidates(_ file: String) throws {
        let r = try Berth.run(["validate", "-f", Self.path(file)])
        #expect(r.status == 0, "\(r.stdoutText)\(r.stderrText)")
    }

    /// The berth command lines of every example: systemd `ExecStart=`, workflow `run:` lines,
    /// container `args`, crontab entries.
    static func commandLines() throws -> [(file: String, argv: [String])] {
        var out: [(String, [String])] = []
        for file in units where file.hasSuffix(".service") {
            for line in try String(contentsOfFile: path(file), encoding: .utf8).split(separator: "\n") where line.hasPrefix("ExecStart=") {
                out.append((file, berthArguments(inShellLine: String(line.dropFirst("ExecStart=".count)))))
            }
        }
        for file in ["fleet/ci-lock.yml", "ci/github-actions.yml"] {
            for doc in try yamlDocuments(file) {
                for script in strings(under: "run", in: doc) {
                    for line in script.split(separator: "\n") {
                        let argv = berthArguments(inShellLine: String(line))
                        if !argv.isEmpty { out.append((file, argv)) }
                    }
                }
            }
        }
        for file in ["fleet/daemonset-locked.yaml", "kubernetes/daemonset.yaml"] {
            for doc in try yamlDocuments(file) {
                for args in arrays(under: "args", in: doc) { out.append((file, args.compactMap { $0 as? String })) }
            }
        }
        for line in try String(contentsOfFile: path("cron/berth.crontab"), encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let argv = berthArguments(inShellLine: String(line))
            if !argv.isEmpty { out.append(("cron/berth.crontab", argv)) }
        }
        return out
    }

    /// The words after `berth` (or `/usr/local/bin/berth`) up to the first shell operator; quotes removed.
    /// (`chmod +x /usr/local/bin/berth` has no words after it, so it yields nothing.)
    static func berthArguments(inShellLine line: String) -> [String] {
        var words: [String] = [], word = "", quote: Character?
        for c in line {
            if let q = quote { if c == q { quote = nil } else { word.append(c) }; continue }
            if c == "\"" || c == "'" { quote = c; continue }
            if c == " " || c == "\t" { if !word.isEmpty { words.append(word); word = "" }; continue }
            word.append(c)
        }
        if !word.isEmpty { words.append(word) }
        // The program word: `berth` or a path to it, not the value of an option (`curl -o /usr/local/bin/berth`).
        guard let start = words.indices.first(where: { i in
            (words[i] == "berth" || words[i].hasSuffix("/berth")) && (i == 0 || !words[i - 1].hasPrefix("-"))
        }) else { return [] }
        let operators: Set<String> = ["|", "||", "&&", ";", ">", ">>", "2>&1", "<"]
        return Array(words[(start + 1)...].prefix { !operators.contains($0) && !$0.hasPrefix(">") })
    }

    static func strings(under key: String, in node: Any) -> [String] {
        if let d = node as? [String: Any] {
            return d.flatMap { k, v in (k == key ? [v as? String].compactMap { $0 } : []) + strings(under: key, in: v) }
        }
        if let a = node as? [Any] { return a.flatMap { strings(under: key, in: $0) } }
        return []
    }

    static func arrays(under key: String, in node: Any) -> [[Any]] {
        if let d = node as? [String: Any] {
            return d.flatMap { k, v in (k == key ? [v as? [Any]].compactMap { $0 } : []) + arrays(under: key, in: v) }
        }
        if let a = node as? [Any] { return a.flatMap { arrays(under: key, in: $0) } }
        return []
    }

    /// The subcommand path of `argv` (leading words that are not flags), and its flags (`--name`, `-x`).
    static func split(_ argv: [String]) -> (command: [String], flags: [String]) {
        let command = Array(argv.prefix { !$0.hasPrefix("-") }.prefix(2))
        let flags = argv.filter { $0.hasPrefix("-") && $0 != "-" }.map { String($0.split(separator: "=", maxSplits: 1)[0]) }
        return (command, flags)
    }

    @Test func theExamplesHoldBerthCommandLines() throws {
        let lines = try Self.commandLines()
        let files = Set(lines.map(\.file))
        for file in ["fleet/ci-lock.yml", "fleet/berth-locked.service", "fleet/daemonset-locked.yaml", "systemd/berth.service",
                     "kubernetes/daemonset.yaml", "ci/github-actions.yml"] {
            #expect(files.contains(file), "no berth command line found in \(file)")
        }
        #expect(lines.contains { $0.argv.starts(with: ["lock"]) && $0.argv.contains("--push") }, "ci-lock.yml runs berth lock --push")
        #expect(lines.contains { $0.file == "fleet/berth-locked.service" && $0.argv.contains { $0.hasPrefix("--lock") } })
    }

    @Test func everyBerthCommandLineUsesRealFlags() throws {
        var help: [String: String] = [:]
        for (file, argv) in try Self.commandLines() {
            var (command, flags) = Self.split(argv)
            // A second word is a nested subcommand only if `berth FIRST --help` lists it.
            let key = command.joined(separator: " ")
            if help[key] == nil {
                let r = try Berth.run(command + ["--help"])
                help[key] = r.status == 0 ? r.stdoutText : nil
                if r.status != 0, command.count == 2 {
                    command = [command[0]]
                    help[key] = try Berth.run(command + ["--help"]).stdoutText
                }
            }
            guard let text = help[key], !command.isEmpty else {
                Issue.record("\(file): 'berth \(argv.joined(separator: " "))' names no subcommand that --help knows")
                continue
            }
            // An unknown subcommand's --help prints the root help: the usage line names the command asked for.
            let used = command.joined(separator: " ")
            guard text.contains("USAGE: berth \(used) ") || text.contains("USAGE: berth \(used)\n") else {
                Issue.record("\(file): 'berth \(argv.joined(separator: " "))': berth has no subcommand '\(used)'")
                continue
            }
            for flag in flags where flag != "--help" {
                let listed = text.contains(" \(flag) ") || text.contains(" \(flag),") || text.contains(" \(flag)\n")
                    || text.contains("\(flag) <") || text.contains(", \(flag)")
                #expect(listed, "\(file): 'berth \(key)' has no flag \(flag) (berth \(key) --help)")
            }
        }
    }
}
