import Foundation
import OCI
import Testing
import TestSupport

/// The test bed's pull-through cache (distribution 2.8 in proxy mode) and its access-log counts,
/// proven on the real registry before the fleet test leans on them.
@Suite struct PullThroughCacheTests {
    static let lines: [(line: String, method: String, target: String, status: Int, agent: String, kind: RegistryRequestKind)] = [
        (#"127.0.0.1 - - [01/Dec/2026:23:53:10 +0000] "HEAD /v2/demo/hello/manifests/1.0 HTTP/1.1" 200 401 "" "curl/7.88.1""#,
         "HEAD", "/v2/demo/hello/manifests/1.0", 200, "curl/7.88.1", .tagManifestHead),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:10 +0000] "GET /v2/a/b/manifests/sha256:62d2a6ad0184dd9a10ff9913a95532fec119a2964320a5dcb6ec02cf3c73812f HTTP/1.1" 200 401 "" "berth/0.1 (linux)""#,
         "GET", "/v2/a/b/manifests/sha256:62d2a6ad0184dd9a10ff9913a95532fec119a2964320a5dcb6ec02cf3c73812f", 200, "berth/0.1 (linux)", .digestManifestGet),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:14 +0000] "GET /v2/demo/hello/blobs/sha256:62d2 HTTP/1.1" 200 243 "" "Go-http-client/1.1""#,
         "GET", "/v2/demo/hello/blobs/sha256:62d2", 200, "Go-http-client/1.1", .blobGet),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:14 +0000] "HEAD /v2/x/blobs/sha256:62d2 HTTP/1.1" 404 157 "" "Go-http-client/1.1""#,
         "HEAD", "/v2/x/blobs/sha256:62d2", 404, "Go-http-client/1.1", .blobHead),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:08 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "Go-http-client/1.1""#,
         "GET", "/v2/", 200, "Go-http-client/1.1", .ping),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:08 +0000] "POST /v2/x/blobs/uploads/ HTTP/1.1" 202 0 "" "curl/7.88.1""#,
         "POST", "/v2/x/blobs/uploads/", 202, "curl/7.88.1", .other),
        (#"127.0.0.1 - - [01/Dec/2026:23:53:08 +0000] "GET /v2/x/tags/list?n=100 HTTP/1.1" 200 30 "" "berth/0.1""#,
         "GET", "/v2/x/tags/list?n=100", 200, "berth/0.1", .other),
    ]

    @Test(arguments: 0..<lines.count) func accessLogLinesParse(_ i: Int) throws {
        let c = Self.lines[i]
        let entry = try #require(AccessLogEntry(line: c.line))
        #expect(entry.method == c.method)
        #expect(entry.target == c.target)
        #expect(entry.status == c.status)
        #expect(entry.userAgent == c.agent)
        #expect(entry.kind == c.kind)
    }

    @Test func otherLinesAreNotRequests() {
        #expect(AccessLogEntry(line: "time=\"2026-12-01T23:53:08Z\" level=info msg=\"listening on 127.0.0.1:5000\"") == nil)
        #expect(AccessLogEntry(line: "") == nil)
    }

    /// A cache fetches what it lacks from its upstream and serves it from storage afterwards;
    /// tag lookups go to the upstream every time, digest lookups of cached manifests do not.
    @Test func theCacheFetchesOnceAndAsksTagsEveryTime() throws {
        let upstream = try RegistryServer(name: "upstream")
        defer { upstream.stop() }
        let image = try Fixtures.standardSet(seed: 91).small
        _ = try upstream.push(image, repository: "team/app", tag: "1.0")
        let cache = try RegistryServer(name: "cache", proxyOf: upstream.baseURL)
        defer { cache.stop() }
        #expect(cache.proxyRemoteURL == upstream.baseURL)
        let mark = upstream.accessLog.count
        let accept = ["Accept": MediaType.ociManifest]
        for _ in 0..<3 {
            let head = try cache.request("/v2/team/app/manifests/1.0", method: "HEAD", headers: accept)
            #expect(head.status == 200)
            let get = try cache.request("/v2/team/app/manifests/\(image.manifestDigest)", headers: accept)
            #expect(get.status == 200)
            let blob = try cache.request("/v2/team/app/blobs/\(image.layerDigests[0])")
            #expect(blob.status == 200)
            #expect(Digest.sha256(blob.body) == image.layerDigests[0])
        }
        // The storage is filled in the background after the first answer; give it a moment.
        Thread.sleep(forTimeInterval: 0.5)
        let counts = upstream.requestCounts(from: mark)
        print("upstream behind a cache, 3 rounds of tag HEAD + digest GET + blob GET: \(counts)")
        #expect(counts[.tagManifestHead] == 3, "every tag lookup reaches the upstream: \(counts)")
        #expect(counts.blobGetsByDigest[image.layerDigests[0].description] ?? 0 >= 1)
        // distribution 2.8 streams the first answer from one upstream GET and fills its storage from another.
        #expect(counts.blobGets <= 2, "later blob GETs are served from the cache: \(counts)")
        #expect(counts[.digestManifestGet] + counts[.tagManifestGet] <= 2, "\(counts)")
        #expect(cache.requestCounts(from: 0)[.blobGet] == 3)
        #expect(upstream.accessLogEntries(from: mark).allSatisfy { $0.userAgent.hasPrefix("Go-http-client") },
                "only the cache talks to the upstream")
    }

    @Test func aCacheRefusesPushes() throws {
        let upstream = try RegistryServer(name: "upstream")
        defer { upstream.stop() }
        let cache = try RegistryServer(name: "cache", proxyOf: upstream.baseURL)
        defer { cache.stop() }
        let start = try cache.request("/v2/team/app/blobs/uploads/", method: "POST")
        #expect(start.status >= 400, "status \(start.status)")
    }
}
