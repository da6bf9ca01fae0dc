import Foundation
import ImageSet
import OCI
import Reconcile
import Registry
import Store
import Synchronization
import Testing
import TestSupport

/// Every Docker test, serialized: they share one dockerd (the registry is shared too, but each
/// test pushes under its own prefix).
@Suite("Docker Engine store", .serialized)
struct DockerSuite {}

/// The stores every conformance test runs against, through `ImageStore` only.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case layout, docker, containerd, registry
    var testDescription: String { rawValue }
}

/// One store under test, empty at the start, with its own scratch space and registry prefix.
final class StoreUnderTest {
    let kind: StoreKind
    let bed: DockerBed
    let scratch: ScratchDirectory
    let store: any ImageStore
    let prefix: String
    let registry: RegistryClient
    static let amd64 = Platform(os: "linux", architecture: "amd64")

    init(_ kind: StoreKind, _ hint: String) throws {
        self.kind = kind
        bed = try DockerBed.shared()
        scratch = try ScratchDirectory("berth-conf")
        prefix = DockerBed.uniquePrefix(hint)
        registry = bed.registryClient()
        switch kind {
        case .layout:
            store = try LayoutStore(path: scratch.file("layout").path)
        case .docker:
            try bed.freshEngine()
            store = try bed.engineStore(stateRoot: scratch.file("state"))
        case .containerd:
            store = try ContainerdForConformance.freshStore(stateRoot: scratch.file("state"))
        case .registry:
            // A namespace of the shared registry: the sources are on the same host, so blobs are mounted.
            store = RegistryStore(namespace: try RegistryNamespace(parsing: "\(bed.registry.host)/mirror/\(prefix.dropLast())"),
                                  client: registry, stateRoot: scratch.file("state"))
        }
    }

    /// What the store reports as an image's size: docker's measure (the layers' files), or for
    /// a registry, which never unpacks, the compressed layers.
    func expectedSize(_ image: BuiltImage) -> Int64 {
        kind == .registry ? image.layers.reduce(Int64(0)) { $0 + $1.size } : image.dockerSize
    }

    var engine: DockerEngineStore? { store as? DockerEngineStore }

    /// Pushes `content` as `prefix+repository:tag`; returns the reference and the pushed digest.
    @discardableResult
    func push(_ content: any PushableContent, _ repository: String, _ tag: String) throws -> (Reference, Digest) {
        let digest = try bed.registry.push(content, repository: prefix + repository, tag: tag)
        return (try bed.ref(prefix + repository, tag), digest)
    }

    /// Pulls `ref` by `digest` (as the executor does), collecting the events.
    @discardableResult
    func pull(_ ref: Reference, _ digest: Digest, events: EventLog? = nil) throws -> PullResult {
        try store.pull(ref, from: ref.withDigest(digest), using: registry, options: PullOptions(platform: StoreUnderTest.amd64, maxConcurrentDownloads: 2, cause: "apply", run: "test-run")) { e in
            events?.add(e)
        }
    }

    func image(_ digest: Digest) throws -> ObservedImage? { try store.observe().images.first { $0.digest == digest } }
}

final class EventLog: Sendable {
    private let items = Mutex<[PullEvent]>([])
    func add(_ e: PullEvent) { items.withLock { $0.append(e) } }
    var events: [PullEvent] { items.withLock { $0 } }
}

extension DockerSuite {
    @Suite("Conformance: the same contract for the embedded layout and a Docker Engine")
    struct Conformance {
        @Test(arguments: StoreKind.allCases)
        func anEmptyStoreObservesNothing(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "empty")
            let observed = try sut.store.observe()
            #expect(observed.images.isEmpty)
            #expect(observed.ledger.isEmpty)
            #expect(observed.fingerprint == Observed(images: []).fingerprint)
        }

