import Foundation
import ImageSet
import OCI
import Store
import Testing
@testable import Reconcile

/// Windows (tags chosen from the registry's list) and the byte budget in the planner.
struct WindowPlannerTests {
    static let repo = try! Reference(parsing: "r.io/team/app")
    static let selection = TagSelection(semver: ">=1.4.0 <2.0.0", newest: 2)
    static let window = TagWindow(repository: repo, selection: selection, platform: F.amd64, immutable: [],
                                  location: SourceLocation(file: "images.yaml", line: 3, column: 5))

    static func plan(_ images: [ObservedImage], selected: [String], checked: Bool = true, policy: Policy = Policy(),
                     res: [String: Resolution] = [:], ledger: [LedgerEntry] = [], literal: [DesiredTag] = []) -> Plan {
        let record = WindowRecord(repository: repo, selection: selection, selected: selected, checked: checked, listed: 9,
                                  reason: checked ? nil : "offline")
        let desired = literal.adding(windows: [record], from: [window])
        return Planner.plan(PlanInput(desired: desired, policy: policy, observed: Observed(images: images, ledger: ledger),
                                      resolutions: Dictionary(uniqueKeysWithValues: res.map { (F.ref($0.key), $0.value) }),
                                      manifestPath: "images.yaml", storeName: "test", now: Date(timeIntervalSince1970: 0),
                                      windows: [record]))
    }

    @Test func selectedTagsArePulledWithTheWindowAsReason() {
        let p = Self.plan([], selected: ["1.4.7", "1.4.6"],
                          res: ["r.io/team/app:1.4.7": F.remote("A7", layers: ["a"]), "r.io/team/app:1.4.6": F.remote("A6", layers: ["a"])])
        #expect(F.kinds(p) == ["pull r.io/team/app:1.4.6", "pull r.io/team/app:1.4.7"])
        #expect(p.actions.allSatisfy { $0.reason == "selected: semver >=1.4.0 <2.0.0, newest 2" })
        #expect(p.inputs.desired.allSatisfy { $0.selectedBy == "semver >=1.4.0 <2.0.0, newest 2" })
        #expect(p.inputs.windows?.first?.selected == ["1.4.7", "1.4.6"])
    }

