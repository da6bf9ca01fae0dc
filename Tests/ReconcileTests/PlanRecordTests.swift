import Foundation
import ImageSet
import OCI
import Store
import Testing
@testable import Reconcile

/// Saved plans: they carry their inputs and their digest; a re-check re-derives them.
struct PlanRecordTests {
    static let start = Date(timeIntervalSince1970: 1_700_000_000.75)

    /// A store with a tag to update, an unlisted tag, a protected image and rollback history.
    static func scene() -> (input: PlanInput, observed: Observed) {
        let old = F.image("OLD", tags: ["a:1"], layers: ["base", "old"])
        let previous = F.image("PREV", tags: [], layers: ["prev"])
        let unlisted = F.image("X", tags: ["x:1"], layers: ["x"])
        let kept = F.image("K", tags: ["k:1"], layers: ["k"], labels: ["keep": "yes"])
        let ledger = [LedgerEntry(image: F.d("PREV"), imageID: F.d("cfg-PREV"), reference: "docker.io/library/a:1", movedTo: F.d("OLD"),
                                  at: Date(timeIntervalSince1970: 5), cause: "apply", run: nil)]
        let observed = Observed(images: [old, previous, unlisted, kept], ledger: ledger)
        let input = PlanInput(desired: [F.want("a:1"), F.want("b:1")],
                              policy: Policy(unlisted: .remove, dangling: .prune, keepPrevious: 2, protect: [.label(key: "keep", value: nil)]),
                              observed: observed,
                              resolutions: [F.ref("a:1"): F.remote("NEW", layers: ["base", "new"]), F.ref("b:1"): F.remote("B", layers: ["b"])],
                              manifestPath: "images.yaml", storeName: "test", now: start,
                              registries: ["docker.io": RegistrySettings(mirrors: ["mirror.example"])])
        return (input, observed)
    }

    static func saved(_ plan: Plan) throws -> Plan { try Plan.decodeSaved(try Plan.encoder.encode(plan)) }

    @Test func resolutionsRoundTrip() throws {
        let all: [Resolution] = [.upToDate(F.d("A")), F.remote("B", layers: ["l"]), .unchecked("offline"), .failed("refused")]
        for r in all {
            #expect(try JSONDecoder().decode(Resolution.self, from: try JSONEncoder().encode(r)) == r)
        }
        #expect(String(decoding: try JSONEncoder().encode(Resolution.unchecked("offline")), as: UTF8.self).contains(#""status":"unchecked""#))
    }

    @Test func planCarriesItsInputsAndSurvivesSaving() throws {
        let (input, observed) = Self.scene()
        let plan = Planner.plan(input).sealed()
        #expect(plan.formatVersion == 2)
        #expect(plan.inputs.desired.map(\.reference) == [F.ref("a:1"), F.ref("b:1")])
        #expect(plan.inputs.policy == input.policy && plan.inputs.resolutionsByReference == input.resolutions)
        #expect(plan.contentDigest?.hasPrefix("sha256:") == true)
        try plan.verifyIntegrity()
        let back = try Self.saved(plan)
        #expect(back.contentDigest == plan.contentDigest && back.inputs == plan.inputs)
        #expect(Planner.recheck(back, against: observed) == [])
        #expect(Planner.recheck(plan, against: observed) == [])
    }

    @Test func editedFileFailsItsIntegrity() throws {
        let plan = Planner.plan(Self.scene().input).sealed()
        let text = String(decoding: try Plan.encoder.encode(plan), as: UTF8.self)
        let edited = text.replacingOccurrences(of: #""untag" : 1"#, with: #""untag" : 0"#)
        #expect(edited != text)
        #expect {
            try Plan.decodeSaved(Data(edited.utf8))
        } throws: { error in
            guard case PlanFileError.contentDigestMismatch = error else { return false }
            return "\(error)".hasPrefix("the plan was modified after it was made")
        }
        var unsealed = plan
        unsealed.contentDigest = nil
        #expect(throws: PlanFileError.unsealed) { try unsealed.verifyIntegrity() }
    }

    @Test func anOldFormatIsRefusedByVersion() {
        #expect(throws: PlanFileError.unsupportedFormat(found: 1, reads: 2)) {
            try Plan.decodeSaved(Data(#"{"formatVersion": 1, "actions": []}"#.utf8))
        }
        #expect(throws: PlanFileError.self) { try Plan.decodeSaved(Data("[]".utf8)) }
    }

    /// `edit` applied to a fresh plan, resealed (so only the re-check can tell).
    static func tampered(_ edit: (inout Plan) -> Void) -> (Plan, Observed) {
        let (input, observed) = scene()
        var plan = Planner.plan(input)
        edit(&plan)
        plan.seal()
        return (plan, observed)
    }

    @Test func recheckCatchesAnEditedPullDigest() {
        let (plan, observed) = Self.tampered { p in
            let i = p.actions.firstIndex { $0.kind == .pull }!
            p.actions[i].pullDigest = F.d("EVIL")
        }
        #expect(Planner.recheck(plan, against: observed)
                == ["pull docker.io/library/b:1: pullDigest is \(F.d("EVIL")) in the plan, \(F.d("B")) now"])
    }