        @Test(arguments: StoreKind.allCases)
        func aPulledImageIsObservedByManifestDigestWithDockerFacts(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "pull")
            let small = sut.bed.fixtures.small
            let (ref, digest) = try sut.push(small, "small", "1.0")
            let log = EventLog()
            let result = try sut.pull(ref, digest, events: log)
            #expect(result.manifest == small.manifestDigest)
            #expect(result.imageID == small.configDigest)
            #expect(result.pulledDigest == digest)
            #expect(result.previous == nil)
            #expect(log.events.contains { if case .started(_, let m, let layers) = $0 { return m == small.manifestDigest && layers.count == 1 }; return false })

            let observed = try sut.store.observe()
            #expect(observed.images.count == 1)
            let img = try #require(observed.images.first)
            #expect(img.digest == small.manifestDigest)
            #expect(img.id == small.configDigest)
            #expect(img.tags == [ref])
            #expect(img.repoDigests == ["\(ref.name)@\(digest)"])
            #expect(img.wasPulled(ref.repository, as: digest))
            #expect(img.size == sut.expectedSize(small), "docker's size: the regular files of all layers (a registry: compressed)")
            #expect(img.created == FixtureImage.defaultCreated)
            #expect(!img.inUse)
            // Observing twice is stable: a plan made now is not stale a moment later.
            #expect(try sut.store.observe().fingerprint == observed.fingerprint)
        }

        @Test(arguments: StoreKind.allCases)
        func aMultiPlatformTagIsPulledForThePlatformAndRemembersTheIndexDigest(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "multi")
            let index = sut.bed.fixtures.multiPlatform
            let amd64 = try #require(index.image(for: StoreUnderTest.amd64))
            let (ref, digest) = try sut.push(index, "multi", "latest")
            #expect(digest == index.digest)
            let result = try sut.pull(ref, digest)
            #expect(result.manifest == amd64.manifestDigest)
            #expect(result.imageID == amd64.configDigest)
            #expect(result.pulledDigest == index.digest)
            let img = try #require(try sut.image(amd64.manifestDigest))
            #expect(img.id == amd64.configDigest)
            // What the resolver's HEAD returns for the tag: an up-to-date image costs no pull.
            #expect(img.repoDigests.contains("\(ref.name)@\(index.digest)"))
            #expect(img.wasPulled(ref.repository, as: index.digest))
        }

        @Test(arguments: StoreKind.allCases)
        func labelsAndDockerSchema2ImagesKeepTheirFacts(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "facts")
            let f = sut.bed.fixtures
            let (lref, ldigest) = try sut.push(f.labeled, "labeled", "1.0")
            let (dref, ddigest) = try sut.push(f.dockerImage, "docker-v2", "1.0")
            try sut.pull(lref, ldigest)
            let docker = try sut.pull(dref, ddigest)
            #expect(docker.imageID == f.dockerImage.configDigest)
            let labeled = try #require(try sut.store.observe().image(tagged: lref))
            let config = try JSONDecoder().decode(ImageConfig.self, from: f.labeled.config)
            #expect(!labeled.labels.isEmpty)
            #expect(labeled.labels == config.config?.Labels)
            #expect(labeled.id == f.labeled.configDigest)
            let schema2 = try #require(try sut.store.observe().image(tagged: dref))
            #expect(schema2.id == f.dockerImage.configDigest)
            #expect(schema2.size == sut.expectedSize(f.dockerImage))
        }

        @Test(arguments: StoreKind.allCases)
        func pullingWhatIsPresentIsUpToDateAndChangesNothing(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "again")
            let (ref, digest) = try sut.push(sut.bed.fixtures.small, "small", "1.0")
            try sut.pull(ref, digest)
            let before = try sut.store.observe()
            let again = try sut.pull(ref, digest)
            #expect(again.upToDate)
            #expect(again.layersDownloaded == 0)
            #expect(again.previous == nil)
            let after = try sut.store.observe()
            #expect(after.fingerprint == before.fingerprint)
            #expect(after.ledger.isEmpty)
        }

        @Test(arguments: StoreKind.allCases)
        func aMovedTagLeavesTheOldImageDanglingAndRecordsItInTheLedger(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "moved")
            let moved = sut.bed.fixtures.movedTag
            let (ref, first) = try sut.push(moved.before, "moving", "latest")
            try sut.pull(ref, first)
            let (_, second) = try sut.push(moved.after, "moving", "latest")
            let result = try sut.pull(ref, second)
            #expect(result.previous == moved.before.manifestDigest)

            let observed = try sut.store.observe()
            #expect(observed.images.count == 2)
            let old = try #require(observed.images.first { $0.digest == moved.before.manifestDigest })
            let new = try #require(observed.images.first { $0.digest == moved.after.manifestDigest })
            #expect(old.tags.isEmpty, "the old image is dangling")
            #expect(old.repoDigests == ["\(ref.name)@\(first)"], "a dangling image pulled from a registry keeps its repository digest")
            #expect(new.tags == [ref])
            let entry = try #require(observed.ledger.last)
            #expect(observed.ledger.count == 1)
            #expect(entry.image == moved.before.manifestDigest)
            #expect(entry.imageID == moved.before.configDigest)
            #expect(entry.reference == ref.description)
            #expect(entry.movedTo == moved.after.manifestDigest)
            #expect(entry.run == "test-run")
        }

        @Test(arguments: StoreKind.allCases)
        func untaggingOneOfTwoTagsKeepsTheImageAndRecordsTheTag(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "untag")
            let small = sut.bed.fixtures.small
            let (one, d1) = try sut.push(small, "small", "1.0")
            let (extra, d2) = try sut.push(small, "small", "extra")
            try sut.pull(one, d1)
            try sut.pull(extra, d2)
            #expect(try sut.image(small.manifestDigest)?.tags == [one, extra].sorted())

            try sut.store.untag(extra, cause: "apply", run: "r-untag")
            let observed = try sut.store.observe()
            #expect(observed.images.count == 1)
            #expect(observed.images.first?.tags == [one])
            let entry = try #require(observed.ledger.last)
            #expect(entry.reference == extra.description)
            #expect(entry.image == small.manifestDigest)
            #expect(entry.movedTo == nil)
            #expect(entry.run == "r-untag")
            // Untagging a tag nobody carries is a no-op.
            try sut.store.untag(extra, cause: "apply", run: "r-untag")
            #expect(try sut.store.observe().fingerprint == observed.fingerprint)
        }

        @Test(arguments: StoreKind.allCases)
        func untaggingTheLastTag(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "lasttag")
            let small = sut.bed.fixtures.small
            let (ref, digest) = try sut.push(small, "small", "1.0")
            try sut.pull(ref, digest)
            try sut.store.untag(ref, cause: "apply", run: "r")
            let observed = try sut.store.observe()
            #expect(observed.ledger.map(\.reference) == [ref.description])
            switch kind {
            case .layout, .containerd:
                // The layout keeps the image, dangling, until a removal or prune says otherwise
                // (containerd keeps it by its ID reference).
                #expect(observed.images.map(\.digest) == [small.manifestDigest])
                #expect(observed.images.first?.tags == [])
            case .docker, .registry:
                // The engine's own rule: removing an image's last reference deletes the image
                // (a registry deletes the manifest: it has no tag delete).
                #expect(observed.images.isEmpty)
                #expect(try sut.store.removeImage(small.manifestDigest, run: "r"), "a later removal finds it gone: done")
            }
        }

        @Test(arguments: StoreKind.allCases)
        func removingADanglingImageFreesItsBytesAndRefusesTaggedOnes(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "remove")
            let moved = sut.bed.fixtures.movedTag
            let (ref, first) = try sut.push(moved.before, "moving", "latest")
            try sut.pull(ref, first)
            let (_, second) = try sut.push(moved.after, "moving", "latest")
            try sut.pull(ref, second)

            #expect(try sut.store.removeImage(moved.after.manifestDigest, run: "r") == false, "a tagged image is never removed")
            #expect(try sut.image(moved.after.manifestDigest) != nil)

            _ = try sut.store.collectGarbage()
            #expect(try sut.store.removeImage(moved.before.manifestDigest, run: "r"))
            let observed = try sut.store.observe()
            #expect(observed.images.map(\.digest) == [moved.after.manifestDigest])
            let freed = try sut.store.collectGarbage()
            if sut.kind == .registry {
                #expect(freed == 0, "a registry frees blobs in its own GC, run by its operator")
                #expect(try sut.store.observe().images.map(\.digest) == [moved.after.manifestDigest])
            } else {
                #expect(freed > 0, "removing the old image frees its own layer")
            }
            #expect(try sut.store.collectGarbage() == 0)
            // Removing what is gone is done, not an error.
            #expect(try sut.store.removeImage(moved.before.manifestDigest, run: "r"))
            #expect(try sut.store.removeImage(Digest.sha256(Data("never pulled".utf8)), run: "r"))
        }

        @Test(arguments: StoreKind.allCases)
        func sharedLayersSurviveTheRemovalOfOneImage(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "shared")
            let f = sut.bed.fixtures
            let (a, da) = try sut.push(f.sharedA, "shared-a", "1.0")
            let (b, db) = try sut.push(f.sharedB, "shared-b", "1.0")
            try sut.pull(a, da)
            try sut.pull(b, db)
            try sut.store.untag(a, cause: "apply", run: "r")
            #expect(try sut.store.removeImage(f.sharedA.manifestDigest, run: "r"))
            _ = try sut.store.collectGarbage()
            #expect(try sut.store.observe().images.map(\.digest) == [f.sharedB.manifestDigest])
            // B's layers are all still there: pulling it again downloads nothing.
            let again = try sut.pull(b, db)
            #expect(again.upToDate)
            #expect(again.layersDownloaded == 0)
        }

        @Test(arguments: StoreKind.allCases)
        func aFailedPullChangesNothing(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "fail")
            let ref = try sut.bed.ref(sut.prefix + "absent", "1.0")
            #expect(throws: (any Error).self) {
                try sut.store.pull(ref, from: ref, using: sut.registry, options: PullOptions(platform: StoreUnderTest.amd64, maxConcurrentDownloads: 1, cause: "apply", run: "r")) { _ in }
            }
            #expect(try sut.store.observe().images.isEmpty)
        }

        /// The same manifest converges both stores through planner and executor, and a second
        /// plan has nothing to do.
        @Test(arguments: StoreKind.allCases)
        func theSameManifestConvergesTheStore(_ kind: StoreKind) throws {
            let sut = try StoreUnderTest(kind, "converge")
            let f = sut.bed.fixtures
            let (small, _) = try sut.push(f.small, "small", "1.0")
            let (multi, _) = try sut.push(f.multiPlatform, "multi", "latest")
            let (docker, _) = try sut.push(f.dockerImage, "docker-v2", "1.0")
            let manifest = sut.scratch.file("images.yaml")
            try Data("""
                version: 1
                platform: linux/amd64
                images:
                  - \(small.description)
                  - \(multi.description)
                  - \(docker.description)
                policy:
                  unlisted: remove
                  dangling: prune
                """.utf8).write(to: manifest)
            let set = try ImageSet.load(path: manifest.path)
            func plan() throws -> Plan {
                let observed = try sut.store.observe()
                let resolutions = Resolver(registry: sut.registry, settings: set.registries).resolve(set.desiredTags(), observed: observed, offline: false)
                return Planner.plan(PlanInput(desired: set.desiredTags(), policy: set.policy, observed: observed, resolutions: resolutions,
                                              manifestPath: manifest.path, storeName: sut.store.storeName))
            }
            let first = try plan()
            #expect(first.summary.pull == 3)
            let report = try Executor(store: sut.store, registry: sut.registry, settings: set.registries).apply(first)
            #expect(report.pulled == 3)
            #expect(report.failed == 0)
            let tags = try sut.store.observe().images.flatMap(\.tags)
            #expect(tags.sorted() == [small, multi, docker].sorted())
            let second = try plan()
            #expect(!second.hasChanges)
            #expect(second.summary.keep == 3)
        }
    }
}
