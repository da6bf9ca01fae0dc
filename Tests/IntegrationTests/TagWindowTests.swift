import Foundation
import OCI
import Testing
import TestSupport

/// Issue 15 end to end, with the berth binary and the real registry: a window over a tag set
/// with non-semver, v-prefixed, prerelease and build-metadata tags (`_` for `+`), more than one
/// page of them, a window that moves when a tag is pushed (the old tag removed and tracked for
/// rollback), offline windows, and the byte budget.
///
/// docker-registry 2.8 ignores `n` and answers every tag in one page, so the paging test puts a
/// `FaultProxy` in front that serves the registry's own tag list 1,000 a page with `Link`
/// headers (as distribution 3 and the hosted registries do); everything else is the registry's.
@Suite(.serialized)
final class TagWindowTests {
    let registry: RegistryServer
    let dir: TempDirectory
    let fixtures: StandardFixtures
    var store: String { dir.path + "/store" }
    var manifest: String { dir.path + "/images.yaml" }
    static let fillers = 1_200
    static let window = "semver >=1.4.0 <2.0.0, newest 2"

    init() throws {
        registry = try RegistryServer()
        dir = try TempDirectory(prefix: "berth-window")
        fixtures = try Fixtures.standardSet(seed: 15)
        _ = try registry.push(fixtures.sharedA, repository: "team/app", tag: "1.4.6")
        _ = try registry.push(fixtures.sharedB, repository: "team/app", tag: "1.4.7_build.3")
        _ = try registry.push(fixtures.small, repository: "team/app", tag: "v1.4.5")
        // Tags the window must not choose, all naming the small image: a prerelease above the
        // window's top, a version outside the range, tags that are not versions, and enough
        // nightly tags for a second page.
        for tag in ["1.5.0-rc1", "2.0.0", "latest", "v1.6"] + (0..<Self.fillers).map({ String(format: "nightly-%04d", $0) }) {
            try alias(tag, to: fixtures.small.manifestDigest)
        }
    }

    deinit {
        registry.stop()
        dir.remove()
    }

    /// Tags `digest` (already in the repository) as `tag`, straight in the registry's storage.
    func alias(_ tag: String, to digest: Digest) throws {
        let link = registry.tagLinkPath(repository: "team/app", tag: tag)
        let index = link.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("index/sha256/\(digest.hex)/link")
        for file in [link, index] {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(digest.description.utf8).write(to: file)
        }
    }

    func berth(_ args: [String]) throws -> RunResult { try Berth.run(args + ["--store", store]) }

