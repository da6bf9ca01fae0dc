import Foundation
import OCI
import Testing
import TestSupport

/// Twenty hosts, each its own berth process and embedded store, converge to one image set
/// through one pull-through cache: the upstream serves each blob a bounded number of times,
/// however many hosts there are.
@Suite(.serialized)
struct FleetTests {
    static let hosts = 20

    @Test func aFleetConvergesThroughOnePullThroughCache() throws {
        let set = try FleetSet()
        let upstream = try RegistryServer(name: "upstream")
        defer { upstream.stop() }
        try set.push(to: upstream)
        let cache = try RegistryServer(name: "cache", proxyOf: upstream.baseURL)
        defer { cache.stop() }
        let fleet = try Fleet(size: Self.hosts)
        defer { fleet.remove() }
        try set.manifest(upstream: upstream.host, mirrors: [cache.host]).write(toFile: fleet.manifestPath, atomically: true, encoding: .utf8)

        // Round 1: every host pulls everything, cold cache.
        let upMark = upstream.accessLog.count, cacheMark = cache.accessLog.count
        let apply = fleet.run { ["apply", "-f", fleet.manifestPath, "--store", fleet.store($0), "--yes"] }
        #expect(apply.runs.allExit(0), "\(apply.runs.notExiting(0))")
        let served = cache.blobsServed(from: cacheMark)
        _ = cache.settle(served)  // the cache fills its storage in the background
        let round1 = upstream.requestCounts(from: upMark)
        // Round 3 measures the hosts against a warm cache: warm what the cache lacks (see `warm`).
        let warmed = try cache.warm(set.blobsByRepository, served: served)
        let direct = upstream.requestCounts(from: upMark, userAgentPrefix: "berth/")
        #expect(direct.byKind.isEmpty, "no host went around the cache: \(direct)")

        // Every blob reached the upstream (under one repository or another: a host pulls a blob
        // shared by two repositories once), and far fewer times than once per host.
        let fetched = Set(upstream.accessLogEntries(from: upMark).filter { $0.kind == .blobGet }.map(\.object))
        let needed = Set(set.distinctBlobs.map(\.description))
        #expect(needed.isSubset(of: fetched), "never fetched: \(needed.subtracting(fetched).sorted())")
        // distribution 2.8's cache fetches an uncached blob twice (one GET streams the answer, one
        // fills its storage), and once more for every request that arrives while that is in flight:
        // a cold herd costs more than one GET per blob, bounded by one per host and blob.
        let noCache = Self.hosts * set.distinctBlobs.count
        #expect(round1.blobGets >= 2 * set.distinctBlobs.count, "\(round1)")
        #expect(round1.blobGets < noCache, "upstream blob GETs \(round1.blobGets) ≥ \(noCache), as without a cache: \(round1.blobGetsByDigest)")

        // Round 2: every host is converged (a plan changes nothing) and lists the set.
        let upMark2 = upstream.accessLog.count, cacheMark2 = cache.accessLog.count
        let plan = fleet.run { ["plan", "-f", fleet.manifestPath, "--store", fleet.store($0), "--detailed-exitcode"] }
        #expect(plan.runs.allExit(0), "\(plan.runs.notExiting(0))")
        let round2 = upstream.requestCounts(from: upMark2), round2Cache = cache.requestCounts(from: cacheMark2)
        #expect(round2.blobGets == 0, "a no-op round pulls nothing: \(round2)")
        let ls = fleet.run { ["image", "ls", "--store", fleet.store($0), "--format", "{{.Repository}}:{{.Tag}}"] }
        let expected = set.references(at: upstream.host)
        for run in ls.runs {
            let listed = run.stdout.split(separator: "\n").map(String.init).sorted()
            #expect(listed == expected, "host \(run.host) lists \(listed)")
        }

        // Round 3: new hosts (empty stores) join a warm cache: the upstream serves no blob at all.
        let joiners = try Fleet(size: Self.hosts)
        defer { joiners.remove() }
        let upMark3 = upstream.accessLog.count
        let join = joiners.run { ["apply", "-f", fleet.manifestPath, "--store", joiners.store($0), "--yes"] }
        #expect(join.runs.allExit(0), "\(join.runs.notExiting(0))")
        let round3 = upstream.requestCounts(from: upMark3)
        #expect(round3.blobGets == 0, "a warm cache serves every blob: \(round3.blobGetsByDigest)")
        #expect(round3[.digestManifestGet] == 0, "the cache holds every manifest by digest: \(round3)")

        let one = apply.runs.map(\.seconds).sorted()[apply.runs.count / 2]
        print("""
            fleet of \(Self.hosts) through a pull-through cache (\(set.tagCount) tags, \(set.distinctBlobs.count) distinct blobs, \
            \(set.repositoryBlobCount) repository-blob pairs):
              round 1 (apply, cold cache): \(String(format: "%.1f", apply.seconds)) s for the fleet, median host \(String(format: "%.1f", one)) s
                upstream: \(round1); cache warmed for round 3: \(warmed.dropped) it served and did not store, \(warmed.unasked) never asked for under that repository
              round 2 (plan, no-op, unlocked): upstream \(round2); cache \(round2Cache)
              round 3 (\(Self.hosts) new hosts, warm cache): \(String(format: "%.1f", join.seconds)) s; upstream \(round3)
            """)
    }
}

