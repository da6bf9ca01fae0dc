import Foundation
import ImageSet
import OCI
import Store
import Testing
@testable import Reconcile

/// A desired image is its repository, tag, platform and pin, and its blobs must be intact: any
/// difference plans a change.
struct IdentityTests {
    static let arm64 = Platform(os: "linux", architecture: "arm64")

    static func want(_ s: String, platform: Platform) -> DesiredTag {
        var w = F.want(s)
        w.platform = platform
        return w
    }

    /// An image as a store reports it, with a platform and damaged blobs.
    static func stored(_ name: String, tags: [String], layers: [String], platform: Platform? = F.amd64, damaged: [String] = [],
                       pulledAs: String? = nil) -> ObservedImage {
        var img = F.image(name, tags: tags, layers: layers, pulledAs: pulledAs)
        img.platform = platform
        img.damagedBlobs = damaged.map(F.d)
        return img
    }

    static func remote(_ name: String, top: String? = nil, layers: [String], platform: Platform = F.amd64, config: Platform? = nil) -> Resolution {
        .remote(RemoteImage(pullDigest: F.d(top ?? name), manifest: F.d(name), id: F.d("cfg-" + name), platform: platform.description,
                            blobs: [BlobRef(digest: F.d(name), size: 10), BlobRef(digest: F.d("cfg-" + name), size: 5)] + F.blobs(layers),
                            configPlatform: config))
    }

    @Test(arguments: [
        ("linux/arm64", "linux/arm64/v8", true), ("linux/aarch64", "linux/arm64", true), ("linux/arm64", "linux/arm64/v9", true),
        ("linux/arm64/v9", "linux/arm64", false), ("linux/arm", "linux/arm/v7", true), ("linux/arm/v7", "linux/arm", true),
        ("linux/arm/v6", "linux/arm", false), ("linux/arm", "linux/arm/v6", false), ("linux/amd64", "linux/x86_64", true),
        ("linux/amd64", "linux/amd64/v1", true), ("linux/amd64/v2", "linux/amd64", false), ("linux/amd64", "linux/arm64", false),
        ("linux/amd64", "windows/amd64", false),
    ])
    func platformIdentity(_ wanted: String, _ stored: String, _ same: Bool) throws {
        #expect(PlatformIdentity.same(wanted: try Platform(parsing: wanted), stored: try Platform(parsing: stored)) == same)
    }

    @Test func platformIdentityIgnoresCaseInValuesNotParsed() {
        #expect(PlatformIdentity.same(wanted: Platform(os: "linux", architecture: "ARM64"), stored: Platform(os: "Linux", architecture: "aarch64", variant: "8")))
    }

    @Test func presentImageOfAnotherPlatformOrWithDamagedBlobsIsNotCurrent() {
        let store = Observed(images: [Self.stored("A", tags: ["a:1"], layers: ["l"]), Self.stored("B", tags: ["b:1"], layers: ["l"], damaged: ["l"]),
                                      Self.stored("U", tags: ["u:1"], layers: [], platform: nil)])
        #expect(store.current(for: F.want("a:1"))?.digest == F.d("A"))
        #expect(store.current(for: Self.want("a:1", platform: Self.arm64)) == nil)
        #expect(store.present(for: Self.want("a:1", platform: Self.arm64))?.digest == F.d("A"))
        #expect(store.current(for: F.want("b:1")) == nil)
        #expect(store.image(tagged: F.ref("b:1"))!.discrepancies(for: F.want("b:1")) == [.damagedBlobs(1)])
        // A store that cannot say the platform: taken as the wanted one.
        #expect(store.current(for: Self.want("u:1", platform: Self.arm64))?.digest == F.d("U"))
    }

    @Test func discrepanciesReadAsReasons() {
        #expect(Discrepancy.platform(wanted: Self.arm64, stored: F.amd64).description == "platform linux/arm64 wanted, the store has linux/amd64")
        #expect(Discrepancy.damagedBlobs(2).description == "2 blobs missing or damaged in the store")
        #expect(Discrepancy.damagedBlobs(1).description == "1 blob missing or damaged in the store")
    }

