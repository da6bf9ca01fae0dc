import ArgumentParser
import Foundation
import ImageSet
import OCI
import Reconcile
import Registry
import Render
import Store

/// Options shared by `plan` and `apply`.
struct ManifestOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The image-set manifest ('-': standard input).", valueName: "images.yaml"))
    var file: String = "images.yaml"

    @Flag(help: "Plan from the store alone: no registry is asked; the plan lists the tags left unchecked.")
    var offline = false
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an image-set manifest; report every error with file:line:column.",
        discussion: "Touches neither the network nor the store. Exit 0 when valid, 1 otherwise.")
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The image-set manifest.", valueName: "images.yaml"))
    var file: String = "images.yaml"

    func run() throws {
        let set = try Planning.load(file)
        Out.print("\(file == "-" ? "<stdin>" : file): valid (\(set.desiredTags().count) tags in \(set.images.count) entries)")
    }
}

/// Loading a manifest for a command: diagnostics printed, then exit 1.
enum Planning {
    static func load(_ path: String) throws -> ImageSet {
        do { return try ImageSet.load(path: path) } catch let e as ImageSetError {
            for d in e.diagnostics { Out.error(d.description) }
            let n = e.diagnostics.count
            Out.error("\(n) error\(n == 1 ? "" : "s") in \(path == "-" ? "<stdin>" : path); nothing was changed.")
            throw Failure(status: 1)
        }
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change, without changing anything.",
        discussion: """
        Exit codes: 0 success; 1 error; with --detailed-exitcode, 2 when changes are pending.

        Examples:
          berth plan -f images.yaml
          berth plan -f images.yaml --output json --detailed-exitcode
          berth plan -f images.yaml -o plan.json && berth apply plan.json --yes
          berth plan -f images.yaml --locked
          berth plan -f images.yaml --lock oci://registry.example.com/locks/web:prod
        """)
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var manifest: ManifestOptions
    @OptionGroup var lockOptions: LockOptions
    @Option(name: .customLong("output"), help: "text or json.") var format: OutputFormat = .text
    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Save the plan (with the store fingerprint and exact digests) for 'berth apply FILE'.", valueName: "plan.json"))
    var out: String?
    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when changes are pending, 0 when none.") var detailedExitcode = false

