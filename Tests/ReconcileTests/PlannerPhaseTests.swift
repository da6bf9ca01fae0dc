import Foundation
import ImageSet
import OCI
import Store
import Testing
@testable import Reconcile

/// Each planner phase on its own, with the smallest input that shows its rule.
struct PlannerPhaseTests {
    static func observed(_ images: [ObservedImage], ledger: [LedgerEntry] = []) -> Observed { Observed(images: images, ledger: ledger) }

    @Test func presentImageIsFoundByTagOrForADigestEntryByItsPin() {
        let tagged = F.image("A", tags: ["a:1"], layers: [])
        let pinned = F.image("P", tags: [], layers: [], pulledAs: "INDEX")
        var pinnedWithRepo = pinned
        pinnedWithRepo.repoDigests = ["docker.io/library/p@\(F.d("INDEX"))"]
        let store = Self.observed([tagged, pinnedWithRepo])
        #expect(store.present(for: F.want("a:1"))?.digest == F.d("A"))
        #expect(store.present(for: F.want("a:2")) == nil)
        let byDigest = DesiredTag(reference: F.ref("p").withDigest(F.d("INDEX")), pin: F.d("INDEX"), platform: F.amd64, immutable: true,
                                  location: SourceLocation(file: "images.yaml", line: 1, column: 1))
        #expect(store.present(for: byDigest)?.digest == F.d("P"))
    }

    @Test func decideKeepsWhatIsUpToDate() {
        let store = Self.observed([F.image("A", tags: ["a:1"], layers: [])])
        let d = Planner.decide(F.want("a:1"), resolution: .upToDate(F.d("A")), observed: store)
        #expect(d.action?.kind == .keep && d.action?.image == F.d("A") && d.action?.pullDigest == F.d("A"))
        #expect(d.target == nil && d.incoming == nil && d.move == nil)
    }

    @Test func decideMovesATagToANewImageAndDownloadsIt() throws {
        let store = Self.observed([F.image("OLD", tags: ["a:1"], layers: [])])
        let d = Planner.decide(F.want("a:1"), resolution: F.remote("NEW", layers: ["l"]), observed: store)
        #expect(d.action?.kind == .update && d.action?.oldImage == F.d("OLD") && d.action?.image == F.d("NEW"))
        #expect(d.target == F.d("NEW") && d.move == Planner.Move(tag: F.ref("a:1"), old: F.d("OLD")))
        #expect(d.incoming?.manifest == F.d("NEW"))
    }

    @Test func decideReusesAnImagePresentUnderAnotherTag() {
        let store = Self.observed([F.image("NEW", tags: ["b:1"], layers: [])])
        let d = Planner.decide(F.want("a:1"), resolution: F.remote("NEW", layers: []), observed: store)
        #expect(d.action?.kind == .pull && d.target == F.d("NEW") && d.incoming == nil)
    }

    @Test func decideDesiredFoldsTargetsIntoTagsAndDigestEntries() {
        let store = Self.observed([F.image("OLD", tags: ["a:1"], layers: [])])
        let byDigest = DesiredTag(reference: F.ref("p").withDigest(F.d("P")), pin: F.d("P"), platform: F.amd64, immutable: true,
                                  location: SourceLocation(file: "images.yaml", line: 1, column: 1))
        let out = Planner.decideDesired([F.want("a:1"), byDigest], resolutions: [
            F.ref("a:1"): F.remote("NEW", layers: []),
            byDigest.reference: F.remote("P", layers: []),
        ], observed: store)
        #expect(out.finalTags[F.ref("a:1")] == F.d("NEW"))
        #expect(out.wantedByDigest == [F.d("P")])
        #expect(Set(out.incoming.keys) == [F.d("NEW"), F.d("P")])
        #expect(out.moves.map(\.old) == [F.d("OLD")])
    }