    @Test func resolverAsksAboutAnImmutableTagWhoseImageIsNotCurrent() {
        let want = Self.want("a:1", platform: Self.arm64)
        var immutable = want
        immutable.immutable = true
        let store = Observed(images: [Self.stored("A", tags: ["a:1"], layers: [])])
        #expect(Resolver.answerWithoutAsking(immutable, current: store.current(for: immutable), offline: false) == nil)
        #expect(Resolver.answerWithoutAsking(immutable, current: store.current(for: F.want("a:1", immutable: true)), offline: false)
                == .unchecked("immutable tag, already present"))
        #expect(Resolver.answerWithoutAsking(want, current: nil, offline: true) == .unchecked("offline"))
    }

    @Test func resolverDoesNotCallAnImageUpToDateForAnotherPlatform() {
        // The tag's index still has the digest the amd64 image was pulled as; arm64 is wanted.
        let img = Self.stored("AMD", tags: ["a:1"], layers: [], pulledAs: "INDEX")
        let store = Observed(images: [img])
        let want = Self.want("a:1", platform: Self.arm64)
        #expect(Resolver.isUpToDate(store.present(for: want), served: F.d("INDEX"), for: want.reference, from: want.reference))
        #expect(!Resolver.isUpToDate(store.current(for: want), served: F.d("INDEX"), for: want.reference, from: want.reference))
    }

    @Test func platformFromAConfig() throws {
        let config = try JSONDecoder().decode(ImageConfig.self, from: Data(#"{"os":"linux","architecture":"arm","variant":"v7"}"#.utf8))
        #expect(Resolver.platform(of: config) == Platform(os: "linux", architecture: "arm", variant: "v7"))
        #expect(Resolver.platform(of: ImageConfig()) == nil)
    }

    @Test func anotherPlatformPlansAnUpdateSayingWhy() {
        let img = Self.stored("AMD", tags: ["a:1"], layers: ["x"], pulledAs: "INDEX")
        let p = F.plan([Self.want("a:1", platform: Self.arm64)], [img],
                       ["a:1": Self.remote("ARM", top: "INDEX", layers: ["y"], platform: Self.arm64)])
        #expect(F.kinds(p) == ["update docker.io/library/a:1"])
        let update = p.actions[0]
        #expect(update.oldImage == F.d("AMD") && update.image == F.d("ARM") && update.pullDigest == F.d("INDEX"))
        #expect(update.reason == "platform linux/arm64 wanted, the store has linux/amd64")
        #expect(update.platform == "linux/arm64")
        #expect(p.hasChanges)
    }

    @Test func damagedBlobsPlanARepullCountingThem() {
        let img = Self.stored("A", tags: ["a:1"], layers: ["l1", "l2", "l3"], damaged: ["l1", "l2"])
        let p = F.plan([F.want("a:1")], [img], ["a:1": Self.remote("A", layers: ["l1", "l2", "l3"])])
        #expect(F.kinds(p) == ["pull docker.io/library/a:1"])
        #expect(p.actions[0].image == F.d("A") && p.actions[0].reason == "2 blobs missing or damaged in the store")
        #expect(p.actions[0].downloadBytes == 200 && p.summary.downloadBytes == 200)
        #expect(p.hasChanges)
    }

    @Test func damagedBlobsResolvedByHeadAloneStillPlanARepull() {
        let img = Self.stored("A", tags: ["a:1"], layers: ["l1", "l2"], damaged: ["l2"])
        let p = F.plan([F.want("a:1")], [img], ["a:1": .upToDate(F.d("A"))])
        #expect(F.kinds(p) == ["pull docker.io/library/a:1"])
        #expect(p.actions[0].pullDigest == F.d("A") && p.actions[0].downloadBytes == 100)
    }

    @Test func anotherPlatformResolvedByHeadAloneFails() {
        let img = Self.stored("AMD", tags: ["a:1"], layers: [])
        let p = F.plan([Self.want("a:1", platform: Self.arm64)], [img], ["a:1": .upToDate(F.d("AMD"))])
        #expect(F.kinds(p) == ["failed docker.io/library/a:1"])
        #expect(p.actions[0].reason!.hasPrefix("platform linux/arm64 wanted, the store has linux/amd64"))
    }

    @Test func anIntactImageUnderAnotherTagIsReusedADamagedOneIsNot() {
        let other = Self.stored("NEW", tags: ["b:1"], layers: ["n"], damaged: ["n"])
        let p = F.plan([F.want("a:1"), F.want("b:1")], [other],
                       ["a:1": Self.remote("NEW", layers: ["n"]), "b:1": Self.remote("NEW", layers: ["n"])])
        #expect(F.kinds(p) == ["pull docker.io/library/a:1", "pull docker.io/library/b:1"])
        #expect(p.summary.downloadBytes == 100)
    }

    @Test func singlePlatformImageOfAnotherPlatformWarnsAsDocker() {
        let p = F.plan([Self.want("a:1", platform: Self.arm64)], [],
                       ["a:1": Self.remote("AMD", layers: [], platform: Self.arm64, config: F.amd64)])
        #expect(F.kinds(p) == ["pull docker.io/library/a:1"])
        #expect(p.warnings == ["a:1: requested platform linux/arm64 does not match the image's platform linux/amd64"])
        let matching = F.plan([F.want("a:1")], [], ["a:1": Self.remote("AMD", layers: [], config: F.amd64)])
        #expect(matching.warnings.isEmpty)
        // Kept because the registry serves that very image for the platform: still warned.
        let kept = F.plan([Self.want("a:1", platform: Self.arm64)], [Self.stored("AMD", tags: ["a:1"], layers: [])],
                          ["a:1": Self.remote("AMD", layers: [], platform: Self.arm64)])
        #expect(F.kinds(kept) == ["keep docker.io/library/a:1"])
        #expect(kept.warnings.count == 1)
    }

    /// "No changes" while a tag, digest, platform or blob differs is impossible.
    @Test(arguments: ["tag", "digest", "platform", "blob"])
    func noChangesIsImpossibleWhileAnythingDiffers(_ what: String) {
        let want = what == "platform" ? Self.want("a:1", platform: Self.arm64) : F.want("a:1")
        let store: [ObservedImage]
        let served: Resolution
        switch what {
        case "tag":
            store = [Self.stored("A", tags: ["a:other"], layers: ["l"])]
            served = Self.remote("A", layers: ["l"])
        case "digest":
            store = [Self.stored("A", tags: ["a:1"], layers: ["l"])]
            served = Self.remote("B", layers: ["l"])
        case "platform":
            store = [Self.stored("A", tags: ["a:1"], layers: ["l"], pulledAs: "INDEX")]
            served = Self.remote("ARM", top: "INDEX", layers: ["l"], platform: Self.arm64)
        default:
            store = [Self.stored("A", tags: ["a:1"], layers: ["l"], damaged: ["l"])]
            served = Self.remote("A", layers: ["l"])
        }
        let p = F.plan([want], store, ["a:1": served])
        #expect(p.hasChanges, "\(what): \(F.kinds(p))")
        let same = F.plan([F.want("a:1")], [Self.stored("A", tags: ["a:1"], layers: ["l"])], ["a:1": Self.remote("A", layers: ["l"])])
        #expect(!same.hasChanges)
    }
}
