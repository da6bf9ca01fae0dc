import Testing
@testable import OCI

/// Cases follow distribution/reference's own tables (reference_test.go, normalize_test.go).
struct ReferenceTests {
    static let hex64 = String(repeating: "f", count: 64)
    static let hexA = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

    struct Valid: CustomTestStringConvertible, Sendable {
        let input: String, domain: String, path: String, tag: String?, digest: String?
        var testDescription: String { input }
    }

    static let valid: [Valid] = [
        .init(input: "alpine", domain: "docker.io", path: "library/alpine", tag: nil, digest: nil),
        .init(input: "alpine:3.20", domain: "docker.io", path: "library/alpine", tag: "3.20", digest: nil),
        .init(input: "user/app", domain: "docker.io", path: "user/app", tag: nil, digest: nil),
        .init(input: "docker.io/alpine", domain: "docker.io", path: "library/alpine", tag: nil, digest: nil),
        .init(input: "index.docker.io/library/alpine:1", domain: "docker.io", path: "library/alpine", tag: "1", digest: nil),
        .init(input: "registry-1.docker.io/user/app", domain: "docker.io", path: "user/app", tag: nil, digest: nil),
        .init(input: "test_com", domain: "docker.io", path: "library/test_com", tag: nil, digest: nil),
        .init(input: "test.com:tag", domain: "docker.io", path: "library/test.com", tag: "tag", digest: nil),
        .init(input: "test.com:5000", domain: "docker.io", path: "library/test.com", tag: "5000", digest: nil),
        .init(input: "test.com/repo:tag", domain: "test.com", path: "repo", tag: "tag", digest: nil),
        .init(input: "test:5000/repo", domain: "test:5000", path: "repo", tag: nil, digest: nil),
        .init(input: "test:5000/repo:tag", domain: "test:5000", path: "repo", tag: "tag", digest: nil),
        .init(input: "test:5000/repo@sha256:\(hex64)", domain: "test:5000", path: "repo", tag: nil, digest: "sha256:\(hex64)"),
        .init(input: "test:5000/repo:tag@sha256:\(hex64)", domain: "test:5000", path: "repo", tag: "tag", digest: "sha256:\(hex64)"),
        .init(input: "host:5000/a/b:tag", domain: "host:5000", path: "a/b", tag: "tag", digest: nil),
        .init(input: "localhost/x", domain: "localhost", path: "x", tag: nil, digest: nil),
        .init(input: "localhost:5000/x/y", domain: "localhost:5000", path: "x/y", tag: nil, digest: nil),
        .init(input: "lowercase:Uppercase", domain: "docker.io", path: "library/lowercase", tag: "Uppercase", digest: nil),
        .init(input: "sub-dom1.foo.com/bar/baz/quux", domain: "sub-dom1.foo.com", path: "bar/baz/quux", tag: nil, digest: nil),
        .init(input: "sub-dom1.foo.com/bar/baz/quux:some-long-tag", domain: "sub-dom1.foo.com", path: "bar/baz/quux", tag: "some-long-tag", digest: nil),
        .init(input: "b.gcr.io/test.example.com/my-app:test.example.com", domain: "b.gcr.io", path: "test.example.com/my-app", tag: "test.example.com", digest: nil),
        .init(input: "xn--n3h.com/myimage:xn--n3h.com", domain: "xn--n3h.com", path: "myimage", tag: "xn--n3h.com", digest: nil),
        .init(input: "foo_bar.com:8080", domain: "docker.io", path: "library/foo_bar.com", tag: "8080", digest: nil),
        .init(input: "foo/foo_bar.com:8080", domain: "docker.io", path: "foo/foo_bar.com", tag: "8080", digest: nil),
        .init(input: "a__b/c--d", domain: "docker.io", path: "a__b/c--d", tag: nil, digest: nil),
        .init(input: "Foo/bar", domain: "Foo", path: "bar", tag: nil, digest: nil),
        .init(input: "[2001:db8::1]/repo", domain: "[2001:db8::1]", path: "repo", tag: nil, digest: nil),
        .init(input: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000", path: "repo", tag: nil, digest: nil),
        .init(input: "[2001:db8::1]:5000/repo:tag", domain: "[2001:db8::1]:5000", path: "repo", tag: "tag", digest: nil),
        .init(input: "[::1]:5000/repo@sha256:\(hex64)", domain: "[::1]:5000", path: "repo", tag: nil, digest: "sha256:\(hex64)"),
        .init(input: "127.0.0.1:5000/team/app:v1.4.2", domain: "127.0.0.1:5000", path: "team/app", tag: "v1.4.2", digest: nil),
        .init(input: "alpine:" + String(repeating: "a", count: 128), domain: "docker.io", path: "library/alpine", tag: String(repeating: "a", count: 128), digest: nil),
        .init(input: "alpine@sha512:" + String(repeating: "0", count: 128), domain: "docker.io", path: "library/alpine", tag: nil, digest: "sha512:" + String(repeating: "0", count: 128)),
    ]

    @Test(arguments: valid)
    func parsesValid(_ c: Valid) throws {
        let r = try Reference(parsing: c.input)
        #expect(r.domain == c.domain)
        #expect(r.path == c.path)
        #expect(r.tag == c.tag)
        #expect(r.digest?.description == c.digest)
        // Round trip: the canonical string parses to the same reference.
        #expect(try Reference(parsing: r.description) == r)
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        let input: String, kind: ReferenceError.Kind, mentions: String
        var testDescription: String { String(input.prefix(60)) }
    }

    static let invalid: [Invalid] = [
        .init(input: "", kind: .format, mentions: "empty"),
        .init(input: ":justtag", kind: .format, mentions: "name is required"),
        .init(input: "@sha256:\(hex64)", kind: .format, mentions: "name is required"),
        .init(input: "repo@sha256:ffff", kind: .digest, mentions: "64 hex digits"),
        .init(input: "validname@invaliddigest:\(hex64)", kind: .digest, mentions: "unsupported digest algorithm"),
        .init(input: "repo@sha256:\(hex64.uppercased())", kind: .digest, mentions: "lowercase"),
        .init(input: "Uppercase:tag", kind: .uppercase, mentions: "must be lowercase"),
        .init(input: "test:5000/Uppercase/lowercase:tag", kind: .uppercase, mentions: "must be lowercase"),
        .init(input: "aa/asdf$$^/aa", kind: .path, mentions: "\"asdf$$^\" is invalid"),
        .init(input: "aa/asdf&/aa", kind: .path, mentions: "asdf&"),
        .init(input: "a/" + String(repeating: "a", count: 256), kind: .nameTooLong, mentions: "limit is 255"),
        .init(input: "alpine:" + String(repeating: "a", count: 129), kind: .tag, mentions: "limit is 128"),
        .init(input: "alpine:.tag", kind: .tag, mentions: "must start"),
        .init(input: "alpine:", kind: .tag, mentions: "empty"),
        .init(input: hex64, kind: .format, mentions: "image ID"),
        .init(input: "repo//x", kind: .path, mentions: "empty component"),
        .init(input: "repo/x/", kind: .path, mentions: "empty component"),
        .init(input: "-repo", kind: .path, mentions: "-repo"),
        .init(input: "repo_", kind: .path, mentions: "repo_"),
        .init(input: "a___b", kind: .path, mentions: "a___b"),
        .init(input: "[fe80::1%eth0]:5000/repo", kind: .domain, mentions: "not a valid IPv6 address"),
        .init(input: "[2001:db8::1]", kind: .path, mentions: "[2001"),
        .init(input: "host:port/repo", kind: .domain, mentions: "must be a number"),
        .init(input: "-host.com/repo", kind: .domain, mentions: "not a valid host name"),
        .init(input: "alpine latest", kind: .format, mentions: "character"),
        .init(input: "alpine:la+test", kind: .tag, mentions: "'+'"),
    ]

    @Test(arguments: invalid)
    func rejectsInvalid(_ c: Invalid) {
        do {
            let r = try Reference(parsing: c.input)
            Issue.record("parsed \(r) but expected a \(c.kind) error")
        } catch let e as ReferenceError {
            #expect(e.kind == c.kind, "\(e)")
            #expect(e.description.contains(c.mentions), "message: \(e)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func hubAliasesAreEquivalent() throws {
        let names = ["alpine", "docker.io/alpine", "docker.io/library/alpine", "index.docker.io/library/alpine", "registry-1.docker.io/library/alpine"]
        let refs = try names.map { try Reference(parsing: $0) }
        #expect(Set(refs).count == 1)
        #expect(refs[0].familiarName == "alpine")
        #expect(refs[0].registryHost == "registry-1.docker.io")
    }

    @Test(arguments: [
        ("alpine", "alpine:latest", "docker.io/library/alpine:latest"),
        ("user/app:1", "user/app:1", "docker.io/user/app:1"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        ("docker.io/library/a/b", "library/a/b:latest", "docker.io/library/a/b:latest"),
    ])
    func familiarAndCanonical(_ input: String, _ familiar: String, _ canonical: String) throws {
        let r = try Reference(parsing: input).withDefaultTag()
        #expect(r.familiarString == familiar)
        #expect(r.description == canonical)
    }

    @Test func digestReferenceGetsNoDefaultTag() throws {
        let r = try Reference(parsing: "alpine@sha256:\(Self.hex64)").withDefaultTag()
        #expect(r.tag == nil)
        #expect(r.registryReference == "sha256:\(Self.hex64)")
    }
}

struct DigestTests {
    @Test(arguments: [
        ("sha256:abc", "64 hex digits"),
        ("sha256", "missing ':'"),
        (":abc", "missing algorithm"),
        ("md5:" + String(repeating: "a", count: 32), "unsupported"),
        ("sha256:../../etc/passwd" + String(repeating: "a", count: 48), "lowercase hexadecimal"),
        ("sha256:" + String(repeating: "g", count: 64), "lowercase hexadecimal"),
        ("sha512:" + String(repeating: "a", count: 64), "128 hex digits"),
    ])
    func rejects(_ input: String, _ mentions: String) {
        #expect(throws: DigestError.self) { try Digest(parsing: input) }
        do { _ = try Digest(parsing: input) } catch { #expect("\(error)".contains(mentions), "\(error)") }
    }

    @Test func computesSHA256() throws {
        let d = Digest.sha256(Array("hello".utf8))
        #expect(d.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(d.short == "2cf24dba5fb0")
        var s = StreamDigester()
        s.update(Data("hel".utf8)); s.update(Data("lo".utf8))
        #expect(s.finalize() == d)
        #expect(s.count == 5)
        var s512 = StreamDigester(.sha512)
        s512.update(Data("hello".utf8))
        #expect(s512.finalize().description == "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043")
    }

    /// Digests are held as bytes: the text form, equality, hashing and order must be exactly
    /// those of the text, for both algorithms, on random digests.
    @Test func bytesAgreeWithTheText() throws {
        var rng = SystemRandomNumberGenerator()
        func randomHex(_ n: Int) -> String { String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &rng)! }) }
        var texts: [String] = []
        for i in 0..<400 {
            let base = i % 3 == 0 && !texts.isEmpty ? String(texts.last!.dropFirst(7).prefix(60)) + randomHex(4) : randomHex(64)
            texts.append(i % 5 == 0 ? "sha512:" + base + randomHex(64) : "sha256:" + base)
        }
        texts += ["sha256:" + String(repeating: "0", count: 64), "sha256:" + String(repeating: "f", count: 64),
                  "sha512:" + String(repeating: "0", count: 128)]
        let digests = try texts.map { try Digest(parsing: $0) }
        for (t, d) in zip(texts, digests) {
            #expect(d.description == t)
            #expect(d.hex == String(t.dropFirst(7)))
            #expect(d.algorithm.rawValue == String(t.prefix(6)))
            #expect(try Digest(parsing: d.description) == d)
            #expect(Digest(algorithm: d.algorithm, uncheckedHex: d.hex) == d)
        }
        for _ in 0..<2000 {
            let i = Int.random(in: 0..<texts.count), j = Int.random(in: 0..<texts.count)
            #expect((digests[i] < digests[j]) == (texts[i] < texts[j]), "\(texts[i]) vs \(texts[j])")
            #expect((digests[i] == digests[j]) == (texts[i] == texts[j]))
        }
        #expect(digests.sorted().map(\.description) == texts.sorted())
        #expect(Set(digests).count == Set(texts).count)
        let json = try JSONEncoder().encode(digests)
        #expect(try JSONDecoder().decode([Digest].self, from: json) == digests)
        // What the fast path refuses, the checked parser explains.
        #expect(throws: DigestError.self) { try Digest(parsing: "sha256:" + String(repeating: "A", count: 64)) }
        #expect(throws: DigestError.self) { try Digest(parsing: "sha384:" + String(repeating: "a", count: 64)) }
    }
}

import Foundation

struct PlatformTests {
    @Test(arguments: [
        ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"), ("linux/arm/v7", "linux/arm/v7"), ("Linux/AMD64", "linux/amd64"),
    ])
    func normalizes(_ input: String, _ expected: String) throws {
        #expect(try Platform(parsing: input).description == expected)
    }