    /// The table reads the store's tags through the observation and lays the plan's changes
    /// over them; it agrees with a map filled image by image (the last image carrying a
    /// repeated tag wins), before and after changes.
    @Test func tagTableAgreesWithAMapOfEveryTag() {
        let store = Self.observed([F.image("A", tags: ["a:1", "a:2", "dup:1"], layers: []),
                                   F.image("B", tags: ["b:1", "dup:1"], layers: []),
                                   F.image("D", tags: [], layers: [])])
        var table = TagTable(store)
        var map: [Reference: Digest] = [:]
        for img in store.images { for t in img.tags { map[t] = img.digest } }
        #expect(table.all == map)
        #expect(table[F.ref("dup:1")] == F.d("B"))
        #expect(table.namedImages == Set(map.values))
        #expect(table.tags(naming: F.d("A")) == [F.ref("a:1"), F.ref("a:2")])

        table[F.ref("a:1")] = nil; map[F.ref("a:1")] = nil
        table[F.ref("a:2")] = F.d("D"); map[F.ref("a:2")] = F.d("D")
        table[F.ref("new:1")] = F.d("A"); map[F.ref("new:1")] = F.d("A")
        table[F.ref("dup:1")] = nil; map[F.ref("dup:1")] = nil
        #expect(table.all == map)
        #expect(table[F.ref("a:1")] == nil && table[F.ref("a:2")] == F.d("D"))
        #expect(table.namedImages == Set(map.values))
        #expect(table.tags(naming: F.d("A")) == [F.ref("new:1")])
        #expect(table.tags(naming: F.d("B")) == [F.ref("b:1")])
        #expect(table.tags(naming: F.d("D")) == [F.ref("a:2")])
    }

    @Test func protectionByUseLabelAndReference() {
        let p = Planner.Protection([.label(key: "keep", value: "yes"), .reference(pattern: "*/team/*")])
        var used = F.image("U", tags: [], layers: [])
        used.inUse = true
        #expect(p.reason(used) == "in use by a container")
        #expect(p.reason(F.image("L", tags: [], layers: [], labels: ["keep": "yes"])) == "protected by label=keep=yes")
        #expect(p.reason(F.image("L", tags: [], layers: [], labels: ["keep": "no"])) == nil)
        #expect(p.reason(F.image("R", tags: ["registry.example/team/db:1"], layers: [])) == "protected by reference=*/team/*")
    }

    @Test func unlistedTagsAreUntaggedUnlessTheImageIsProtected() {
        let store = Self.observed([F.image("X", tags: ["x:1", "x:2"], layers: []),
                                   F.image("K", tags: ["k:1", "k:2"], layers: [], labels: ["keep": ""])])
        let everyTag = Dictionary(uniqueKeysWithValues: store.images.flatMap { img in img.tags.map { ($0, img.digest) } })
        let protection = Planner.Protection([.label(key: "keep", value: nil)])
        let keep = Planner.planUnlisted(store, desiredRefs: [], policy: .keep, protection: protection, finalTags: TagTable(store))
        #expect(keep.actions.isEmpty && keep.finalTags.all == everyTag)
        let untag = Planner.planUnlisted(store, desiredRefs: [F.ref("x:2")], policy: .untag, protection: protection, finalTags: TagTable(store))
        #expect(F.kinds(Plan.stub(untag.actions)) == ["untag docker.io/library/x:1", "protected docker.io/library/k:1"])
        #expect(untag.finalTags[F.ref("x:1")] == nil && untag.finalTags[F.ref("x:2")] == F.d("X"))
        #expect(untag.protectedShown == [F.d("K")])
    }