    @Test(arguments: [
        (Policy.Unlisted.keep, ["pull r.io/team/app:1.4.8", "untag r.io/team/app:1.4.6", "remove \(F.d("A6").short)"]),
        (.remove, ["pull r.io/team/app:1.4.8", "untag r.io/team/app:1.4.6", "remove \(F.d("A6").short)"]),
        (.untag, ["pull r.io/team/app:1.4.8", "untag r.io/team/app:1.4.6"]),
    ])
    func theWindowMovesAndTheOldTagFallsOut(_ unlisted: Policy.Unlisted, _ expected: [String]) {
        let images = [F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]), F.image("A6", tags: ["r.io/team/app:1.4.6"], layers: ["a", "6"]),
                      F.image("L", tags: ["r.io/team/app:latest", "r.io/team/app:2.0.0"], layers: ["l"])]
        let p = Self.plan(images, selected: ["1.4.8", "1.4.7"], policy: Policy(unlisted: unlisted),
                          res: ["r.io/team/app:1.4.8": F.remote("A8", layers: ["a"]), "r.io/team/app:1.4.7": .upToDate(F.d("A7"))])
        // latest and 2.0.0 are outside the window's filters: only the policy touches them.
        let expectedAll = unlisted == .keep ? expected : expected.flatMap { line in
            line == "untag r.io/team/app:1.4.6" ? ["untag r.io/team/app:1.4.6", "untag r.io/team/app:2.0.0", "untag r.io/team/app:latest"] : [line]
        } + (unlisted == .remove ? ["remove \(F.d("L").short)"] : [])
        #expect(F.kinds(p).sorted() == (expectedAll + ["keep r.io/team/app:1.4.7"]).sorted())
        #expect(p.actions.first { $0.reference == "r.io/team/app:1.4.6" }?.reason == "fell out of the window: semver >=1.4.0 <2.0.0, newest 2")
    }

    @Test func keepPreviousKeepsTheLastImageThatFellOut() {
        let images = [F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]), F.image("A6", tags: ["r.io/team/app:1.4.6"], layers: ["a", "6"]),
                      F.image("A5", tags: ["r.io/team/app:1.4.5"], layers: ["a", "5"])]
        let p = Self.plan(images, selected: ["1.4.8", "1.4.7"], policy: Policy(dangling: .prune, keepPrevious: 1),
                          res: ["r.io/team/app:1.4.8": F.remote("A8", layers: ["a"]), "r.io/team/app:1.4.7": .upToDate(F.d("A7"))])
        #expect(F.kinds(p).sorted() == ["keep r.io/team/app:1.4.7", "pull r.io/team/app:1.4.8", "remove \(F.d("A5").short)",
                                        "untag r.io/team/app:1.4.5", "untag r.io/team/app:1.4.6"])
    }

    @Test func theRollbackImageOfAWindowOutlivesThePlanThatDroppedIt() {
        // 1.4.6 fell out in an earlier run: its image is dangling, the ledger names the tag.
        let images = [F.image("A8", tags: ["r.io/team/app:1.4.8"], layers: ["a"]), F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]),
                      F.image("A6", tags: [], layers: ["a", "6"]), F.image("A5", tags: [], layers: ["a", "5"])]
        let ledger = [LedgerEntry(image: F.d("A6"), imageID: F.d("cfg-A6"), reference: "r.io/team/app:1.4.6", movedTo: nil,
                                  at: Date(timeIntervalSince1970: 50), cause: "apply", run: nil),
                      LedgerEntry(image: F.d("A5"), imageID: F.d("cfg-A5"), reference: "r.io/team/app:1.4.5", movedTo: nil,
                                  at: Date(timeIntervalSince1970: 40), cause: "apply", run: nil)]
        let p = Self.plan(images, selected: ["1.4.8", "1.4.7"], policy: Policy(dangling: .prune, keepPrevious: 1),
                          res: ["r.io/team/app:1.4.8": .upToDate(F.d("A8")), "r.io/team/app:1.4.7": .upToDate(F.d("A7"))], ledger: ledger)
        #expect(F.kinds(p).sorted() == ["keep r.io/team/app:1.4.7", "keep r.io/team/app:1.4.8", "prune \(F.d("A5").short)"])
    }

    @Test func onAStoreThatDeletesWithTheLastTagAFallenImageIsRemovedNotKept() {
        let images = [F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]), F.image("A6", tags: ["r.io/team/app:1.4.6"], layers: ["a", "6"])]
        let record = WindowRecord(repository: Self.repo, selection: Self.selection, selected: ["1.4.8", "1.4.7"], checked: true)
        let desired = [DesiredTag]().adding(windows: [record], from: [Self.window])
        let p = Planner.plan(PlanInput(desired: desired, policy: Policy(keepPrevious: 1), observed: Observed(images: images),
                                       resolutions: [F.ref("r.io/team/app:1.4.8"): F.remote("A8", layers: ["a"]),
                                                     F.ref("r.io/team/app:1.4.7"): .upToDate(F.d("A7"))],
                                       manifestPath: "images.yaml", storeName: "engine", untagDeletesLastImage: true, windows: [record]))
        #expect(F.kinds(p).sorted() == ["keep r.io/team/app:1.4.7", "pull r.io/team/app:1.4.8", "remove \(F.d("A6").short)", "untag r.io/team/app:1.4.6"])
    }

    @Test func anUncheckedWindowKeepsWhatIsPresent() {
        let images = [F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]), F.image("A6", tags: ["r.io/team/app:1.4.6"], layers: ["a", "6"])]
        let record = WindowResolver.unchecked(Self.window, observed: Observed(images: images), reason: "offline")
        #expect(record.selected == ["1.4.6", "1.4.7"] && !record.checked)
        let p = Self.plan(images, selected: record.selected, checked: false, policy: Policy(unlisted: .remove),
                          res: ["r.io/team/app:1.4.7": .unchecked("offline"), "r.io/team/app:1.4.6": .unchecked("offline")])
        #expect(!p.hasChanges)
        #expect(p.unchecked.contains { $0.reference == "r.io/team/app" && $0.reason.contains("not checked (offline)") })
        #expect(p.unchecked.count == 3)
    }

    @Test func aSavedPlanWithAWindowRederivesTheSame() throws {
        let images = [F.image("A7", tags: ["r.io/team/app:1.4.7"], layers: ["a"]), F.image("A6", tags: ["r.io/team/app:1.4.6"], layers: ["a", "6"])]
        let p = Self.plan(images, selected: ["1.4.8", "1.4.7"],
                          res: ["r.io/team/app:1.4.8": F.remote("A8", layers: ["a"]), "r.io/team/app:1.4.7": .upToDate(F.d("A7"))])
        let saved = try Plan.decodeSaved(try Plan.encoder.encode(p.sealed()))
        #expect(Planner.recheck(saved, against: Observed(images: images)) == [])
        // A recorded window that no longer drops 1.4.6 is a different plan.
        var edited = saved
        edited.inputs.windows![0].selected = ["1.4.8", "1.4.7", "1.4.6"]
        #expect(!Planner.recheck(edited, against: Observed(images: images)).isEmpty)
    }

    // MARK: Budget

    static func sized(_ name: String, tags: [String], bytes: Int64, created: TimeInterval, labels: [String: String] = [:]) -> ObservedImage {
        ObservedImage(digest: F.d(name), id: F.d("cfg-" + name), tags: tags.map(F.ref), repoDigests: [], labels: labels,
                      created: Date(timeIntervalSince1970: created), blobs: [BlobRef(digest: F.d("layer-" + name), size: bytes)])
    }



    @Test func overBudgetPrunesOldestDanglingFirstThenUnlisted() {
        let images = [
            Self.sized("WANT", tags: ["a:1"], bytes: 10 * GB, created: 10),
            Self.sized("OLD-UNLISTED", tags: ["x:1"], bytes: 4 * GB, created: 1),
            Self.sized("DANGLING-NEW", tags: [], bytes: 3 * GB, created: 30),
            Self.sized("DANGLING-OLD", tags: [], bytes: 3 * GB, created: 20),
            Self.sized("KEEP", tags: [], bytes: 5 * GB, created: 0, labels: ["keep": "1"]),
        ]
        // 25 GB in the store; budget 18 GB: both dangling go (oldest first), then the unlisted one.
        let p = F.plan([F.want("a:1")], images, ["a:1": .upToDate(F.d("WANT"))],
                       policy: Policy(protect: [.label(key: "keep", value: nil)], maxBytes: 18 * GB))
        #expect(F.kinds(p).sorted() == ["keep docker.io/library/a:1", "prune \(F.d("DANGLING-NEW").short)", "prune \(F.d("DANGLING-OLD").short)",
                                        "remove \(F.d("OLD-UNLISTED").short)", "untag docker.io/library/x:1"].sorted())
        let reasons = Dictionary(uniqueKeysWithValues: p.actions.filter { $0.kind == .prune || $0.kind == .remove }
            .compactMap { a in a.image.map { ($0, a.reason ?? "") } })
        #expect(reasons[F.d("DANGLING-OLD")] == "over budget: 25GB > 18GB, oldest")
        #expect(reasons[F.d("DANGLING-NEW")] == "over budget: 22GB > 18GB, oldest")
        #expect(reasons[F.d("OLD-UNLISTED")] == "over budget: 19GB > 18GB, unlisted, oldest")
        #expect(p.summary.reclaimBytes == 10 * GB)
    }

    @Test func withinBudgetNothingMore() {
        let images = [Self.sized("WANT", tags: ["a:1"], bytes: 10 * GB, created: 10), Self.sized("D", tags: [], bytes: 1 * GB, created: 0)]
        let p = F.plan([F.want("a:1")], images, ["a:1": .upToDate(F.d("WANT"))], policy: Policy(maxBytes: 20 * GB))
        #expect(!p.hasChanges)
    }

    @Test func ledgerTimeIsWhenAnImageWasLastWanted() {
        // Created long ago but lost its tag recently: younger than a dangling image created later.
        let images = [Self.sized("WANT", tags: ["a:1"], bytes: 1 * GB, created: 0),
                      Self.sized("RECENT", tags: [], bytes: 2 * GB, created: 1), Self.sized("STALE", tags: [], bytes: 2 * GB, created: 50)]
        let ledger = [LedgerEntry(image: F.d("RECENT"), imageID: F.d("cfg-RECENT"), reference: "docker.io/library/a:0", movedTo: F.d("WANT"),
                                  at: Date(timeIntervalSince1970: 100), cause: "apply", run: nil)]
        let p = F.plan([F.want("a:1")], images, ["a:1": .upToDate(F.d("WANT"))], policy: Policy(maxBytes: 3 * GB), ledger: ledger)
        #expect(F.kinds(p).sorted() == ["keep docker.io/library/a:1", "prune \(F.d("STALE").short)"])
    }

    @Test func rollbackImagesGoLast() {
        let images = [Self.sized("NEW", tags: [], bytes: 1 * GB, created: 90), Self.sized("OLD", tags: ["a:1"], bytes: 2 * GB, created: 10),
                      Self.sized("D", tags: [], bytes: 2 * GB, created: 80)]
        // a:1 moves to NEW (present, dangling); OLD is kept for rollback, but the budget needs room.
        let res: [String: Resolution] = ["a:1": .remote(RemoteImage(pullDigest: F.d("NEW"), manifest: F.d("NEW"), id: F.d("cfg-NEW"),
                                                                    platform: "linux/amd64", blobs: [BlobRef(digest: F.d("layer-NEW"), size: GB)]))]
        let p1 = F.plan([F.want("a:1")], images, res, policy: Policy(keepPrevious: 1, maxBytes: 3 * GB))
        #expect(F.kinds(p1) == ["update docker.io/library/a:1", "prune \(F.d("D").short)"])
        let p2 = F.plan([F.want("a:1")], images, res, policy: Policy(keepPrevious: 1, maxBytes: 1 * GB))
        #expect(F.kinds(p2).sorted() == ["update docker.io/library/a:1", "prune \(F.d("D").short)", "prune \(F.d("OLD").short)"].sorted())
        #expect(p2.actions.first { $0.image == F.d("OLD") && $0.kind == .prune }?.reason == "over budget: 3GB > 1GB, kept for rollback, oldest")
        #expect(p2.actions.first { $0.kind == .update }?.oldImageFate == .pruned)
    }

    @Test func theDesiredSetAloneOverBudgetFailsAndRemovesNothing() {
        let images = [Self.sized("WANT", tags: ["a:1"], bytes: 10 * GB, created: 10), Self.sized("D", tags: [], bytes: 1 * GB, created: 0)]
        let p = F.plan([F.want("a:1")], images, ["a:1": .upToDate(F.d("WANT"))], policy: Policy(maxBytes: 8 * GB))
        let failed = p.actions.first { $0.kind == .failed }
        #expect(failed?.reason == "over budget: the images that must stay (desired, protected, in use) take 10GB, more than policy.max_bytes 8GB by 2GB; nothing is removed to fit")
        #expect(!p.actions.contains { $0.kind == .prune })
        #expect(p.hasFailedActions)
    }

    /// Issue 15's figure: planning a window over 5,000 listed tags, beyond the listing.
    @Test func fiveThousandTagsPlanQuickly() {
        var tags: [String] = []
        for minor in 0..<100 { for patch in 0..<50 { tags.append("1.\(minor).\(patch)") } }
        let sel = TagSelection(semver: ">=1.4.0 <2.0.0", newest: 3)
        let present = (0..<200).map { i in F.image("P\(i)", tags: ["r.io/team/app:1.\(i / 50).\(i % 50)"], layers: ["base"]) }
        let clock = ContinuousClock()
        var plan: Plan?
        let elapsed = clock.measure {
            let chosen = sel.select(from: tags, created: { _ in nil })
            let record = WindowRecord(repository: Self.repo, selection: sel, selected: chosen, checked: true, listed: tags.count)
            let w = TagWindow(repository: Self.repo, selection: sel, platform: F.amd64, immutable: [], location: Self.window.location)
            let desired = [DesiredTag]().adding(windows: [record], from: [w])
            let res = Dictionary(uniqueKeysWithValues: desired.map { ($0.reference, F.remote("N-" + $0.reference.tag!, layers: ["base"])) })
            plan = Planner.plan(PlanInput(desired: desired, policy: Policy(dangling: .prune), observed: Observed(images: present),
                                          resolutions: res, manifestPath: "images.yaml", storeName: "test", windows: [record]))
        }
        print("select + plan, 5,000 listed tags, 200 present: \(elapsed)")
        #expect(plan?.summary.pull == 3)
        #expect(plan?.summary.untag == 0)   // 1.0.x – 1.3.x are outside the range
        #expect(elapsed < .milliseconds(500))
    }
}
private let GB: Int64 = 1_000_000_000