/// The same fleet with a lock: CI resolved the tags once (`berth lock`), and every host applies
/// `--locked`, so no host asks what a tag means, through the cache or past it.
@Suite(.serialized)
struct LockedFleetTests {
    static let hosts = FleetTests.hosts

    @Test func aLockedFleetAsksNoTagAndNoOpRoundsCostNothing() throws {
        let set = try FleetSet(seed: 0xF1EE8)
        let upstream = try RegistryServer(name: "upstream")
        defer { upstream.stop() }
        try set.push(to: upstream)
        let cache = try RegistryServer(name: "cache", proxyOf: upstream.baseURL)
        defer { cache.stop() }
        let fleet = try Fleet(size: Self.hosts)
        defer { fleet.remove() }
        try set.manifest(upstream: upstream.host, mirrors: [cache.host]).write(toFile: fleet.manifestPath, atomically: true, encoding: .utf8)

        // CI: one lock for the whole fleet, written beside the manifest (images.lock).
        let lock = try Berth.run(["lock", "-f", fleet.manifestPath])
        #expect(lock.status == 0, "\(lock.stdoutText)\(lock.stderrText)")
        let lockPath = fleet.root.path + "/images.lock"
        #expect(FileManager.default.fileExists(atPath: lockPath))
        func apply(_ f: Fleet) -> (runs: [Fleet.HostRun], seconds: Double) {
            f.run { ["apply", "-f", fleet.manifestPath, "--locked", "--store", f.store($0), "--yes"] }
        }

        // Round 1: cold cache, every host pulls by digest.
        let mark1 = upstream.accessLog.count, cacheMark1 = cache.accessLog.count
        let first = apply(fleet)
        #expect(first.runs.allExit(0), "\(first.runs.notExiting(0))")
        let served = cache.blobsServed(from: cacheMark1)
        _ = cache.settle(served)
        let round1 = upstream.requestCounts(from: mark1)
        let warmed = try cache.warm(set.blobsByRepository, served: served)  // the cache's own misses (see `warm`)
        #expect(round1[.tagManifestHead] == 0 && round1[.tagManifestGet] == 0, "a locked fleet names no tag upstream: \(round1)")
        let fetched = Set(upstream.accessLogEntries(from: mark1).filter { $0.kind == .blobGet }.map(\.object))
        #expect(Set(set.distinctBlobs.map(\.description)).isSubset(of: fetched), "every blob reached the upstream: \(round1)")
        #expect(round1.blobGets < Self.hosts * set.distinctBlobs.count, "\(round1)")

        // Round 2: a no-op round: nothing at the upstream, no HEAD at the cache.
        let mark2 = upstream.accessLog.count, cacheMark2 = cache.accessLog.count
        let second = apply(fleet)
        #expect(second.runs.allExit(0), "\(second.runs.notExiting(0))")
        let round2 = upstream.requestCounts(from: mark2), round2Cache = cache.requestCounts(from: cacheMark2)
        #expect(round2.heads == 0 && round2[.tagManifestGet] == 0 && round2.blobGets == 0, "upstream, no-op locked round: \(round2)")
        #expect(round2Cache.heads == 0, "cache, no-op locked round: \(round2Cache)")
        let plan = fleet.run { ["plan", "-f", fleet.manifestPath, "--locked", "--store", fleet.store($0), "--detailed-exitcode"] }
        #expect(plan.runs.allExit(0), "every host is converged: \(plan.runs.notExiting(0))")

        // Round 3: new hosts join the warm cache: the upstream sees no HEAD, no tag, no blob.
        let joiners = try Fleet(size: Self.hosts)
        defer { joiners.remove() }
        let mark3 = upstream.accessLog.count
        let join = apply(joiners)
        #expect(join.runs.allExit(0), "\(join.runs.notExiting(0))")
        let round3 = upstream.requestCounts(from: mark3)
        #expect(round3.heads == 0 && round3[.tagManifestGet] == 0 && round3.blobGets == 0, "upstream, joiners: \(round3)")
        let expected = set.references(at: upstream.host)
        for run in joiners.run({ ["image", "ls", "--store", joiners.store($0), "--format", "{{.Repository}}:{{.Tag}}"] }).runs {
            #expect(run.stdout.split(separator: "\n").map(String.init).sorted() == expected, "host \(run.host): \(run.stdout)")
        }
        print("""
            locked fleet of \(Self.hosts) (\(set.tagCount) tags, \(set.distinctBlobs.count) distinct blobs):
              round 1 (cold cache): \(String(format: "%.1f", first.seconds)) s; upstream \(round1); cache warmed: \(warmed.dropped) dropped, \(warmed.unasked) unasked
              round 2 (no-op): \(String(format: "%.1f", second.seconds)) s; upstream \(round2.description.isEmpty ? "nothing" : round2.description); cache \(round2Cache.description.isEmpty ? "nothing" : round2Cache.description)
              round 3 (joiners, warm cache): \(String(format: "%.1f", join.seconds)) s; upstream \(round3.description.isEmpty ? "nothing" : round3.description)
            """)
    }
}

