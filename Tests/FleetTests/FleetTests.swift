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
        let upMark = upstream.accessLog.count
        let apply = fleet.run { ["apply", "-f", fleet.manifestPath, "--store", fleet.store($0), "--yes"] }
        #expect(apply.runs.allExit(0), "\(apply.runs.notExiting(0))")
        Thread.sleep(forTimeInterval: 0.5)  // the cache fills its storage in the background
        let round1 = upstream.requestCounts(from: upMark)
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
                upstream: \(round1)
              round 2 (plan, no-op, unlocked): upstream \(round2); cache \(round2Cache)
              round 3 (\(Self.hosts) new hosts, warm cache): \(String(format: "%.1f", join.seconds)) s; upstream \(round3)
            """)
    }
}
