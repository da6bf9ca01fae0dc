import Foundation
import ImageSet
import OCI
import Store
import Testing
@testable import Reconcile

/// Plain-value fixtures: digests from short names, images from blob lists.
enum F {
    static func d(_ s: String) -> Digest { Digest.sha256(Array(s.utf8)) }
    static func ref(_ s: String) -> Reference { try! Reference(parsing: s).withDefaultTag() }
    static let amd64 = Platform(os: "linux", architecture: "amd64")
    static func want(_ s: String, pin: Digest? = nil, immutable: Bool = false) -> DesiredTag {
        DesiredTag(reference: ref(s), pin: pin, platform: amd64, immutable: immutable, location: SourceLocation(file: "images.yaml", line: 1, column: 1))
    }
    static func blobs(_ names: [String], size: Int64 = 100) -> [BlobRef] { names.map { BlobRef(digest: d($0), size: size) } }
    static func image(_ name: String, tags: [String], layers: [String], labels: [String: String] = [:], pulledAs: String? = nil) -> ObservedImage {
        let repoDigests = tags.map { "\(ref($0).name)@\(d(pulledAs ?? name))" }
        return ObservedImage(digest: d(name), id: d("cfg-" + name), tags: tags.map(ref), repoDigests: repoDigests, labels: labels,
                             blobs: [BlobRef(digest: d(name), size: 10), BlobRef(digest: d("cfg-" + name), size: 5)] + blobs(layers))
    }
    static func remote(_ name: String, layers: [String]) -> Resolution {
        .remote(RemoteImage(pullDigest: d(name), manifest: d(name), id: d("cfg-" + name), platform: "linux/amd64",
                            blobs: [BlobRef(digest: d(name), size: 10), BlobRef(digest: d("cfg-" + name), size: 5)] + blobs(layers)))
    }
    static func plan(_ desired: [DesiredTag], _ images: [ObservedImage], _ res: [String: Resolution], policy: Policy = Policy(),
                     ledger: [LedgerEntry] = [], untagDeletes: Bool = false) -> Plan {
        Planner.plan(PlanInput(desired: desired, policy: policy, observed: Observed(images: images, ledger: ledger),
                               resolutions: Dictionary(uniqueKeysWithValues: res.map { (ref($0.key), $0.value) }),
                               manifestPath: "images.yaml", storeName: "test", now: Date(timeIntervalSince1970: 0),
                               untagDeletesLastImage: untagDeletes))
    }
    static func kinds(_ p: Plan) -> [String] { p.actions.map { "\($0.kind.rawValue) \($0.reference ?? $0.image!.short)" } }
}

struct PlannerTests {
    @Test func pullsIntoEmptyStoreCountingSharedBlobsOnce() {
        let p = F.plan([F.want("a:1"), F.want("b:1")], [],
                       ["a:1": F.remote("A", layers: ["base", "a"]), "b:1": F.remote("B", layers: ["base", "b"])])
        #expect(F.kinds(p) == ["pull docker.io/library/a:1", "pull docker.io/library/b:1"])
        // A: manifest 10 + config 5 + base 100 + a 100; B: 10 + 5 + b 100 (base already claimed).
        #expect(p.summary.downloadBytes == 215 + 115)
        #expect(p.actions.map(\.downloadBytes) == [215, 115])
        #expect(p.summary.pull == 2 && p.hasChanges)
    }

    @Test func upToDateIsNoChange() {
        let img = F.image("A", tags: ["a:1"], layers: ["x"])
        let p = F.plan([F.want("a:1")], [img], ["a:1": .upToDate(F.d("A"))])
        #expect(F.kinds(p) == ["keep docker.io/library/a:1"])
        #expect(!p.hasChanges)
        #expect(p.summary.keep == 1)
    }

    @Test(arguments: [
        (Policy(), Action.Fate.dangling, ["update docker.io/library/a:1"]),
        (Policy(dangling: .prune), Action.Fate.pruned, ["update docker.io/library/a:1", "prune \(F.d("OLD").short)"]),
        (Policy(dangling: .prune, keepPrevious: 1), Action.Fate.keptForRollback, ["update docker.io/library/a:1"]),
        (Policy(dangling: .prune, protect: [.label(key: "keep", value: nil)]), Action.Fate.protected,
         ["update docker.io/library/a:1", "protected \(F.d("OLD").short)"]),
    ])
    func movedTag(_ policy: Policy, _ fate: Action.Fate, _ expected: [String]) {
        let old = F.image("OLD", tags: ["a:1"], layers: ["base", "old"], labels: ["keep": "yes"])
        let p = F.plan([F.want("a:1")], [old], ["a:1": F.remote("NEW", layers: ["base", "new"])], policy: policy)
        #expect(F.kinds(p) == expected)
        let update = p.actions.first { $0.kind == .update }!
        #expect(update.oldImage == F.d("OLD") && update.image == F.d("NEW"))
        #expect(update.oldImageFate == fate)
        #expect(update.downloadBytes == Int64(10 + 5 + 100))   // base is shared and present
        if fate == .pruned {
            let prune = p.actions.first { $0.kind == .prune }!
            #expect(prune.previousTags == ["docker.io/library/a:1"])
            // Reclaimed: manifest, config, the 'old' layer; 'base' stays in use by NEW.
            #expect(prune.reclaimBytes == Int64(10 + 5 + 100))
        }
    }