    @Test func rollbackKeepsTheImageMovedOffFirstThenTheLedgersNewest() {
        let ledger = [
            LedgerEntry(image: F.d("P2"), imageID: F.d("cfg-P2"), reference: "docker.io/library/a:1", movedTo: nil, at: Date(timeIntervalSince1970: 10), cause: "apply", run: nil),
            LedgerEntry(image: F.d("P1"), imageID: F.d("cfg-P1"), reference: "docker.io/library/a:1", movedTo: nil, at: Date(timeIntervalSince1970: 20), cause: "apply", run: nil),
        ]
        let present: Set<Digest> = [F.d("OLD"), F.d("P1"), F.d("P2")]
        let moves = [Planner.Move(tag: F.ref("a:1"), old: F.d("OLD"))]
        var finalTags = TagTable(Self.observed([]))
        finalTags[F.ref("a:1")] = F.d("NEW")
        #expect(Planner.retainedForRollback([F.want("a:1")], keepPrevious: 0, moves: moves, ledger: ledger, finalTags: finalTags, present: present).isEmpty)
        #expect(Planner.retainedForRollback([F.want("a:1")], keepPrevious: 2, moves: moves, ledger: ledger, finalTags: finalTags, present: present)
                == [F.d("OLD"), F.d("P1")])
        // An image gone from the store is not retained, and does not make room for an older one.
        #expect(Planner.retainedForRollback([F.want("a:1")], keepPrevious: 2, moves: [], ledger: ledger, finalTags: finalTags, present: [F.d("P2")])
                == [F.d("P2")])
    }

    @Test func victimsAreRemovedPrunedOrSpared() {
        let store = Self.observed([F.image("X", tags: ["x:1"], layers: []), F.image("D", tags: [], layers: []),
                                   F.image("R", tags: [], layers: []), F.image("K", tags: [], layers: [], labels: ["keep": ""]),
                                   F.image("W", tags: [], layers: [])])
        let v = Planner.findVictims(store, tagged: [], wantedByDigest: [F.d("W")], desiredRefs: [],
                                    policy: Policy(unlisted: .remove, dangling: .prune), untagDeletesLastImage: false,
                                    retained: [F.d("R")], protection: Planner.Protection([.label(key: "keep", value: nil)]), alreadyProtected: [])
        #expect(v.kinds == [F.d("X"): .remove, F.d("D"): .prune])
        #expect(v.protectedActions.map(\.image) == [F.d("K")] && v.protectedShown == [F.d("K")])
        let untagOnly = Planner.findVictims(store, tagged: [], wantedByDigest: [], desiredRefs: [], policy: Policy(unlisted: .untag),
                                            untagDeletesLastImage: false, retained: [], protection: Planner.Protection([]), alreadyProtected: [])
        #expect(untagOnly.kinds.isEmpty)
        let engine = Planner.findVictims(store, tagged: [], wantedByDigest: [], desiredRefs: [], policy: Policy(unlisted: .untag),
                                         untagDeletesLastImage: true, retained: [], protection: Planner.Protection([]), alreadyProtected: [])
        #expect(engine.kinds == [F.d("X"): .remove])
    }

    @Test func fateOfAnImageATagMovedOff() {
        let old = F.d("OLD")
        #expect(Planner.fate(of: old, tagged: [old], retained: [old], victims: [:], protected: []) == .stillTagged)
        #expect(Planner.fate(of: old, tagged: [], retained: [old], victims: [old: .prune], protected: []) == .keptForRollback)
        #expect(Planner.fate(of: old, tagged: [], retained: [], victims: [old: .remove], protected: []) == .removed)
        #expect(Planner.fate(of: old, tagged: [], retained: [], victims: [old: .prune], protected: []) == .pruned)
        #expect(Planner.fate(of: old, tagged: [], retained: [], victims: [:], protected: [old]) == .protected)
        #expect(Planner.fate(of: old, tagged: [], retained: [], victims: [:], protected: []) == .dangling)
    }

    @Test func downloadsCountOnlyMissingBlobsOnceInActionOrder() throws {
        let store = Self.observed([F.image("HAVE", tags: ["h:1"], layers: ["base"])])
        guard case .remote(let a) = F.remote("A", layers: ["base", "shared", "a"]),
              case .remote(let b) = F.remote("B", layers: ["shared", "b"]) else { throw CocoaError(.coderInvalidValue) }
        var actions = [Action(kind: .pull, reference: "a", image: a.manifest), Action(kind: .update, reference: "b", image: b.manifest),
                       Action(kind: .pull, reference: "h", image: F.d("HAVE")), Action(kind: .untag, reference: "x", image: F.d("X"))]
        let total = Planner.countDownloads(&actions, incoming: [a.manifest: a, b.manifest: b], observed: store)
        #expect(actions.map(\.downloadBytes) == [15 + 200, 15 + 100, 0, nil])
        #expect(total == 330)
    }

    @Test func reclaimCountsBlobsNothingElseUses() {
        let victim = F.image("V", tags: [], layers: ["shared", "own"])
        let store = Self.observed([victim, F.image("S", tags: ["s:1"], layers: ["shared"])])
        let r = Planner.reclaimActions([F.d("V"): .prune], observed: store, incoming: [:],
                                       moves: [Planner.Move(tag: F.ref("v:1"), old: F.d("V"))])
        #expect(r.bytes == 10 + 5 + 100)
        #expect(r.actions.count == 1 && r.actions[0].kind == .prune && r.actions[0].reclaimBytes == 115)
        #expect(r.actions[0].previousTags == ["docker.io/library/v:1"])
    }

    @Test func previousTagsPutTheMovedTagFirstThenCurrentThenLedger() {
        let img = F.image("I", tags: ["i:now"], layers: [])
        let ledger = [
            LedgerEntry(image: F.d("I"), imageID: F.d("cfg-I"), reference: "docker.io/library/i:old", movedTo: nil, at: Date(timeIntervalSince1970: 1), cause: "rm", run: nil),
            LedgerEntry(image: F.d("I"), imageID: F.d("cfg-I"), reference: "docker.io/library/i:newer", movedTo: nil, at: Date(timeIntervalSince1970: 2), cause: "rm", run: nil),
        ]
        #expect(Planner.previousTags(of: img, history: ledger, movesOff: [Planner.Move(tag: F.ref("i:moved"), old: F.d("I"))])
                == ["docker.io/library/i:moved", "docker.io/library/i:now", "docker.io/library/i:newer", "docker.io/library/i:old"])
        // Through reclaimActions, which indexes the ledger and the moves by image: another
        // image's entries and moves stay out of this one's list.
        let other = F.image("O", tags: [], layers: [])
        let otherEntry = LedgerEntry(image: F.d("O"), imageID: F.d("cfg-O"), reference: "docker.io/library/o:old", movedTo: nil,
                                     at: Date(timeIntervalSince1970: 3), cause: "rm", run: nil)
        let store = Observed(images: [img, other], ledger: [ledger[0], otherEntry, ledger[1]])
        let r = Planner.reclaimActions([F.d("I"): .prune, F.d("O"): .prune], observed: store, incoming: [:],
                                       moves: [Planner.Move(tag: F.ref("o:moved"), old: F.d("O")), Planner.Move(tag: F.ref("i:moved"), old: F.d("I"))])
        let byImage = Dictionary(uniqueKeysWithValues: r.actions.map { ($0.image!, $0.previousTags) })
        #expect(byImage[F.d("I")] == ["docker.io/library/i:moved", "docker.io/library/i:now", "docker.io/library/i:newer", "docker.io/library/i:old"])
        #expect(byImage[F.d("O")] == ["docker.io/library/o:moved", "docker.io/library/o:old"])
    }

    @Test func summaryCountsEachKind() {
        let kinds: [Action.Kind] = [.pull, .pull, .update, .untag, .remove, .prune, .keep, .protected, .failed]
        let s = Plan.Summary(counting: kinds.map { Action(kind: $0) }, downloadBytes: 7, reclaimBytes: 3)
        #expect(s.pull == 2 && s.update == 1 && s.untag == 1 && s.remove == 1 && s.prune == 1)
        #expect(s.keep == 1 && s.protected == 1 && s.failed == 1 && s.changes == 6)
        #expect(s.downloadBytes == 7 && s.diskBytes == 7 && s.reclaimBytes == 3)
    }
}

extension Plan {
    /// A plan holding only `actions`, for helpers that read actions.
    static func stub(_ actions: [Action]) -> Plan {
        var p = F.plan([], [], [:])
        p.actions = actions
        return p
    }
}
