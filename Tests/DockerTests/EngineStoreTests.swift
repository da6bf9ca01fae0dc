import Foundation
import OCI
import Reconcile
import Registry
import Store
import Testing
import TestSupport

extension DockerSuite {
    @Suite("Docker Engine store: what only an engine has")
    struct EngineSpecific {
        @Test func negotiatesTheAPIVersionAndNamesTheEngine() throws {
            let sut = try StoreUnderTest(.docker, "version")
            let engine = try #require(sut.engine)
            let version = try JSONSerialization.jsonObject(with: Data(try sut.bed.daemon.api("/version").utf8)) as? [String: Any]
            let offered = try #require(version?["ApiVersion"] as? String)
            let expected = [offered, "1.45"].min { EngineAPIVersion($0)! < EngineAPIVersion($1)! }!
            #expect(engine.apiVersion == expected)
            #expect(engine.engineID == sut.bed.daemon.engineID)
            #expect(!engine.engineID.isEmpty)
            // Keyed by the engine ID and (a private data root) a hash of the data root.
            #expect(engine.stateDirectory.lastPathComponent.hasPrefix(engine.engineID + "-"))
            #expect(sut.store.storeName.contains(sut.bed.daemon.socketPath))
            // dockerd runs its own managed containerd under the private exec root.
            #expect(FileManager.default.fileExists(atPath: sut.bed.daemon.directory.appendingPathComponent("x/containerd/containerd.sock").path))
        }

        @Test func anImageUsedByAContainerIsNeverRemoved() throws {
            let sut = try StoreUnderTest(.docker, "inuse")
            let moved = sut.bed.fixtures.movedTag
            let (ref, first) = try sut.push(moved.before, "moving", "latest")
            try sut.pull(ref, first)
            try sut.bed.daemon.docker(["create", "--name", "user-of-before", ref.familiarString])
            let img = try #require(try sut.image(moved.before.manifestDigest))
            #expect(img.inUse)

            // Its only tag cannot be taken away from under the container: the engine says 409.
            let untag = #expect(throws: DockerEngineError.self) { try sut.store.untag(ref, cause: "apply", run: "r") }
            #expect(untag?.isInUse == true)
            #expect(untag?.description.contains("in use by a container") == true)

            // Moving the tag is fine; the old image is then dangling but still used.
            let (_, second) = try sut.push(moved.after, "moving", "latest")
            try sut.pull(ref, second)
            let old = try #require(try sut.image(moved.before.manifestDigest))
            #expect(old.tags.isEmpty && old.inUse)
            let remove = #expect(throws: DockerEngineError.self) { try sut.store.removeImage(moved.before.manifestDigest, run: "r") }
            #expect(remove?.isInUse == true)
            #expect(remove?.description.contains("user-of-before") == true)
            #expect(try sut.image(moved.before.manifestDigest) != nil, "the engine still has it")
            let inspect = try sut.bed.daemon.docker(["container", "inspect", "--format", "{{.Image}}", "user-of-before"])
            #expect(inspect.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == moved.before.configDigest.description)
        }

        @Test func theLedgerOutlivesTheProcessInTheStateDirectoryKeyedByEngineID() throws {
            let sut = try StoreUnderTest(.docker, "ledger")
            let moved = sut.bed.fixtures.movedTag
            let (ref, first) = try sut.push(moved.before, "moving", "latest")
            try sut.pull(ref, first)
            let (_, second) = try sut.push(moved.after, "moving", "latest")
            try sut.pull(ref, second)

            // The engine forgot which tag the old image carried: only the repository is left.
            let list = try sut.bed.dockerImageList(["--filter", "dangling=true"])
            #expect(list == ["\(ref.familiarName):<none>"])

            let file = try #require(sut.engine).ledgerURL
            #expect(file.deletingLastPathComponent().lastPathComponent.hasPrefix(sut.bed.daemon.engineID))
            #expect(FileManager.default.fileExists(atPath: file.path))
            let reopened = try sut.bed.engineStore(stateRoot: sut.scratch.file("state"))
            let ledger = try reopened.observe().ledger
            #expect(ledger.count == 1)
            #expect(ledger.first?.imageID == moved.before.configDigest)
            #expect(ledger.first?.image == moved.before.manifestDigest)
            #expect(ledger.first?.reference == ref.description)
            // Another state root (another engine, as far as berth knows) has no ledger.
            #expect(try sut.bed.engineStore(stateRoot: sut.scratch.file("other")).observe().ledger.isEmpty)
            // And no leftover temp files from the durable writes.
            let names = try FileManager.default.contentsOfDirectory(atPath: file.deletingLastPathComponent().path)
            #expect(names.sorted() == ["ledger.json"])
        }

