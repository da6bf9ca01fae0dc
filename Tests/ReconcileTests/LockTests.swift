import Foundation
import ImageSet
import OCI
import Registry
import Store
import Testing
@testable import Reconcile

/// The lock document, matching a lock against a manifest, and resolving from a lock, without a
/// network: the registry client points at a closed port, so any request would fail.
struct LockTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_547_200)  // 2025-12-01T00:00:00Z
    static let closed = "127.0.0.1:1"

    static func entry(_ ref: String, _ name: String, index: String? = nil, platform: Platform = F.amd64, at: Date = t0,
                      selectedBy: String? = nil) -> ImageLock.Entry {
        ImageLock.Entry(reference: F.ref(ref), platform: platform, index: index.map(F.d), manifest: F.d(name),
                        imageID: F.d("cfg-" + name), resolvedAt: at, selectedBy: selectedBy)
    }

    static func set(_ yaml: String) throws -> ImageSet {
        try ImageSet.parse("version: 1\nplatform: linux/amd64\nimages:\n" + yaml, file: "images.yaml")
    }

    static func loaded(_ entries: [ImageLock.Entry], manifestDigest: Digest = F.d("yaml")) -> LoadedLock {
        let lock = ImageLock(manifest: .init(path: "images.yaml", digest: manifestDigest), entries: entries)
        return LoadedLock(lock: lock, digest: lock.digest, source: "/x/images.lock")
    }

    /// A client whose every request fails at once (nothing listens on port 1).
    static let offlineRegistry = RegistryClient(settings: { _ in
        RegistryHostSettings(insecure: true, retry: RetryPolicy(maxAttempts: 1, baseDelay: 0, maxDelay: 0, totalBudget: 1))
    })

    // MARK: Encoding

    @Test func encodingIsCanonicalSortedAndStable() throws {
        let lock = ImageLock(manifest: .init(path: "images.yaml", digest: F.d("yaml")), entries: [
            Self.entry("redis:7", "R", selectedBy: "semver >=7"),
            Self.entry("nginx:1.25", "N", index: "NI", at: Self.t0.addingTimeInterval(60.7)),
        ])
        let text = String(decoding: lock.encoded(), as: UTF8.self)
        #expect(text == """
        {
          "entries": [
            {
              "imageID": "\(F.d("cfg-N"))",
              "index": "\(F.d("NI"))",
              "manifest": "\(F.d("N"))",
              "platform": "linux/amd64",
              "reference": "docker.io/library/nginx:1.25",
              "resolvedAt": "2025-12-01T00:01:00Z"
            },
            {
              "imageID": "\(F.d("cfg-R"))",
              "manifest": "\(F.d("R"))",
              "platform": "linux/amd64",
              "reference": "docker.io/library/redis:7",
              "resolvedAt": "2025-12-01T00:00:00Z",
              "selectedBy": "semver >=7"
            }
          ],
          "lockVersion": 1,
          "manifest": {
            "digest": "\(F.d("yaml"))",
            "path": "images.yaml"
          },
          "resolvedAt": "2025-12-01T00:01:00Z"
        }

        """)
        let back = try ImageLock.decode(lock.encoded(), source: "images.lock")
        #expect(back == lock)
        #expect(back.encoded() == lock.encoded())
        #expect(back.digest == Digest.sha256(lock.encoded()))
        // An empty lock is still one stable document.
        let empty = ImageLock(manifest: .init(path: "a.yaml", digest: F.d("a")), entries: [], resolvedAt: Self.t0)
        #expect(try ImageLock.decode(empty.encoded(), source: "x").encoded() == empty.encoded())
        #expect(String(decoding: empty.encoded(), as: UTF8.self).hasPrefix("{\n  \"entries\": [],\n  \"lockVersion\": 1,"))
    }

    @Test(arguments: [
        ("\"manifest\": \"\(F.d("N"))\"", "\"manifest\": \"sha256:abc\"", "manifest: invalid digest"),
        ("\"lockVersion\": 1", "\"lockVersion\": 2", "lock version 2"),
        ("\"platform\": \"linux/arm64\"", "\"platform\": \"linux/amd64\"", "locked twice"),
        ("\"path\": \"images.yaml\"", "\"path\": \"images.yaml\", \"path\": \"o.yaml\"", "occurs twice"),
        ("\"reference\": \"docker.io/library/nginx:1.25\"", "\"reference\": \"docker.io/library/NGINX:1.25\"", "invalid reference"),
        ("\"resolvedAt\": \"2025-12-01T00:00:00Z\"\n}", "\"resolvedAt\": \"yesterday\"\n}", "is not an RFC 3339 time"),
    ])
    func decodeRefusesDamage(_ find: String, _ replacement: String, _ expected: String) throws {
        let lock = ImageLock(manifest: .init(path: "images.yaml", digest: F.d("yaml")),
                             entries: [Self.entry("nginx:1.25", "N"), Self.entry("nginx:1.25", "N2", platform: Platform(os: "linux", architecture: "arm64"))])
        let text = String(decoding: lock.encoded(), as: UTF8.self)
        #expect(text.contains(find))
        let damaged = Data(text.replacingOccurrences(of: find, with: replacement).utf8)
        #expect(throws: LockFileError.self) { try ImageLock.decode(damaged, source: "images.lock") }
        do { _ = try ImageLock.decode(damaged, source: "images.lock") } catch let e as LockFileError {
            #expect(e.description.hasPrefix("images.lock is not a usable lock: "), "\(e)")
            #expect(e.description.contains(expected), "\(e)")
        }
    }

    // MARK: Matching the manifest

    @Test func mismatchNamesEveryEntry() throws {
        let set = try Self.set("""
          - name: nginx
            tags: ["1.25"]
          - name: redis
            tags: ["7"]
          - name: pinned
            tags: ["1"]
            digest: \(F.d("P-pin"))
          - name: windowed
            select: { semver: ">=1" }
        """)
        let lock = Self.loaded([
            Self.entry("nginx:1.25", "N"),
            Self.entry("pinned:1", "P"),
            Self.entry("gone:1", "G"),
        ])
        #expect(throws: LockError.self) { try LockedResolution.desired(for: set, lock: lock, manifestDigest: nil) }
        do { _ = try LockedResolution.desired(for: set, lock: lock, manifestDigest: nil) } catch let e as LockError {
            guard case .mismatch(let name, let manifest, let lines, _) = e else { Issue.record("\(e)"); return }
            #expect(name == "images.lock" && manifest == "images.yaml")
            #expect(lines == [
                "docker.io/library/pinned:1 pins \(F.d("P-pin")), the lock has \(F.d("P"))",
                "docker.io/library/redis:7 is not locked",
                "the window docker.io/library/windowed (semver >=1) is not locked",
                "docker.io/library/gone:1 (linux/amd64) is locked but images.yaml does not ask for it",
            ])
            #expect(e.description.hasPrefix("images.lock does not match images.yaml: docker.io/library/pinned:1 pins"))
            #expect(e.description.hasSuffix("; run 'berth lock -f images.yaml'"))
        }
    }

    @Test func otherPlatformIsAMismatch() throws {
        let set = try Self.set("  - nginx:1.25\n")
        let lock = Self.loaded([Self.entry("nginx:1.25", "N", platform: Platform(os: "linux", architecture: "arm64"))])
        #expect(throws: LockError.mismatch(lock: "images.lock", manifest: "images.yaml",
                                           lines: ["docker.io/library/nginx:1.25 is locked for linux/arm64, not linux/amd64"], path: "images.yaml")) {
            try LockedResolution.desired(for: set, lock: lock, manifestDigest: nil)
        }
    }

    @Test func matchingLockGivesDesiredSetWithWindowsAndANoteWhenTheManifestChanged() throws {
        let set = try Self.set("""
          - nginx:1.25
          - name: redis
            select: { semver: ">=7", newest: 2 }
        """)
        let window = set.windows()[0].selection.description
        let lock = Self.loaded([
            Self.entry("nginx:1.25", "N"),
            Self.entry("redis:7.2", "R72", selectedBy: window),
            Self.entry("redis:7.1", "R71", selectedBy: window),
        ])
        let same = try LockedResolution.desired(for: set, lock: lock, manifestDigest: F.d("yaml"))
        #expect(same.desired.map(\.reference.description) == ["docker.io/library/nginx:1.25", "docker.io/library/redis:7.1", "docker.io/library/redis:7.2"])
        #expect(same.desired.filter { $0.selectedBy == window }.count == 2)
        #expect(same.windows.count == 1 && Set(same.windows[0].selected) == ["7.1", "7.2"] && same.windows[0].checked)
        #expect(same.notes.isEmpty)
        let edited = try LockedResolution.desired(for: set, lock: lock, manifestDigest: F.d("yaml, with a comment"))
        #expect(edited.notes.count == 1 && edited.notes[0].hasPrefix("images.yaml changed since images.lock was made"))
    }

    // MARK: Resolving from the lock

    @Test func presentImagesAreUpToDateWithoutAnyRequest() throws {
        let h = Self.closed
        let set = try Self.set("  - \(h)/team/a:1\n  - \(h)/team/b:1\n")
        let desired = set.desiredTags()
        let a = F.image("A", tags: ["\(h)/team/a:1"], layers: ["x"], pulledAs: "AI")
        let b = F.image("B", tags: ["\(h)/team/b:1"], layers: ["y"])
        let lock = ImageLock(manifest: .init(path: "images.yaml", digest: F.d("yaml")), entries: [
            Self.entry("\(h)/team/a:1", "A", index: "AI"), Self.entry("\(h)/team/b:1", "B"),
        ])
        let resolver = LockedResolution(registry: Self.offlineRegistry, settings: [:])
        let started = Date()
        let r = resolver.resolve(desired, lock: lock, observed: Observed(images: [a, b]), offline: false)
        #expect(r[F.ref("\(h)/team/a:1")] == .upToDate(F.d("AI")))
        #expect(r[F.ref("\(h)/team/b:1")] == .upToDate(F.d("B")))
        #expect(Date().timeIntervalSince(started) < 1)
        let plan = Planner.plan(PlanInput(desired: desired, policy: Policy(), observed: Observed(images: [a, b]), resolutions: r,
                                          manifestPath: "images.yaml", storeName: "t", lock: lock.digest.description, lockSource: "images.lock"))
        #expect(plan.isConverged && plan.summary.keep == 2)
        #expect(plan.inputs.lock == lock.digest.description && plan.inputs.lockSource == "images.lock")
        // A saved locked plan re-derives to itself.
        #expect(Planner.recheck(plan, against: Observed(images: [a, b])).isEmpty)
    }

    @Test func imageHeldUnderAnotherNameIsRemoteFromTheStoreAndAnAbsentOneAsksByDigest() throws {
        let h = Self.closed
        let set = try Self.set("  - \(h)/team/a:2\n  - \(h)/team/c:1\n")
        let desired = set.desiredTags()
        let held = F.image("A", tags: ["\(h)/team/a:1"], layers: ["x"])
        let lock = ImageLock(manifest: .init(path: "images.yaml", digest: F.d("yaml")), entries: [
            Self.entry("\(h)/team/a:2", "A"), Self.entry("\(h)/team/c:1", "C"),
        ])
        let r = LockedResolution(registry: Self.offlineRegistry, settings: [:])
            .resolve(desired, lock: lock, observed: Observed(images: [held]), offline: false)
        guard case .remote(let remote)? = r[F.ref("\(h)/team/a:2")] else { Issue.record("\(String(describing: r))"); return }
        #expect(remote.manifest == F.d("A") && remote.pullDigest == F.d("A") && remote.blobs == held.blobs)
        guard case .failed(let why)? = r[F.ref("\(h)/team/c:1")] else { Issue.record("\(String(describing: r))"); return }
        #expect(why.hasPrefix("the locked manifest \(F.d("C")): "), "\(why)")
        #expect(why.contains("/team/c@\(F.d("C"))") || why.contains(F.d("C").description), "\(why)")
        // Offline, the absent image is skipped, not failed.
        let off = LockedResolution(registry: Self.offlineRegistry, settings: [:])
            .resolve(desired, lock: lock, observed: Observed(images: [held]), offline: true)
        #expect(off[F.ref("\(h)/team/c:1")] == .unchecked("offline"))
    }

    @Test func updateResolvesOnlyWhatItNamesAndCopiesTheRest() throws {
        let h = Self.closed
        let set = try Self.set("  - \(h)/team/a:1\n  - \(h)/team/b:1\n  - \(h)/team/b:2\n")
        let previous = ImageLock(manifest: .init(path: "images.yaml", digest: F.d("yaml")), entries: [
            Self.entry("\(h)/team/a:1", "A"), Self.entry("\(h)/team/b:1", "B1"), Self.entry("\(h)/team/b:2", "B2"),
        ])
        let locker = Locker(registry: Self.offlineRegistry, settings: [:])
        // --update b:2 asks the (closed) registry for b:2 alone (a:1 and b:1 are copied without
        // a request, or they would fail too), and fails naming only it.
        do {
            _ = try locker.lock(set, manifest: previous.manifest, previous: previous, update: ["\(h)/team/b:2"], now: Self.t0)
            Issue.record("locking against a closed port succeeded")
        } catch let e as LockError {
            guard case .unresolved(let lines) = e else { Issue.record("\(e)"); return }
            #expect(lines.count == 1 && lines[0].hasPrefix("\(h)/team/b:2: "), "\(lines)")
            #expect(e.description.hasSuffix("; nothing was written"))
        }
        // A repository name matches each of its references.
        let filter = try UpdateFilter(["\(h)/team/b"], desired: set)
        #expect(filter.matches(F.ref("\(h)/team/b:1")) && filter.matches(F.ref("\(h)/team/b:2")) && !filter.matches(F.ref("\(h)/team/a:1")))
        #expect(throws: LockError.updateMatchesNothing("nosuch")) { try UpdateFilter(["nosuch"], desired: set) }
    }

    @Test func unchangedEntriesKeepTheirTimesSoTheBytesDoNotChange() throws {
        let old = Self.entry("nginx:1.25", "N", at: Self.t0)
        var fresh = Self.entry("nginx:1.25", "N", at: Self.t0.addingTimeInterval(999))
        #expect(old.sameResolution(as: fresh))
        fresh.selectedBy = "x"
        #expect(old.sameResolution(as: fresh))
        #expect(!old.sameResolution(as: Self.entry("nginx:1.25", "N2")))
        // The document's time is its newest entry's.
        let lock = ImageLock(manifest: .init(path: "i.yaml", digest: F.d("i")), entries: [old, Self.entry("a:1", "A", at: Self.t0.addingTimeInterval(5))])
        #expect(lock.resolvedAt == Self.t0.addingTimeInterval(5))
    }

    // MARK: Run records and metrics

    @Test func metricsCarryTheLockAndOldRecordsStillDecode() throws {
        var run = RunRecord(id: "r", startedAt: Self.t0, seconds: 1, ok: true, pulled: 1, updated: 0, untagged: 0, removed: 0,
                            pruned: 0, failed: 0, downloadedBytes: 10, reclaimedBytes: 0, errors: [])
        #expect(!Metrics.text(runs: [run]).contains("berth_lock_info"))
        run.lock = F.d("lock").description
        run.lockSource = "oci://127.0.0.1:5000/locks/web:prod"
        let text = Metrics.text(runs: [run])
        #expect(text.contains("# TYPE berth_lock_info gauge\nberth_lock_info{lock=\"\(F.d("lock"))\",source=\"oci://127.0.0.1:5000/locks/web:prod\"} 1\n"), "\(text)")
        #expect(Metrics.label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        let old = Data("""
        {"id":"r","startedAt":"2025-12-01T00:00:00Z","seconds":1,"ok":true,"pulled":0,"updated":0,"untagged":0,"removed":0,
         "pruned":0,"failed":0,"downloadedBytes":0,"reclaimedBytes":0,"errors":[]}
        """.utf8)
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        let decoded = try d.decode(RunRecord.self, from: old)
        #expect(decoded.lock == nil && decoded.lockSource == nil)
    }

    @Test func lockLocations() throws {
        #expect(try LockLocation(parsing: "ci/images.lock") == .file("ci/images.lock"))
        #expect(try LockLocation(parsing: "oci://127.0.0.1:5000/locks/web:prod") == .registry(try Reference(parsing: "127.0.0.1:5000/locks/web:prod")))
        #expect(throws: LockError.self) { try LockLocation(parsing: "oci://127.0.0.1:5000/locks/web") }
        #expect(LockLocation.beside(manifest: "/etc/berth/images.yaml") == .file("/etc/berth/images.lock"))
        #expect(LockLocation.beside(manifest: "images.yaml") == .file("images.lock"))
        // The artifact: the lock's media type, the empty config, one titled layer.
        let data = Data("{}\n".utf8)
        let m = try JSONSerialization.jsonObject(with: LockArtifact.manifest(for: data)) as! [String: Any]
        #expect(m["artifactType"] as? String == "application/vnd.berth.lock.v1+json")
        #expect(m["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
        let config = m["config"] as! [String: Any]
        #expect(config["digest"] as? String == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        let layer = (m["layers"] as! [[String: Any]])[0]
        #expect(layer["digest"] as? String == Digest.sha256(data).description && layer["size"] as? Int == 3)
        #expect((layer["annotations"] as? [String: String])?["org.opencontainers.image.title"] == "images.lock")
    }
}