    @Test func oldImageStillTaggedElsewhere() {
        let old = F.image("OLD", tags: ["a:1", "a:stable"], layers: ["x"])
        let p = F.plan([F.want("a:1"), F.want("a:stable")], [old],
                       ["a:1": F.remote("NEW", layers: ["y"]), "a:stable": .upToDate(F.d("OLD"))], policy: Policy(dangling: .prune))
        #expect(p.actions.first { $0.kind == .update }?.oldImageFate == .stillTagged)
        #expect(p.summary.prune == 0)
    }

    @Test func unlistedPolicies() {
        let wanted = F.image("W", tags: ["w:1"], layers: ["w"])
        let extra = F.image("X", tags: ["x:1", "x:2"], layers: ["x"])
        let kept = F.image("K", tags: ["k:1"], layers: ["k"], labels: ["keep": "true"])
        let res: [String: Resolution] = ["w:1": .upToDate(F.d("W"))]
        let protect = [ProtectRule.label(key: "keep", value: "true")]

        let keep = F.plan([F.want("w:1")], [wanted, extra, kept], res, policy: Policy(unlisted: .keep, protect: protect))
        #expect(!keep.hasChanges)

        let untag = F.plan([F.want("w:1")], [wanted, extra, kept], res, policy: Policy(unlisted: .untag, protect: protect))
        #expect(F.kinds(untag) == ["untag docker.io/library/x:1", "untag docker.io/library/x:2", "keep docker.io/library/w:1",
                                   "protected docker.io/library/k:1"])

        let remove = F.plan([F.want("w:1")], [wanted, extra, kept], res, policy: Policy(unlisted: .remove, protect: protect))
        #expect(F.kinds(remove) == ["untag docker.io/library/x:1", "untag docker.io/library/x:2", "remove \(F.d("X").short)",
                                    "keep docker.io/library/w:1", "protected docker.io/library/k:1"])
        #expect(remove.summary.reclaimBytes == 115)
        #expect(remove.actions.first { $0.kind == .remove }?.previousTags == ["docker.io/library/x:1", "docker.io/library/x:2"])
    }

    @Test func untagOnAStoreThatDeletesWithTheLastTagIsShownAsRemoval() {
        let extra = F.image("X", tags: ["x:1"], layers: ["x"])
        let layout = F.plan([], [extra], [:], policy: Policy(unlisted: .untag))
        #expect(F.kinds(layout) == ["untag docker.io/library/x:1"])
        let engine = F.plan([], [extra], [:], policy: Policy(unlisted: .untag), untagDeletes: true)
        #expect(F.kinds(engine) == ["untag docker.io/library/x:1", "remove \(F.d("X").short)"])
        #expect(engine.summary.reclaimBytes == 115)
    }

    @Test func protectByReferencePattern() {
        let extra = F.image("X", tags: ["127.0.0.1:5000/team/db:1"], layers: ["x"])
        let p = F.plan([], [extra], [:], policy: Policy(unlisted: .remove, protect: [.reference(pattern: "*/team/*")]))
        #expect(F.kinds(p) == ["protected 127.0.0.1:5000/team/db:1"])
    }

    @Test func pinMismatchFails() {
        let p = F.plan([F.want("a:1", pin: F.d("PINNED"))], [], ["a:1": F.remote("OTHER", layers: [])])
        #expect(p.actions.count == 1 && p.actions[0].kind == .failed)
        #expect(p.actions[0].reason!.contains("pins \(F.d("PINNED"))"))
        let ok = F.plan([F.want("a:1", pin: F.d("PINNED"))], [], ["a:1": F.remote("PINNED", layers: [])])
        #expect(F.kinds(ok) == ["pull docker.io/library/a:1"])
    }

    @Test func offlineAndUnchecked() {
        let img = F.image("A", tags: ["a:1"], layers: [])
        let p = F.plan([F.want("a:1"), F.want("b:1")], [img], ["a:1": .unchecked("offline"), "b:1": .unchecked("offline")])
        // Offline, a tag absent from the store is skipped, not pulled: nothing is decided at apply time.
        #expect(F.kinds(p) == ["keep docker.io/library/a:1"])
        #expect(p.unchecked.map(\.reference) == ["docker.io/library/a:1"])
        #expect(p.skipped == [Plan.Skipped(reference: "docker.io/library/b:1", reason: "not in the store; offline, so not pulled")])
        #expect(!p.hasChanges && p.summary.skipped == 1 && !p.isConverged)
    }

    @Test func offlineStillPlansWhatNeedsNoRegistry() {
        let wanted = F.image("W", tags: ["w:1"], layers: ["w"])
        let extra = F.image("X", tags: ["x:1"], layers: ["x"])
        let p = F.plan([F.want("w:1"), F.want("new:1")], [wanted, extra], ["w:1": .unchecked("offline"), "new:1": .unchecked("offline")],
                       policy: Policy(unlisted: .remove))
        #expect(F.kinds(p) == ["untag docker.io/library/x:1", "remove \(F.d("X").short)", "keep docker.io/library/w:1"])
        #expect(p.skipped.map(\.reference) == ["docker.io/library/new:1"])
        #expect(p.summary.changes == 2 && p.summary.pull == 0 && p.summary.downloadBytes == 0)
    }

    @Test func offlineSkipsAPresentImageThatIsNotCurrentAndKeepsIt() {
        var damaged = F.image("A", tags: [], layers: ["l"], pulledAs: "PIN")
        damaged.repoDigests = ["docker.io/library/a@\(F.d("PIN"))"]
        damaged.damagedBlobs = [F.d("l")]
        let byDigest = DesiredTag(reference: F.ref("a").withDigest(F.d("PIN")), pin: F.d("PIN"), platform: F.amd64, immutable: true,
                                  location: SourceLocation(file: "images.yaml", line: 1, column: 1))
        let p = Planner.plan(PlanInput(desired: [byDigest], policy: Policy(dangling: .prune), observed: Observed(images: [damaged]),
                                       resolutions: [byDigest.reference: .unchecked("offline")], manifestPath: "images.yaml", storeName: "test"))
        #expect(p.actions.isEmpty)
        #expect(p.skipped.map(\.reason) == ["1 blob missing or damaged in the store; offline, so not pulled"])
    }

    @Test func aConvergedPlanHasNothingPendingOfAnyKind() {
        let img = F.image("A", tags: ["a:1"], layers: [])
        #expect(F.plan([F.want("a:1")], [img], ["a:1": .upToDate(F.d("A"))]).isConverged)
        #expect(!F.plan([F.want("a:1")], [img], ["a:1": .failed("refused")]).isConverged)
    }

    @Test func failedResolutionLeavesTagAlone() {
        let img = F.image("A", tags: ["a:1"], layers: [])
        let p = F.plan([F.want("a:1")], [img], ["a:1": .failed("connection refused")], policy: Policy(unlisted: .remove, dangling: .prune))
        #expect(F.kinds(p) == ["failed docker.io/library/a:1"])
        #expect(p.summary.failed == 1)
    }

    @Test func prunesOldDanglingWithLedgerHistoryAndKeepsRecentForRollback() {
        let current = F.image("C", tags: ["a:1"], layers: ["c"])
        let prev1 = F.image("P1", tags: [], layers: ["p1"])
        let prev2 = F.image("P2", tags: [], layers: ["p2"])
        let ledger = [
            LedgerEntry(image: F.d("P2"), imageID: F.d("cfg-P2"), reference: "docker.io/library/a:1", movedTo: F.d("P1"), at: Date(timeIntervalSince1970: 10), cause: "apply", run: nil),
            LedgerEntry(image: F.d("P1"), imageID: F.d("cfg-P1"), reference: "docker.io/library/a:1", movedTo: F.d("C"), at: Date(timeIntervalSince1970: 20), cause: "apply", run: nil),
        ]
        let p = F.plan([F.want("a:1")], [current, prev1, prev2], ["a:1": .upToDate(F.d("C"))],
                       policy: Policy(dangling: .prune, keepPrevious: 1), ledger: ledger)
        #expect(F.kinds(p) == ["prune \(F.d("P2").short)", "keep docker.io/library/a:1"])
        #expect(p.actions[0].previousTags == ["docker.io/library/a:1"])
    }

    @Test func planIsDeterministicAndCodable() throws {
        let input: [String: Resolution] = ["b:1": F.remote("B", layers: ["l"]), "a:1": F.remote("A", layers: ["l"])]
        let p1 = F.plan([F.want("b:1"), F.want("a:1")], [], input)
        let p2 = F.plan([F.want("a:1"), F.want("b:1")], [], input)
        let j1 = try Plan.encoder.encode(p1), j2 = try Plan.encoder.encode(p2)
        #expect(j1 == j2)
        let back = try Plan.decoder.decode(Plan.self, from: j1)
        #expect(back.actions == p1.actions && back.summary == p1.summary && back.storeFingerprint == p1.storeFingerprint)
    }

    @Test func fingerprintTracksImagesAndTags() {
        let a = Observed(images: [F.image("A", tags: ["a:1"], layers: [])])
        let b = Observed(images: [F.image("A", tags: ["a:2"], layers: [])])
        let c = Observed(images: [F.image("A", tags: ["a:1"], layers: ["different sizes do not matter"])])
        #expect(a.fingerprint != b.fingerprint)
        #expect(a.fingerprint == c.fingerprint)
    }
}