        @Test func imagesBerthDidNotPullAreKeyedByTheirEngineID() throws {
            let sut = try StoreUnderTest(.docker, "foreign")
            let small = sut.bed.fixtures.small
            let (ref, digest) = try sut.push(small, "small", "1.0")
            try sut.bed.daemon.docker(["pull", "-q", ref.familiarString])
            let img = try #require(try sut.store.observe().images.first)
            #expect(img.digest == small.configDigest, "no manifest digest is known: the image ID stands in")
            #expect(img.id == small.configDigest)
            #expect(img.wasPulled(ref.repository, as: digest), "the planner still matches it by its repository digest")
        }

        @Test func pruneUsesTheEngineEndpointOnlyWhenItsSetIsExactlyThePlannedOne() throws {
            let sut = try StoreUnderTest(.docker, "prune")
            let engine = try #require(sut.engine)
            let f = sut.bed.fixtures
            let moved = f.movedTag
            // Two dangling images: the old `moving` and an old `other`.
            let (ref, first) = try sut.push(moved.before, "moving", "latest")
            try sut.pull(ref, first)
            let (_, second) = try sut.push(moved.after, "moving", "latest")
            try sut.pull(ref, second)
            let (other, o1) = try sut.push(f.small, "other", "1.0")
            try sut.pull(other, o1)
            let (_, o2) = try sut.push(f.labeled, "other", "1.0")
            try sut.pull(other, o2)

            // Only one of the two is planned: removed one by one, the other stays.
            let partial = try engine.pruneDangling([moved.before.manifestDigest], run: "r")
            #expect(!partial.usedPruneEndpoint)
            #expect(partial.removed == [moved.before.manifestDigest])
            #expect(partial.failures.isEmpty)
            #expect(try sut.image(f.small.manifestDigest) != nil)

            // Now the plan names exactly the engine's dangling set: one POST /images/prune.
            let exact = try engine.pruneDangling([f.small.manifestDigest], run: "r")
            #expect(exact.usedPruneEndpoint)
            #expect(exact.removed == [f.small.manifestDigest])
            #expect(exact.reclaimedBytes > 0)
            #expect(try sut.bed.dockerImageList(["--filter", "dangling=true"]).isEmpty)
            #expect(Set(try sut.store.observe().images.map(\.digest)) == [moved.after.manifestDigest, f.labeled.manifestDigest])
        }

        @Test func pullsSendTheRegistryCredentialsAsXRegistryAuth() throws {
            let bed = try DockerBed.shared()
            try bed.freshEngine()
            let scratch = try ScratchDirectory("berth-auth")
            let secured = try RegistryServer(auth: .htpasswd(user: "alice", password: "s3cr3t:with/odd+chars"), name: "docker-auth")
            defer { secured.stop() }
            let digest = try secured.push(bed.fixtures.small, repository: "private/small", tag: "1.0")
            let ref = try Reference(parsing: "\(secured.host)/private/small:1.0")
            let creds = StaticCredentials([secured.host: Credential(username: "alice", password: "s3cr3t:with/odd+chars")])
            let registry = RegistryClient(credentials: creds, settings: { RegistryHostSettings.defaults(for: $0) })

            let anonymous = try DockerEngineStore(host: try DockerHost(parsing: bed.daemon.host), stateRoot: scratch.url, credentials: StaticCredentials())
            let refused = #expect(throws: (any Error).self) {
                try anonymous.pull(ref, from: ref.withDigest(digest), using: registry, platform: StoreUnderTest.amd64)
            }
            #expect("\(refused!)".contains("Docker Engine"), "the engine, not the resolver, refused: \(refused!)")

            let store = try DockerEngineStore(host: try DockerHost(parsing: bed.daemon.host), stateRoot: scratch.url, credentials: creds)
            let result = try store.pull(ref, from: ref.withDigest(digest), using: registry, platform: StoreUnderTest.amd64)
            #expect(result.imageID == bed.fixtures.small.configDigest)
            #expect(try bed.dockerImageList() == ["\(ref.familiarName):1.0"])
        }