    @Test func recheckCatchesAnEditedImage() {
        let (plan, observed) = Self.tampered { p in
            let i = p.actions.firstIndex { $0.kind == .update }!
            p.actions[i].image = F.d("EVIL")
        }
        #expect(Planner.recheck(plan, against: observed)
                == ["update docker.io/library/a:1: image is \(F.d("EVIL")) in the plan, \(F.d("NEW")) now"])
    }

    @Test func recheckCatchesAnEditedSummary() {
        let (plan, observed) = Self.tampered { p in p.summary.downloadBytes = 1 }
        #expect(Planner.recheck(plan, against: observed) == ["summary: downloadBytes is 1 in the plan, \(Planner.plan(Self.scene().input).summary.downloadBytes) now"])
    }

    @Test func recheckCatchesAnInjectedUntagOfAProtectedImage() {
        let (plan, observed) = Self.tampered { p in
            p.actions.append(Action(kind: .untag, reference: F.ref("k:1").description, image: F.d("K"), imageID: F.d("cfg-K")))
            p.actions.sort(by: Action.sortKey)
        }
        #expect(Planner.recheck(plan, against: observed) == ["the plan would untag docker.io/library/k:1, which the planner does not plan now"])
    }

    @Test func recheckCatchesAPruneOfARollbackImage() {
        let (plan, observed) = Self.tampered { p in
            p.actions.append(Action(kind: .prune, image: F.d("PREV"), imageID: F.d("cfg-PREV"), previousTags: ["docker.io/library/a:1"], reclaimBytes: 115))
            p.summary.prune += 1
        }
        let lines = Planner.recheck(plan, against: observed)
        #expect(lines == ["the plan would prune sha256:\(F.d("PREV").short), which the planner does not plan now",
                          "summary: prune is 1 in the plan, 0 now"])
    }

    @Test func recheckCatchesARemovedAction() {
        let (plan, observed) = Self.tampered { p in p.actions.removeAll { $0.kind == .remove } }
        #expect(Planner.recheck(plan, against: observed) == ["the planner would now remove sha256:\(F.d("X").short), which the plan does not"])
    }

    @Test func recheckCatchesAStaleStore() {
        let (input, observed) = Self.scene()
        let plan = Planner.plan(input).sealed()
        var now = observed
        now.images.removeAll { $0.digest == F.d("X") }
        now.images.append(F.image("Y", tags: ["y:1"], layers: []))
        let lines = Planner.recheck(plan, against: now)
        #expect(lines.first == "the store changed since the plan: docker.io/library/x:1 is gone; docker.io/library/y:1 appeared (\(F.d("Y").description.prefix(19))…)")
        #expect(lines.contains("the plan would remove sha256:\(F.d("X").short), which the planner does not plan now"))
        #expect(lines.contains("the planner would now untag docker.io/library/y:1, which the plan does not"))
    }

    @Test func recheckCatchesDamageSinceThePlan() {
        let observed = Self.scene().observed
        let plan = Planner.plan(PlanInput(desired: [F.want("a:1")], policy: Policy(), observed: observed,
                                          resolutions: [F.ref("a:1"): .upToDate(F.d("OLD"))], manifestPath: "images.yaml", storeName: "test"))
        #expect(!plan.hasChanges)
        var now = observed
        now.images[0].damagedBlobs = [F.d("old")]
        #expect(Planner.recheck(plan, against: now).contains("the planner would now pull docker.io/library/a:1 (1 blob missing or damaged in the store), which the plan does not"))
    }

    /// Every field the plan writes is in schema/plan.schema.json (python3's jsonschema, which
    /// scripts/install-deps.sh installs; the test fails without it).
    @Test func savedPlanMatchesItsSchema() throws {
        var withEverything = Self.scene().input
        withEverything.desired.append(F.want("offline:1"))
        withEverything.resolutions[F.ref("offline:1")] = .unchecked("offline")
        withEverything.desired.append(F.want("down:1"))
        withEverything.resolutions[F.ref("down:1")] = .failed("connection refused")
        withEverything.observed.images[0].platform = F.amd64
        withEverything.resolutions[F.ref("b:1")] = IdentityTests.remote("B", layers: ["b"], config: Platform(os: "linux", architecture: "arm", variant: "v7"))
        var chosen = F.want("win:1.4.7")
        chosen.selectedBy = "semver ^1.4.0, newest 1"
        withEverything.desired.append(chosen)
        withEverything.resolutions[chosen.reference] = .unchecked("offline")
        withEverything.windows = [WindowRecord(repository: F.ref("win:1.4.7").repository, selection: TagSelection(semver: "^1.4.0", regex: "^1", newest: 1),
                                               selected: ["1.4.7"], checked: false, reason: "offline")]
        withEverything.policy.maxBytes = 1 << 40
        let plan = Planner.plan(withEverything).sealed()
        #expect(!plan.skipped.isEmpty && plan.hasFailedActions && !plan.warnings.isEmpty)
        #expect(plan.inputs.windows?.count == 1 && plan.inputs.policy.maxBytes != nil)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = """
        import json, sys, jsonschema
        jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])), format_checker=jsonschema.FormatChecker())
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, root.appendingPathComponent("schema/plan.schema.json").path]
        let stdin = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(try Plan.encoder.encode(plan))
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(errors.suffix(1500))")
    }

    @Test func failedActionsAreFlagged() {
        let p = F.plan([F.want("a:1")], [], ["a:1": .failed("connection refused")])
        #expect(p.hasFailedActions)
        #expect(!Planner.plan(Self.scene().input).hasFailedActions)
    }
}