/// A mirror that berth itself filled: one `berth apply --store registry://MIRROR/mirror` copies
/// the set from the upstream; the fleet pulls from the mirror, and the upstream sees only the filler.
@Suite(.serialized)
struct FilledMirrorFleetTests {
    /// The filler may store a multi-platform tag as the index or as the one platform the manifest asks for.
    static let anyManifest = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList]
        .joined(separator: ", ")
    @Test func theUpstreamSeesOnlyTheFiller() throws {
        let set = try FleetSet(seed: 0xF1EE9)
        let upstream = try RegistryServer(name: "upstream")
        defer { upstream.stop() }
        try set.push(to: upstream)
        let mirror = try RegistryServer(name: "mirror")
        defer { mirror.stop() }
        let fleet = try Fleet(size: FleetTests.hosts)
        defer { fleet.remove() }

        let filler = fleet.root.path + "/filler.yaml"
        try set.manifest(upstream: upstream.host, mirrors: []).write(toFile: filler, atomically: true, encoding: .utf8)
        let fill = try Berth.run(["apply", "-f", filler, "--store", "registry://\(mirror.host)/mirror", "--yes"])
        #expect(fill.status == 0, "\(fill.stdoutText)\(fill.stderrText)")
        // Source D/P:T is stored at MIRROR/mirror/enc(D)/P:T, enc(D) being D with ':' as '_'.
        let prefix = "mirror/\(upstream.host.replacingOccurrences(of: ":", with: "_"))"
        for e in set.entries {
            let head = try mirror.request("/v2/\(prefix)/\(e.repository)/manifests/\(e.tag)", method: "HEAD",
                                          headers: ["Accept": FilledMirrorFleetTests.anyManifest])
            #expect(head.status == 200, "\(prefix)/\(e.repository):\(e.tag) in the mirror")
        }

        try set.manifest(upstream: upstream.host, mirrors: ["\(mirror.host)/\(prefix)"])
            .write(toFile: fleet.manifestPath, atomically: true, encoding: .utf8)
        let mark = upstream.accessLog.count
        let apply = fleet.run { ["apply", "-f", fleet.manifestPath, "--store", fleet.store($0), "--yes"] }
        #expect(apply.runs.allExit(0), "\(apply.runs.notExiting(0))")
        let plan = fleet.run { ["plan", "-f", fleet.manifestPath, "--store", fleet.store($0), "--detailed-exitcode"] }
        #expect(plan.runs.allExit(0), "\(plan.runs.notExiting(0))")
        let after = upstream.requestCounts(from: mark)
        #expect(after.byKind.isEmpty, "the fleet never reached the upstream: \(after)")
        let expected = set.references(at: upstream.host)
        for run in fleet.run({ ["image", "ls", "--store", fleet.store($0), "--format", "{{.Repository}}:{{.Tag}}"] }).runs {
            #expect(run.stdout.split(separator: "\n").map(String.init).sorted() == expected, "host \(run.host): \(run.stdout)")
        }
        print("filled mirror: fleet of \(FleetTests.hosts) in \(String(format: "%.1f", apply.seconds)) s; upstream after the filler: \(after.description.isEmpty ? "nothing" : after.description)")
    }
}