        @Test func theAuthHeaderIsBase64URLOfDockersJSON() throws {
            let value = try #require(RegistryAuthHeader.value(for: Credential(username: "u", password: "p?>>"), host: "docker.io"))
            #expect(!value.contains("+") && !value.contains("/"))
            let standard = value.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            let json = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: standard))) as? [String: String]
            #expect(json == ["username": "u", "password": "p?>>", "serveraddress": "https://index.docker.io/v1/"])
            let token = try #require(RegistryAuthHeader.value(for: Credential(identityToken: "tok"), host: "ghcr.io"))
            let tokenJSON = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")))) as? [String: String]
            #expect(tokenJSON == ["identitytoken": "tok", "serveraddress": "ghcr.io"])
            #expect(RegistryAuthHeader.value(for: nil, host: "ghcr.io") == nil)
        }

        @Test func aMissingSocketIsNamedInTheError() throws {
            let scratch = try ScratchDirectory("berth-nosock")
            let path = scratch.file("missing.sock").path
            let error = #expect(throws: DockerEngineError.self) {
                _ = try DockerEngineStore(host: try DockerHost(parsing: "unix://" + path), stateRoot: scratch.url, credentials: StaticCredentials())
            }
            guard case .socketMissing(let named)? = error else { Issue.record("expected socketMissing, got \(String(describing: error))"); return }
            #expect(named == path)
            #expect(error!.description.contains(path))
            #expect(error!.description.contains("--docker-host"))
        }

        @Test func aSocketThisUserMayNotOpenIsNamedInTheError() throws {
            let bed = try DockerBed.shared()
            let berth = try berthExecutable()
            let scratch = try ScratchDirectory("berth-perm")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.url.path)
            let manifest = scratch.file("images.yaml")
            try Data("version: 1\nimages:\n  - \(bed.registry.host)/x/y:1\n".utf8).write(to: manifest)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: manifest.path)
            // A copy of berth the unprivileged user can run, wherever the build directory is.
            let copy = scratch.file("berth")
            try FileManager.default.copyItem(atPath: berth, toPath: copy.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
            // As on a real host: the socket's directory is open, the socket (0660, root) is not.
            let daemonDir = bed.daemon.directory.path
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: daemonDir)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: daemonDir) }
            let mode = try FileManager.default.attributesOfItem(atPath: bed.daemon.socketPath)[.posixPermissions] as? Int
            #expect(mode.map { $0 & 0o007 } == 0, "dockerd made its socket inaccessible to others")
            // As an unprivileged user (root would bypass the socket's permissions).
            let r = try Shell.run(path: "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", copy.path,
                                                            "plan", "--docker-host", bed.daemon.host, "-f", manifest.path],
                                  environment: ["HOME": scratch.url.path, "PATH": "/usr/bin:/bin"], check: false)
            #expect(r.status == 1)
            #expect(r.stderrText.contains("permission denied on \(bed.daemon.socketPath)"), "stderr: \(r.stderrText)")
            #expect(r.stderrText.contains("'docker'"), "and says which group opens it: \(r.stderrText)")
        }

        @Test(arguments: [
            ("unix:///var/run/docker.sock", "unix:/var/run/docker.sock"),
            ("/run/user/1000/docker.sock", "unix:/run/user/1000/docker.sock"),
            ("tcp://10.0.0.5:2375", "http://10.0.0.5:2375"),
            ("tcp://engine.example", "http://engine.example:2375"),
            ("https://engine.example:2376", "https://engine.example:2376"),
        ])
        func dockerHostsParse(_ input: String, _ expected: String) throws {
            let host = try DockerHost(parsing: input, environment: [:])
            switch host.endpoint {
            case .unixSocket(let path): #expect("unix:" + path == expected)
            case .tcp(let h, let port, let tls): #expect("\(tls == nil ? "http" : "https")://\(h):\(port)" == expected)
            }
        }

        @Test(arguments: ["unix://relative.sock", "ssh://me@host", "tcp://host:notaport", "tcp://:2375", "npipe:////./pipe/docker_engine",
                          "unix:///" + String(repeating: "s", count: 120)])
        func badDockerHostsAreRefused(_ input: String) {
            #expect(throws: DockerEngineError.self) { try DockerHost(parsing: input, environment: [:]) }
        }

        @Test func tlsSettingsComeFromTheDockerEnvironment() throws {
            let scratch = try ScratchDirectory("berth-tls")
            for name in ["ca.pem", "cert.pem", "key.pem"] { try Data("x".utf8).write(to: scratch.file(name)) }
            let verified = try DockerHost(parsing: "tcp://engine:2376", environment: ["DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": scratch.url.path])
            guard case .tcp(_, 2376, let tls?) = verified.endpoint else { Issue.record("no TLS: \(verified.endpoint)"); return }
            #expect(tls.verifyPeer)
            #expect(tls.caFile == scratch.file("ca.pem").path)
            #expect(tls.clientCertificate == scratch.file("cert.pem").path)
            #expect(tls.clientKey == scratch.file("key.pem").path)
            #expect(throws: DockerEngineError.self) {
                try DockerHost(parsing: "tcp://engine:2376", environment: ["DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": scratch.file("none").path])
            }
            let plain = try DockerHost(parsing: "tcp://engine:2375", environment: ["DOCKER_TLS_VERIFY": ""])
            guard case .tcp(_, 2375, nil) = plain.endpoint else { Issue.record("TLS without DOCKER_TLS_VERIFY"); return }
        }
    }
}