    func run() throws {
        let set = try Planning.load(manifest.file)
        let lock = try lockOptions.load(manifest: manifest.file, registries: set.registries)
        let store = try storeOptions.open(.read, verb: "plan")
        let plan = try ConvergeSession(store: store).plan(set, registry: try RegistryAccess.client(registries: set.registries),
                                                          offline: manifest.offline, lock: lock)
        if let out {
            // terraform's rule: a plan that could not be made whole is not saved.
            if plan.hasFailedActions {
                Out.error("Error: the plan has \(plan.summary.failed) failed action\(plan.summary.failed == 1 ? "" : "s"); it was not saved to \(out). Fix them and plan again.")
            } else {
                do { try Durable.write(try Plan.encoder.encode(plan.sealed()), to: URL(fileURLWithPath: out)) } catch let e as StoreError {
                    throw CLIError("cannot save the plan to \(out): \(e)")
                }
            }
        }
        switch format {
        case .json: Out.print(String(decoding: try Plan.encoder.encode(plan.sealed()), as: UTF8.self))
        case .text: Out.write(PlanText.render(plan, color: Terminal.colorAllowed))
        }
        if plan.summary.failed > 0 { throw Failure(status: 1) }
        // Pending: changes to make, or (offline) pulls that could not be planned.
        if detailedExitcode && !plan.isConverged { throw Failure(status: 2) }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

/// Terraform-style plan text.
enum PlanText {
    static func render(_ plan: Plan, color: Bool) -> String {
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        let manifestName = (plan.manifest as NSString).lastPathComponent
        var out = ""
        if let lock = plan.inputs.lock {
            let name = plan.inputs.lockSource.map { $0.hasPrefix("oci://") ? $0 : ($0 as NSString).lastPathComponent } ?? "the lock"
            out += "Locked by \(name) (\(lock.prefix(19))): no tag was resolved.\n"
        }
        for w in plan.warnings { out += paint("Warning: ", "33") + w + "\n" }
        let changing = plan.actions.filter { $0.kind != .keep }
        if !changing.isEmpty {
            out += "berth will perform the following actions:\n\n"
            for a in changing { out += "  " + line(a, paint: paint) + "\n" }
            out += "\n"
        }
        if !plan.unchecked.isEmpty {
            out += "Not checked against a registry:\n"
            for u in plan.unchecked { out += "  \(familiar(u.reference)) (\(u.reason))\n" }
            out += "\n"
        }
        if !plan.skipped.isEmpty {
            out += "Not pulled:\n"
            for u in plan.skipped { out += "  \(familiar(u.reference)) (\(u.reason))\n" }
            out += "\n"
        }
        let s = plan.summary
        if plan.isConverged {
            out += "No changes. The store matches \(manifestName).\n"
            return out
        }
        var parts = ["\(s.pull) to pull", "\(s.update) to update"]
        if s.untag > 0 { parts.append("\(s.untag) to untag") }
        parts += ["\(s.remove) to remove", "\(s.prune) to prune"]
        out += "Plan: " + parts.joined(separator: ", ") + ". "
        out += "\(DockerUnits.humanSize(s.downloadBytes)) to download, \(DockerUnits.humanSize(s.reclaimBytes)) to reclaim."
        if s.failed > 0 { out += " " + paint("\(s.failed) failed.", "31") }
        if !plan.skipped.isEmpty { out += " \(plan.skipped.count) not pulled (offline): the store does not match \(manifestName) yet." }
        return out + "\n"
    }

    static func familiar(_ s: String) -> String { (try? Reference(parsing: s).familiarString) ?? s }
    static func short(_ d: Digest?) -> String { d.map { "\($0.algorithm.rawValue):\($0.short)" } ?? "(unresolved)" }

    static func line(_ a: Action, paint: (String, String) -> String) -> String {
        let ref = a.reference.map(familiar) ?? ""
        switch a.kind {
        case .pull:
            var s = paint("+ pull   ", "32") + " \(ref)  \(short(a.image))"
            if let p = a.platform { s += "  \(p)" }
            if let b = a.downloadBytes { s += "  \(DockerUnits.humanSize(b))" }
            if let r = a.reason { s += "  (\(r))" }
            return s
        case .update:
            var s = paint("~ update ", "33") + " \(ref)  \(short(a.oldImage)) -> \(short(a.image))"
            if let p = a.platform { s += "  \(p)" }
            if let b = a.downloadBytes { s += "  \(DockerUnits.humanSize(b))" }
            if let r = a.reason { s += "  (\(r))" }
            if let f = a.oldImageFate { s += "  (old image: \(fateText(f)))" }
            return s
        case .untag:
            return paint("- untag  ", "31") + " \(ref)  \(short(a.image))" + (a.reason.map { "  (\($0))" } ?? "")
        case .remove, .prune:
            let verb = a.kind == .remove ? "- remove " : "- prune  "
            var s = paint(verb, "31") + " \(short(a.imageID ?? a.image))"
            if let t = a.previousTags, !t.isEmpty { s += "  (was \(t.map(familiar).joined(separator: ", ")))" }
            if let b = a.reclaimBytes { s += "  \(DockerUnits.humanSize(b))" }
            if let r = a.reason { s += "  (\(r))" }
            return s
        case .protected:
            return paint("! protect", "36") + " \(short(a.imageID ?? a.image))" + (a.reference.map { " \(familiar($0))" } ?? "") + "  (\(a.reason ?? "protected"))"
        case .failed:
            return paint("x failed ", "31") + (ref.isEmpty ? "" : " \(ref)") + "  \(a.reason ?? "")"
        case .keep:
            return "  keep    \(ref)"
        }
    }

    static func fateText(_ f: Action.Fate) -> String {
        switch f {
        case .stillTagged: return "still tagged"
        case .keptForRollback: return "dangling, kept for rollback"
        case .pruned: return "dangling, pruned"
        case .dangling: return "dangling, kept"
        case .removed: return "removed"
        case .protected: return "dangling, protected"
        }
    }
}
