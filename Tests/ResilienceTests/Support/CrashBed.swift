import Foundation
import OCI
import Synchronization
import TestSupport

/// The shared registry once started, for the `atexit` handler that stops it.
private let sharedRegistry = Mutex<RegistryServer?>(nil)

/// One real registry holding six OCI images with shared layers, about 8 MB of blobs that do
/// not compress (so a pull takes a measurable while): a 2.5 MB base under all six, a 1.5 MB
/// middle layer shared by three of them, and a 400 KB top layer each. Built once per test
/// process and shared by the crash and concurrency suites (they only read the registry).
final class CrashBed: Sendable {
    struct Pushed: Sendable {
        /// `127.0.0.1:PORT/crash/app-N:v1`, as berth writes it into index.json.
        let reference: String
        let digest: Digest
        let imageID: Digest
    }

    let registry: RegistryServer
    let images: [Pushed]
    var references: [String] { images.map(\.reference) }

    private static let made: Result<CrashBed, Error> = Result { try CrashBed() }
    static func shared() throws -> CrashBed { try made.get() }

    private init() throws {
        let registry = try RegistryServer(name: "resilience")
        self.registry = registry
        // Shared for the whole process, so never deinitialized: stop it (and remove its
        // storage) at exit.
        sharedRegistry.withLock { $0 = registry }
        atexit { sharedRegistry.withLock { $0 }?.stop() }
        func random(_ bytes: Int, _ seed: UInt64, _ dir: String, files: Int) throws -> BuiltLayer {
            try FixtureLayer.generated(totalBytes: bytes, files: files, seed: seed, style: .random, directory: dir).build()
        }
        let base = try random(2_560 << 10, 0xC0A5_0001, "usr/lib/base", files: 6)
        let middles = [try random(1_536 << 10, 0xC0A5_0002, "usr/lib/runtime-a", files: 4),
                       try random(1_536 << 10, 0xC0A5_0003, "usr/lib/runtime-b", files: 4)]
        var pushed: [Pushed] = []
        for i in 0..<6 {
            let top = try random(400 << 10, 0xC0A5_0100 + UInt64(i), "opt/app-\(i)", files: 2)
            let image = try FixtureImage(layers: [base, middles[i / 3], top],
                                         labels: ["com.example.app": "app-\(i)"], cmd: ["/opt/app-\(i)/run"]).build()
            let repository = "crash/app-\(i)"
            let digest = try registry.push(image, repository: repository, tag: "v1")
            pushed.append(Pushed(reference: "\(registry.host)/\(repository):v1", digest: digest, imageID: image.configDigest))
        }
        images = pushed
    }
}