    @Test(arguments: ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"])
    func rejects(_ input: String) {
        #expect(throws: PlatformError.self) { try Platform(parsing: input) }
    }

    func index(_ platforms: [String]) throws -> ImageIndex {
        ImageIndex(mediaType: MediaType.ociIndex, manifests: try platforms.enumerated().map { i, p in
            Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(Data([UInt8(i)])), size: 1, platform: try Platform(parsing: p))
        })
    }

    @Test func selectsExactThenCompatible() throws {
        let idx = try index(["linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64"])
        #expect(try Platform(parsing: "linux/arm/v7").select(from: idx).platform?.description == "linux/arm/v7")
        #expect(try Platform(parsing: "linux/arm64").select(from: idx).platform?.description == "linux/arm64")
        #expect(try Platform(parsing: "linux/arm").select(from: idx).platform?.variant == "v6")
    }

    @Test func noMatchListsOffered() throws {
        let idx = try index(["linux/amd64", "linux/arm64"])
        do {
            _ = try Platform(parsing: "linux/s390x").select(from: idx)
            Issue.record("expected no match")
        } catch let e as ManifestError {
            #expect(e.description == "no image for platform linux/s390x in the index; it offers: linux/amd64, linux/arm64")
        }
    }
}

struct ManifestKindTests {
    @Test func refusesSchema1() {
        let doc = Data(#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#.utf8)
        #expect(throws: ManifestError.schema1) { try ManifestKind.classify(doc, declared: "application/json") }
        #expect(throws: ManifestError.schema1) { try ManifestKind.classify(Data("{}".utf8), declared: MediaType.dockerSchema1Signed) }
    }

    @Test func refusesLyingMediaType() throws {
        let image = Data(#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:\#(String(repeating: "a", count: 64))","size":1},"layers":[]}"#.utf8)
        #expect(throws: ManifestError.self) { try ManifestKind.classify(image, declared: MediaType.ociIndex) }
        #expect(try ManifestKind.classify(image, declared: MediaType.dockerManifest) == .image(MediaType.dockerManifest))
    }

    @Test func classifiesIndexWithoutMediaType() throws {
        let idx = Data(#"{"schemaVersion":2,"manifests":[]}"#.utf8)
        #expect(try ManifestKind.classify(idx, declared: nil) == .index(MediaType.ociIndex))
    }
}

/// `parseCommonForm` (the fast path) agrees with the general parser wherever it answers, and
/// answers for the form berth writes.
struct ReferenceFastPathTests {
    @Test func theFastPathAnswersForWhatBerthWrites() {
        for text in ["registry.example.com/team-01/app-0001:1.2.0", "localhost:5000/a/b:latest", "127.0.0.1:35923/docker-v2",
                     "ghcr.io/o_w__n-e.r/x--y:V1.0_rc-1", "a.b/c"] {
            let fast = Reference.parseCommonForm(text)
            #expect(fast != nil, "\(text)")
            #expect(fast == (try? Reference(parsingGenerally: text)), "\(text)")
        }
        for text in ["alpine", "docker.io/library/alpine:3", "index.docker.io/a/b", "Example.com/a", "a/b:c", "x.io/a@sha256:" + String(repeating: "0", count: 64),
                     "[::1]:5000/a", "x.io/A", "x.io/a:", "x.io/a:-x", "x.io//a", "x.io/a/", "x.io/a_-b", "x.io/a___b", "x.io:/a", "-x.io/a", "x-.io/a"] {
            #expect(Reference.parseCommonForm(text) == nil, "\(text)")
        }
    }

    @Test func theFastPathAgreesWithTheGeneralParserOnRandomInputs() {
        var state: UInt64 = 0xBE27
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let pieces = ["a", "b", "z", "0", "9", "A", ".", "_", "__", "-", "--", "/", ":", "@", "localhost", "x.io", "docker.io", "5000", "[", "é", " "]
        var answered = 0
        for _ in 0..<50_000 {
            // Mostly host-first inputs (what the fast path is for), with random damage anywhere.
            let hosts = ["x.io/", "localhost/", "a.b:5000/", "localhost:1/", "x.io:/", "a-b.c/", "1.2.3.4:80/", ""]
            let text = hosts[Int(next() % UInt64(hosts.count))]
                + (0..<Int(1 + next() % 10)).map { _ in pieces[Int(next() % UInt64(pieces.count))] }.joined()
            guard let fast = Reference.parseCommonForm(text) else { continue }
            answered += 1
            #expect(fast == (try? Reference(parsingGenerally: text)), "\(text)")
        }
        #expect(answered > 500, "the random inputs exercise the fast path (\(answered) answered)")
    }
}

struct SortedByKeyTests {
    /// The same order as a stable sort by the key, equal keys in their original order.
    @Test func isAStableSortByTheKey() {
        let items = (0..<3000).map { i in (key: "k\(Int.random(in: 0..<300))", position: i) }
        let sorted = items.sorted(byKey: \.key)
        #expect(sorted.map(\.key) == items.map(\.key).sorted())
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.key == b.key { #expect(a.position < b.position) }
        #expect(Set(sorted.map(\.position)).count == items.count)
        #expect([Int]().sorted(byKey: { $0 }).isEmpty)
    }
}
