import Foundation
import OCI

/// What berth pulled into an engine, as the engine cannot say it: the manifest digest an
/// image ID was pulled as, and the registry blobs it came from.
public struct EnginePullRecord: Codable, Sendable, Equatable {
    /// The platform image manifest (what the planner and the layout store call the image).
    public var manifest: Digest
    /// The digest pulled by (the index digest for a multi-platform tag).
    public var pulledDigest: Digest
    /// The reference berth pulled it as.
    public var reference: String
    public var pulledAt: Date
    /// Registry blobs (manifest, config, compressed layers) and their sizes.
    public var blobs: [BlobRef]

    public init(manifest: Digest, pulledDigest: Digest, reference: String, pulledAt: Date, blobs: [BlobRef]) {
        self.manifest = manifest
        self.pulledDigest = pulledDigest
        self.reference = reference
        self.pulledAt = pulledAt
        self.blobs = blobs
    }
}

/// berth's file for one engine: `<state dir>/ledger.json`, where the state dir is keyed by the
/// engine ID (`GET /info`). Replaced durably as a whole (temp file, fsync, rename); writers
/// hold the engine lock (`<state dir>/lock`) across processes and the store's mutex within one.
public struct EngineState: Codable, Sendable {
    public var version: Int = 1
    public var engineID: String
    /// Keyed by engine image ID (`sha256:…`).
    public var images: [String: EnginePullRecord] = [:]
    /// Tags that left images through berth. `LedgerEntry.imageID` is the engine image ID, the
    /// key that stays true; `image` is rewritten on read to what `observe` calls the image.
    public var ledger: [LedgerEntry] = []
    /// The most recent runs, oldest first (bounded by `StoreState.maxRuns`).
    public var runs: [RunRecord] = []

    public init(engineID: String) { self.engineID = engineID }

    enum CodingKeys: String, CodingKey { case version, engineID, images, ledger, runs }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        engineID = try c.decode(String.self, forKey: .engineID)
        images = try c.decodeIfPresent([String: EnginePullRecord].self, forKey: .images) ?? [:]
        ledger = try c.decodeIfPresent([LedgerEntry].self, forKey: .ledger) ?? []
        runs = try c.decodeIfPresent([RunRecord].self, forKey: .runs) ?? []
    }

    public mutating func append(run: RunRecord) {
        runs.append(run)
        if runs.count > StoreState.maxRuns { runs.removeFirst(runs.count - StoreState.maxRuns) }
    }
}

extension EngineState {
    static func read(from url: URL, engineID: String) throws -> EngineState {
        guard let data = FileManager.default.contents(atPath: url.path) else { return EngineState(engineID: engineID) }
        let state: EngineState
        do { state = try LayoutStore.decoder.decode(EngineState.self, from: data) } catch {
            throw StoreError.corrupt(path: url.path, reason: DecodeProblem.describe(error))
        }
        guard state.engineID == engineID else {
            throw StoreError.corrupt(path: url.path, reason: "it belongs to engine \(state.engineID), not \(engineID)")
        }
        return state
    }

    func write(to url: URL) throws {
        try Durable.write(try LayoutStore.encoder.encode(self), to: url)
    }
}

extension EngineState {
    /// The state directory (mode 0700) of a store whose facts berth keeps itself; `owner` names
    /// the store in the error ("the engine", "containerd").
    static func ensureDirectory(_ directory: URL, owner: String) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError.conflict("cannot create berth's state directory for \(owner), \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Read-modify-write of the state file at `url` under `mutex` (this process; callers hold
    /// the store's writer lock across processes), replaced durably.
    static func update<T>(at url: URL, identity: String, owner: String, mutex: NSLock, _ body: (inout EngineState) throws -> T) throws -> T {
        mutex.lock(); defer { mutex.unlock() }
        var state = try read(from: url, engineID: identity)
        let result = try body(&state)
        try ensureDirectory(url.deletingLastPathComponent(), owner: owner)
        try state.write(to: url)
        return result
    }
}
