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

        // Every (repository, blob) pair reached the upstream, and not once per host.
        let fetched = Set(upstream.accessLogEntries(from: upMark).filter { $0.kind == .blobGet }
            .compactMap { e in e.repository.map { "\($0)@\(e.object)" } })
        let needed = Set(set.blobsByRepository.flatMap { repo, blobs in blobs.map { "\(repo)@\($0)" } })
        #expect(needed.isSubset(of: fetched), "never fetched: \(needed.subtracting(fetched).sorted())")
        // distribution 2.8's cache fetches an uncached blob twice (one GET streams to the client,
        // one fills its storage) and once more for each request that arrives while that is in flight.
        let bound = 2 * set.repositoryBlobCount + Self.hosts
        #expect(round1.blobGets <= bound, "upstream blob GETs \(round1.blobGets) > \(bound): \(round1.blobGetsByDigest)")
        #expect(round1.blobGets < Self.hosts * set.repositoryBlobCount / 2, "the cache saved little: \(round1)")

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

        let one = apply.runs.map(\.seconds).sorted()[apply.runs.count / 2]
        print("""
            fleet of \(Self.hosts) through a pull-through cache (\(set.tagCount) tags, \(set.distinctBlobs.count) distinct blobs, \
            \(set.repositoryBlobCount) repository-blob pairs):
              round 1 (apply, cold cache): \(String(format: "%.1f", apply.seconds)) s for the fleet, median host \(String(format: "%.1f", one)) s
                upstream: \(round1)
              round 2 (plan, no-op, unlocked): upstream \(round2); cache \(round2Cache)
            """)
    }
}