    func write(policy: String = "unlisted: keep\n  dangling: prune\n  keep_previous: 1", host: String? = nil) throws {
        try """
        version: 1
        images:
          - name: \(host ?? registry.host)/team/app
            select:
              semver: ">=1.4.0 <2.0.0"
              newest: 2
        policy:
          \(policy)

        """.write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    func tags() throws -> [String] {
        try berth(["image", "ls", "--format", "{{.Tag}}"]).stdoutText.split(separator: "\n").map(String.init).filter { $0 != "<none>" }.sorted()
    }

    func tagListRequests() -> Int { registry.accessLog.filter { $0.contains("/v2/team/app/tags/list") }.count }

    /// Serves the registry's tag list through `proxy`, 1,000 tags a page, in tag order.
    func paginate(_ proxy: FaultProxy) throws {
        struct Listing: Decodable { var tags: [String] }
        let all = try JSONDecoder().decode(Listing.self, from: try registry.request("/v2/team/app/tags/list").body).tags.sorted()
        func page(_ tags: [String]) throws -> Data { try JSONSerialization.data(withJSONObject: ["name": "team/app", "tags": tags]) }
        let first = Array(all.prefix(1000))
        proxy.clearRules()
        proxy.add(FaultProxy.Rule(path: #"/v2/team/app/tags/list\?n=1000$"#, .respond(status: 200, headers: [
            FaultProxy.HeaderField("Content-Type", "application/json"),
            FaultProxy.HeaderField("Link", "</v2/team/app/tags/list?last=\(first.last!)&n=1000>; rel=\"next\""),
        ], body: try page(first)), times: 1000))
        proxy.add(FaultProxy.Rule(path: #"/v2/team/app/tags/list\?last="#, .respond(status: 200, headers: [
            FaultProxy.HeaderField("Content-Type", "application/json"),
        ], body: try page(Array(all.dropFirst(1000)))), times: 1000))
    }

    @Test func theWindowChoosesFromEveryPageAndMovesWhenATagIsPushed() throws {
        let proxy = try FaultProxy(upstream: registry)
        defer { proxy.stop() }
        try paginate(proxy)
        try write(host: proxy.host)
        #expect(try berth(["store", "init"]).status == 0)
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.status == 0, "\(plan.stdoutText)\(plan.stderrText)")
        let out = plan.stdoutText
        #expect(out.contains("team/app:1.4.7_build.3") && out.contains("team/app:1.4.6"), "\(out)")
        #expect(out.contains("(selected: \(Self.window))"), "\(out)")
        for absent in ["v1.4.5", "1.5.0-rc1", "2.0.0", "latest", "v1.6", "nightly"] { #expect(!out.contains("app:\(absent)"), "\(absent): \(out)") }
        // 1,207 tags at 1,000 a page: two listing requests, the second from the Link header.
        let listings = proxy.requests(pathContains: "/tags/list").map(\.path)
        #expect(listings == ["/v2/team/app/tags/list?n=1000", "/v2/team/app/tags/list?last=nightly-0994&n=1000"], "\(listings)")

        let json = try berth(["plan", "-f", manifest, "--output", "json"])
        let doc = try JSONSerialization.jsonObject(with: json.stdout) as! [String: Any]
        let windows = (doc["inputs"] as! [String: Any])["windows"] as! [[String: Any]]
        #expect(windows.first?["listed"] as? Int == Self.fillers + 7)
        #expect(windows.first?["selected"] as? [String] == ["1.4.7_build.3", "1.4.6"])

        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(try tags() == ["1.4.6", "1.4.7_build.3"])
        #expect(try berth(["plan", "-f", manifest, "--detailed-exitcode"]).status == 0)

        // A new release: the window moves; 1.4.6 falls out, its image kept for rollback.
        _ = try registry.push(fixtures.labeled, repository: "team/app", tag: "1.4.8")
        try paginate(proxy)
        let moved = try berth(["plan", "-f", manifest])
        #expect(moved.stdoutText.contains("team/app:1.4.8") && moved.stdoutText.contains("(selected: \(Self.window))"), "\(moved.stdoutText)")
        #expect(moved.stdoutText.contains("- untag") && moved.stdoutText.contains("(fell out of the window: \(Self.window))"), "\(moved.stdoutText)")
        #expect(!moved.stdoutText.contains("- remove"), "kept for rollback: \(moved.stdoutText)")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try tags() == ["1.4.7_build.3", "1.4.8"])
        // Tracked: the ledger names the tag the dangling image lost, and rollback restores it.
        let dangling = try berth(["image", "ls", "--filter", "dangling=true", "--format", "{{.PreviousTags}}"]).stdoutText
        #expect(dangling.contains("team/app:1.4.6"), "\(dangling)")
        let back = try berth(["rollback", "\(proxy.host)/team/app:1.4.6"])
        #expect(back.status == 0, "\(back.stdoutText)\(back.stderrText)")
        #expect(try tags() == ["1.4.6", "1.4.7_build.3", "1.4.8"])
    }

    @Test func anOfflineWindowKeepsWhatIsPresent() throws {
        try write(policy: "unlisted: remove\n  dangling: prune")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        _ = try registry.push(fixtures.labeled, repository: "team/app", tag: "1.4.8")
        let before = tagListRequests()
        let offline = try berth(["plan", "-f", manifest, "--offline"])
        #expect(offline.status == 0, "\(offline.stderrText)")
        #expect(offline.stdoutText.contains("not checked (offline)"), "\(offline.stdoutText)")
        #expect(!offline.stdoutText.contains("- untag") && !offline.stdoutText.contains("- remove"), "\(offline.stdoutText)")
        #expect(tagListRequests() == before)
        // Online, with unlisted: remove, the fallen tag's image goes.
        let online = try berth(["plan", "-f", manifest])
        #expect(online.stdoutText.contains("- remove"), "\(online.stdoutText)")
    }

    /// A build created at `created` (distinct content per name).
    func build(_ name: String, created: TimeInterval) throws -> BuiltImage {
        try FixtureImage(layers: [try FixtureLayer([.file("build/NAME", "\(name)\n")]).build()],
                         created: Date(timeIntervalSince1970: created)).build()
    }

    @Test func buildsThatAreNotVersionsGoByTheirImagesCreatedTime() throws {
        // Tag text and age disagree: build-b is older than build-a.
        _ = try registry.push(try build("b", created: 1_700_000_000), repository: "team/app", tag: "build-b")
        _ = try registry.push(try build("a", created: 1_710_000_000), repository: "team/app", tag: "build-a")
        try """
        version: 1
        images:
          - name: \(registry.host)/team/app
            select:
              regex: '^build-'
              newest: 1
        policy:
          unlisted: keep

        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try tags() == ["build-a"])
        // A newer build: the window moves to it, build-a falls out and its image goes.
        _ = try registry.push(try build("c", created: 1_720_000_000), repository: "team/app", tag: "build-c")
        let moved = try berth(["plan", "-f", manifest])
        #expect(moved.stdoutText.contains("team/app:build-c") && moved.stdoutText.contains("(selected: regex ^build-, newest 1)"), "\(moved.stdoutText)")
        #expect(moved.stdoutText.contains("(fell out of the window: regex ^build-, newest 1)") && moved.stdoutText.contains("- remove"), "\(moved.stdoutText)")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try tags() == ["build-c"])
    }

    /// Every blob in the layout belongs to some image: their sizes summed are the unique bytes.
    func storeBytes() throws -> Int64 {
        let blobs = store + "/blobs/sha256"
        return try FileManager.default.contentsOfDirectory(atPath: blobs).reduce(0) { sum, name in
            sum + ((try FileManager.default.attributesOfItem(atPath: blobs + "/" + name)[.size] as? Int64) ?? 0)
        }
    }

    @Test func theBudgetPrunesTheRollbackImageAndRefusesToCutWantedOnes() throws {
        try write()
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        _ = try registry.push(fixtures.labeled, repository: "team/app", tag: "1.4.8")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let total = try storeBytes()

        // One byte under: the only image no one wants (1.4.6's, kept for rollback) goes.
        try write(policy: "unlisted: keep\n  dangling: prune\n  keep_previous: 1\n  max_bytes: \(total - 1)")
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.stdoutText.contains("- prune") && plan.stdoutText.contains("(over budget: "), "\(plan.stdoutText)")
        #expect(plan.stdoutText.contains("kept for rollback, oldest)"), "\(plan.stdoutText)")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try storeBytes() < total)
        #expect(try berth(["plan", "-f", manifest, "--detailed-exitcode"]).status == 0)

        // The wanted images alone exceed: say by how much, exit 1, remove nothing.
        try write(policy: "unlisted: keep\n  max_bytes: 1kB")
        let over = try berth(["plan", "-f", manifest])
        #expect(over.status == 1, "\(over.stdoutText)\(over.stderrText)")
        #expect(over.stdoutText.contains("more than policy.max_bytes 1kB by"), "\(over.stdoutText)")
        #expect(!over.stdoutText.contains("- prune") && !over.stdoutText.contains("- remove"), "\(over.stdoutText)")
    }
}
