import Foundation
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// An image as the store holds it, ready for listing and planning.
public struct StoredImage: Sendable {
    public var manifest: Descriptor
    public var tags: [Reference]
    public var record: ImageRecord?
    /// Docker's size: the sum of the files in all layers (compressed sizes when unknown).
    public var size: Int64
    public var layers: [Descriptor]
    /// Read from the manifest and config when berth has no record of the image (content
    /// another tool wrote: skopeo, umoci, podman).
    public var derived: DerivedFacts?

    /// The `index.json` entry that holds the image: its own digest, or for a platform image
    /// of a multi-platform entry, that entry's (index) digest. Removing the image removes
    /// this entry; tags are edited on it.
    public var entry: Digest
    /// The index the image was found in, when it is a platform image of a multi-platform entry.
    public var parentIndex: Descriptor?

    public struct DerivedFacts: Sendable {
        public var config: Descriptor
        public var created: Date?
        public var labels: [String: String]
        public var platform: Platform?
    }

    public var digest: Digest { manifest.digest }
    /// Docker's image ID: the config digest.
    public var id: Digest { record?.configDigest ?? derived?.config.digest ?? manifest.digest }
    public var isDangling: Bool { tags.isEmpty }
    public var created: Date? { record.map { $0.createdDate } ?? derived?.created }
    public var labels: [String: String] { record?.labels ?? derived?.labels ?? [:] }
    public var repoDigests: [String] { record?.repoDigests ?? [] }
    public var platform: Platform? { record?.platform ?? derived?.platform }
    /// The config blob, when known.
    public var config: BlobRef? {
        if let r = record { return BlobRef(digest: r.configDigest, size: r.configSize ?? 0) }
        return derived.map { BlobRef(digest: $0.config.digest, size: $0.config.size) }
    }
}

/// The embedded store: an OCI image layout directory that skopeo, umoci and podman read
/// (`oci:STORE:docker.io/library/alpine:latest`), plus berth's own files under `berth/`.
///
/// Contract:
/// - A blob enters `blobs/` only after its digest and size were verified (via `berth/ingest/`).
/// - An image enters `index.json` only after all its blobs are in `blobs/`.
/// - `index.json` and `berth/state.json` are replaced durably (temp, fsync, rename).
/// - Writers hold the store lock (`berth/lock`); readers take no lock and see whole files.
public final class LayoutStore: Sendable {
    public let root: URL
    let blobsDir: URL
    /// `blobsDir.path`, kept: paths of blobs are built from it by the hundred thousand.
    let blobsPath: String
    let berthDir: URL
    let ingestDir: URL
    /// Guards index/state read-modify-write within this process.
    let mutex = NSLock()
    /// One download per blob at a time in this process, however many images need it.
    let blobFlights = SingleFlight()
    /// Blobs that pulls in this process are about to publish: a failed pull's rollback leaves
    /// them alone (another pull may be about to reference them).
    let claims = BlobClaims()
    /// Facts of layers downloaded by this process (so no pull inflates a stored layer again).
    let learnedFacts = LearnedLayerFacts()

    /// Opens the store at `path`. With `create` (the writers: pull, apply, tag), an empty
    /// layout is made if the directory is absent or empty; without it (every read), a path
    /// that holds no OCI layout throws `noStore` and nothing is created.
    public init(path: String, create: Bool = true) throws {
        root = URL(fileURLWithPath: path).standardizedFileURL
        blobsDir = root.appendingPathComponent("blobs")
        blobsPath = blobsDir.path
        berthDir = root.appendingPathComponent("berth")
        ingestDir = berthDir.appendingPathComponent("ingest")
        let fm = FileManager.default
        let layoutFile = root.appendingPathComponent("oci-layout")
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: root.path, isDirectory: &isDir), !isDir.boolValue {
            throw StoreError.notAStore(path: root.path, reason: "it is a file, not a directory")
        }
        if !create {
            guard fm.fileExists(atPath: layoutFile.path) else { throw StoreError.noStore(path: root.path) }
            return
        }
        if !fm.fileExists(atPath: layoutFile.path) {
            // Another berth creating the store right now (or one killed while creating it)
            // leaves at most the temp file of oci-layout, or has just renamed it into place.
            if fm.fileExists(atPath: root.path), let items = try? fm.contentsOfDirectory(atPath: root.path),
               items.contains(where: { !$0.hasPrefix(".oci-layout.tmp-") }), !fm.fileExists(atPath: layoutFile.path) {
                throw StoreError.notAStore(path: root.path, reason: "the directory is not empty and has no oci-layout file")
            }
            try LayoutStore.makeDirectory(root)
            try Durable.write(Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layoutFile)
        }
        for dir in [blobsDir.appendingPathComponent("sha256"), ingestDir] where !fm.fileExists(atPath: dir.path) {
            try LayoutStore.makeDirectory(dir)
        }
        if !fm.fileExists(atPath: root.appendingPathComponent("index.json").path) {
            // Never replaces: a berth that created the store a moment ago may have filled it.
            let doc = ImageIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [])
            try Durable.create(try LayoutStore.encoder.encode(doc), at: root.appendingPathComponent("index.json"))
        }
    }

    /// `mkdir -p`, failing with the errno of the component that could not be made.
    static func makeDirectory(_ url: URL) throws {
        var path = ""
        for part in url.path.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + part
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw StoreError.io(path: path, errno: errno) }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            throw StoreError.notAStore(path: url.path, reason: "it is not a directory")
        }
    }

    // MARK: - Lock

    /// Takes the store's writer lock and sweeps ingest leftovers (they can only belong to a
    /// writer that died, since we now hold the lock).
    public func lock(timeout: Double = 0) throws -> StoreLock {
        // A layout another tool made has no berth/ yet: the writer about to lock makes it.
        if !FileManager.default.fileExists(atPath: ingestDir.path) { try LayoutStore.makeDirectory(ingestDir) }
        let l = try StoreLock(path: berthDir.appendingPathComponent("lock").path, timeout: timeout)
        sweepIngest()
        return l
    }

    /// Removes leftover ingest files; returns their names.
    @discardableResult
    public func sweepIngest() -> [String] {
        let fm = FileManager.default
        let items = (try? fm.contentsOfDirectory(atPath: ingestDir.path)) ?? []
        for item in items { try? fm.removeItem(at: ingestDir.appendingPathComponent(item)) }
        return items
    }

    // MARK: - Reading

    public func readIndex() throws -> LayoutIndex {
        let url = root.appendingPathComponent("index.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw StoreError.io(path: url.path, errno: ENOENT) }
        do {
            return LayoutIndex(manifests: try ImageIndex.decode(data).manifests)
        } catch {
            throw StoreError.corrupt(path: url.path, reason: "\(error)")
        }
    }

    public func readState() throws -> StoreState {
        let url = berthDir.appendingPathComponent("state.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return StoreState() }
        do { return try StoreState.decode(data) } catch {
            throw StoreError.corrupt(path: url.path, reason: "\(error)")
        }
    }

    func writeIndex(_ index: LayoutIndex) throws {
        let doc = ImageIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: index.manifests)
        try Durable.write(try LayoutStore.encoder.encode(doc), to: root.appendingPathComponent("index.json"))
    }

    func writeState(_ state: StoreState) throws {
        try Durable.write(try LayoutStore.encoder.encode(state), to: berthDir.appendingPathComponent("state.json"))
    }

    /// Read-modify-write of index and state under the in-process mutex. The caller holds the
    /// store lock. State is written first: an index entry never lacks its record.
    public func update<T>(_ body: (inout LayoutIndex, inout StoreState) throws -> T) throws -> T {
        mutex.lock(); defer { mutex.unlock() }
        var index = try readIndex()
        var state = try readState()
        let before = index.manifests
        let result = try body(&index, &state)
        try writeState(state)
        if index.manifests != before { try writeIndex(index) }
        return result
    }

    public func blobURL(_ d: Digest) -> URL { blobsDir.appendingPathComponent(d.blobPath) }

    public func hasBlob(_ d: Digest) -> Bool { FileManager.default.fileExists(atPath: blobURL(d).path) }

    /// Whether the blob is present at `size`. A blob of another size is damaged: it is removed
    /// (the caller holds the lock), so the pull that asked fetches it again.
    func hasBlob(_ d: Digest, size: Int64) -> Bool {
        guard let actual = blobSize(d) else { return false }
        if actual == size { return true }
        unlink(blobURL(d).path)
        return false
    }

    /// The blob's size on disk, or nil when absent. (A plain stat: FileManager's attributes
    /// also look up the owner's user and group names, reading /etc/passwd and /etc/group.)
    public func blobSize(_ d: Digest) -> Int64? {
        var st = stat()
        // A path string, not `blobURL(d).path`: a plan stats every blob of a store, and URL
        // appending costs more than the stat.
        return stat(blobsPath + "/" + d.blobPath, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Reads a blob whole (manifests, configs), refusing files over `limit`.
    public func readBlob(_ d: Digest, limit: Int = 16 << 20) throws -> Data {
        let url = blobURL(d)
        guard let size = blobSize(d) else { throw StoreError.missingBlob(d) }
        guard size <= limit else { throw StoreError.corrupt(path: url.path, reason: "blob is \(size) bytes, over the \(limit)-byte read limit") }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw StoreError.missingBlob(d) }
        return data
    }

    public func readManifest(_ d: Digest) throws -> ImageManifest {
        let data = try readBlob(d, limit: 4 << 20)
        do { return try JSONDecoder().decode(ImageManifest.self, from: data) } catch {
            throw StoreError.corrupt(path: blobURL(d).path, reason: "not an image manifest: \(error)")
        }
    }

    public func readConfig(_ d: Digest) throws -> (ImageConfig, Data) {
        let data = try readBlob(d)
        do { return (try JSONDecoder().decode(ImageConfig.self, from: data), data) } catch {
            throw StoreError.corrupt(path: blobURL(d).path, reason: "not an image config: \(error)")
        }
    }

    /// Every image in the store with its tags and record, in index order.
    public func images() throws -> [StoredImage] {
        let index = try readIndex()
        let state = try readState()
        return try images(index: index, state: state)
    }

    /// The images `index` holds, each once, in index order.
    ///
    /// An entry whose target is an image index (skopeo `copy --all`, crane, podman manifest
    /// lists) holds one image per platform manifest in it: each is listed as its own image,
    /// and the entry's ref name applies to every one of them — the name denotes the index,
    /// and the index is all of its platforms, as docker's containerd image store lists a
    /// multi-platform name. Each carries it as `NAME@<its manifest digest>` (in berth's model
    /// a reference names one image): `image ls` shows REPOSITORY and TAG of NAME on a row per
    /// platform, and a desired `NAME` (no digest) is not satisfied by them — berth stores
    /// single-platform images, so `apply` pulls the platform it wants and moves the name onto
    /// it. None of them is dangling while the entry is named. Removing one of them removes
    /// the entry (see `StoredImage.entry`). Entries of other media types
    /// (artifacts, signatures) are not images: they are not listed, and nothing berth does
    /// removes them.
    ///
    /// Images berth has records for are listed from the records (no blob is read); others
    /// from their manifest and config.
    public func images(index: LayoutIndex, state: StoreState) throws -> [StoredImage] {
        try images(index: index, state: state) { $0 }
    }

    /// The same walk, each image handed to `transform` as it is made: a caller that keeps
    /// something smaller (an observation) never holds every `StoredImage` at once.
    public func images<T>(index: LayoutIndex, state: StoreState, _ transform: (StoredImage) throws -> T) throws -> [T] {
        try images(rows: rows(of: index, state: state), state: state, transform)
    }

    /// One distinct image of `index`: its descriptor (ref name dropped), its tags, and the
    /// entry that holds it. Rows copy what they keep, so the index can go once they are made.
    struct IndexRow {
        var desc: Descriptor
        var tags: [Reference]
        var entry: Digest
        var parent: Descriptor?
    }

    /// The images `index` holds, each once, in index order (see `images(index:state:)`).
    func rows(of index: LayoutIndex, state: StoreState) -> [IndexRow] {
        // `slot` finds a digest's row. Rows are edited in place (appending a tag copies
        // nothing), and the map holds an Int per digest: reserved for every index entry, it
        // stays small however many tags an image has (a map of whole rows reserved that way
        // was 130 MB on a 200,000-tag store).
        var rows: [IndexRow] = []
        var slot: [Digest: Int] = [:]
        slot.reserveCapacity(index.manifests.count)
        func add(_ desc: Descriptor, tag: Reference?, entry: Digest, parent: Descriptor?) {
            if let i = slot[desc.digest] {
                if let tag, !rows[i].tags.contains(tag) { rows[i].tags.append(tag) }
                // A top-level entry of the image itself wins over an index that holds it.
                if rows[i].parent != nil && parent == nil { rows[i].entry = entry; rows[i].parent = nil; rows[i].desc = plain(desc) }
            } else {
                slot[desc.digest] = rows.count
                rows.append(IndexRow(desc: plain(desc), tags: tag.map { [$0] } ?? [], entry: entry, parent: parent))
            }
        }
        func plain(_ d: Descriptor) -> Descriptor {
            var p = d
            p.annotations?[Descriptor.refNameAnnotation] = nil
            if p.annotations?.isEmpty == true { p.annotations = nil }
            return p
        }
        for d in index.manifests {
            let tag = d.refName.flatMap(LayoutIndex.reference(forRefName:))
            if MediaType.isIndex(d.mediaType) || (d.mediaType.isEmpty && state.record(d.digest) == nil && isIndexBlob(d.digest)) {
                for child in platformImages(of: d) {
                    let named = tag.map { Reference(domain: $0.domain, path: $0.path, tag: $0.tag, digest: child.digest) }
                    add(child, tag: named, entry: d.digest, parent: plain(d))
                }
            } else if MediaType.isImageManifest(d.mediaType) || d.mediaType.isEmpty {
                add(d, tag: tag, entry: d.digest, parent: nil)
            }
        }
        return rows
    }

    /// The images of `rows`, each made from its row, the store's record and its layers' facts,
    /// and handed to `transform`.
    func images<T>(rows: [IndexRow], state: StoreState, _ transform: (StoredImage) throws -> T) throws -> [T] {
        try rows.map { row in
            let desc = row.desc
            let digest = desc.digest
            let record = state.record(digest)
            var layers = record?.layers ?? []
            var derived: StoredImage.DerivedFacts?
            if record?.layers == nil, let manifest = try? readManifest(digest) {
                layers = manifest.layers
                if record == nil {
                    let config = try? readConfig(manifest.config.digest).0
                    derived = StoredImage.DerivedFacts(
                        config: manifest.config, created: config?.createdDate, labels: config?.labels ?? [:],
                        platform: config.flatMap { c in c.os.flatMap { os in c.architecture.map { Platform(os: os, architecture: $0, variant: c.variant) } } }
                            ?? desc.platform)
                }
            }
            var size: Int64 = 0
            for l in layers { size += state.layer(l.digest)?.fileBytes ?? l.size }
            return try transform(StoredImage(manifest: desc, tags: row.tags.sorted(), record: record, size: size, layers: layers, derived: derived,
                                             entry: row.entry, parentIndex: row.parent))
        }
    }

    /// Whether an entry without a media type targets an index (the document has `manifests`).
    func isIndexBlob(_ d: Digest) -> Bool {
        guard let data = try? readBlob(d, limit: 4 << 20) else { return false }
        return (try? JSONDecoder().decode(ImageIndex.self, from: data)) != nil && (try? JSONDecoder().decode(ImageManifest.self, from: data)) == nil
    }

    /// The image manifests an index entry holds, nested indexes followed (depth-limited),
    /// each once. Unreadable indexes hold none (`verify` reports them).
    func platformImages(of entry: Descriptor) -> [Descriptor] {
        var out: [Descriptor] = []
        var seen = Set<Digest>()
        func walk(_ d: Descriptor, depth: Int) {
            guard depth < 8, seen.insert(d.digest).inserted,
                  let data = try? readBlob(d.digest, limit: 4 << 20),
                  let idx = try? JSONDecoder().decode(ImageIndex.self, from: data) else { return }
            for m in idx.manifests {
                if MediaType.isIndex(m.mediaType) { walk(m, depth: depth + 1) }
                else if MediaType.isImageManifest(m.mediaType) || m.mediaType.isEmpty {
                    // Attestation manifests (buildx's `unknown/unknown`) are not images.
                    if m.platform?.os == "unknown" || m.annotations?["vnd.docker.reference.type"] != nil { continue }
                    if seen.insert(m.digest).inserted { out.append(m) }
                }
            }
        }
        walk(entry, depth: 0)
        return out
    }

    /// The keys (manifest digests) of every image `index` holds, platform images of
    /// multi-platform entries included: the records worth keeping.
    func imageKeys(in index: LayoutIndex) -> Set<String> {
        var out = Set(index.imageDigests.map(\.description))
        for d in index.manifests where MediaType.isIndex(d.mediaType) {
            for c in platformImages(of: d) { out.insert(c.digest.description) }
        }
        return out
    }

    /// The index entry (top-level digest) that holds image `digest`: its own entry, or an
    /// index entry that lists it.
    func entry(holding digest: Digest, in index: LayoutIndex) -> Digest? {
        if index.contains(digest) { return digest }
        for d in index.manifests where MediaType.isIndex(d.mediaType) || d.mediaType.isEmpty {
            if platformImages(of: d).contains(where: { $0.digest == digest }) { return d.digest }
        }
        return nil
    }

    // MARK: - Blob ingest

    /// A file in the ingest area, promoted into `blobs/` only by `commit` after verification.
    public final class IngestFile {
        let url: URL
        var fd: Int32
        /// Writes are gathered before they reach the file: a download arrives in pieces of a
        /// few KiB to 256 KiB, and a write call each costs more than the copy.
        private var gathered: MappedBuffer?
        private static let gatherSize = 1 << 20
        private static let directWriteSize = 64 << 10
        init(url: URL) throws {
            self.url = url
            fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw StoreError.io(path: url.path, errno: errno) }
        }
        deinit { discard() }
        func truncate() throws {
            gathered?.removeAll()
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw StoreError.io(path: url.path, errno: errno) }
        }
        func write(_ chunk: UnsafeRawBufferPointer) throws {
            // A large piece is written as it is (after what was gathered): copying it would cost
            // more than the call it saves.
            if chunk.count >= Self.directWriteSize {
                try flush()
                return try writeThrough(chunk)
            }
            let buffer = gathered ?? MappedBuffer(capacity: Self.gatherSize)
            gathered = buffer
            var rest = chunk
            while !rest.isEmpty {
                let n = buffer.append(rest)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                if buffer.room == 0 { try flush() }
            }
        }
        private func flush() throws {
            guard let buffer = gathered, buffer.count > 0 else { return }
            try writeThrough(buffer.bytes)
            buffer.removeAll()
        }
        private func writeThrough(_ chunk: UnsafeRawBufferPointer) throws {
            var off = 0
            while off < chunk.count {
                let n = Glibc.write(fd, chunk.baseAddress! + off, chunk.count - off)
                if n < 0 { if errno == EINTR { continue }; throw StoreError.io(path: url.path, errno: errno) }
                off += n
            }
        }
        func discard() {
            gathered = nil
            if fd >= 0 { close(fd); fd = -1; unlink(url.path) }
        }
        /// Writes what is gathered, fsyncs and renames into place.
        func commit(to dest: URL) throws {
            try flush()
            gathered = nil
            guard fsync(fd) == 0 else { throw StoreError.io(path: url.path, errno: errno) }
            close(fd); fd = -1
            guard rename(url.path, dest.path) == 0 else { let e = errno; unlink(url.path); throw StoreError.io(path: dest.path, errno: e) }
        }
    }

    func newIngestFile(for d: Digest) throws -> IngestFile {
        try IngestFile(url: ingestDir.appendingPathComponent("\(d.hex).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"))
    }

    /// Writes small verified content (manifests, configs) as a blob. Returns false when the
    /// blob was already there.
    @discardableResult
    public func putBlob(_ data: Data, digest: Digest) throws -> Bool {
        guard !hasBlob(digest, size: Int64(data.count)) else { return false }
        var dg = StreamDigester(digest.algorithm)
        dg.update(data)
        guard dg.finalize() == digest else { throw StoreError.corrupt(path: "(new blob)", reason: "content does not match \(digest)") }
        let f = try newIngestFile(for: digest)
        try data.withUnsafeBytes { try f.write($0) }
        try ensureAlgorithmDir(digest)
        try f.commit(to: blobURL(digest))
        return true
    }

    func ensureAlgorithmDir(_ d: Digest) throws {
        let dir = blobsDir.appendingPathComponent(d.algorithm.rawValue)
        if !FileManager.default.fileExists(atPath: dir.path) {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
    }

    func syncBlobDirectories() {
        Durable.syncDirectory(blobsDir.appendingPathComponent("sha256"))
    }

    // MARK: - GC

    public struct Collected: Sendable {
        public var blobs: [Digest]
        public var bytes: Int64
    }

    /// The blobs reachable from `index`: every document's `config`, `layers`, `blobs` and
    /// `manifests` (nested indexes, artifacts of any media type), followed from each entry.
    /// A document that is not JSON ends its branch.
    public func reachable(from index: LayoutIndex) -> Set<Digest> {
        var marked = Set<Digest>()
        var stack = index.manifests.map { ($0.digest, $0.mediaType) }
        while let (d, type) = stack.popLast() {
            guard marked.insert(d).inserted else { continue }
            guard Links.mayLink(type), let data = try? readBlob(d, limit: 4 << 20),
                  let links = try? JSONDecoder().decode(Links.self, from: data) else { continue }
            for l in links.leaves { marked.insert(l.digest) }
            stack += (links.manifests ?? []).map { ($0.digest, $0.mediaType ?? "") }
            if let s = links.subject { stack.append((s.digest, s.mediaType ?? "")) }
        }
        return marked
    }

    /// Mark and sweep: removes (or with `dryRun`, lists) every blob not reachable from the
    /// current index (or from `assuming`, to price a change before making it; never swept). The caller holds the lock. Also drops state for vanished images/layers.
    @discardableResult
    public func collectGarbage(dryRun: Bool = false, assuming hypothetical: LayoutIndex? = nil) throws -> Collected {
        mutex.lock(); defer { mutex.unlock() }
        let index = try hypothetical ?? readIndex()
        let live = reachable(from: index)
        var removed: [Digest] = []
        var bytes: Int64 = 0
        let fm = FileManager.default
        for algo in ["sha256", "sha512"] {
            let dir = blobsDir.appendingPathComponent(algo)
            for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] {
                guard let d = try? Digest(parsing: "\(algo):\(name)"), !live.contains(d) else { continue }
                let url = dir.appendingPathComponent(name)
                let size = ((try? fm.attributesOfItem(atPath: url.path))?[.size] as? Int64) ?? 0
                if !dryRun { try? fm.removeItem(at: url) }
                removed.append(d)
                bytes += size
            }
        }
        if !dryRun && hypothetical == nil {
            var state = try readState()
            let present = imageKeys(in: index)
            state.images = state.images.filter { present.contains($0.key) }
            state.layers = state.layers.filter { live.contains((try? Digest(parsing: $0.key)) ?? Digest.sha256(Data())) }
            try writeState(state)
        }
        return Collected(blobs: removed.sorted(), bytes: bytes)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, enc in
            var c = enc.singleValueContainer()
            try c.encode(RFC3339.format(date))
        }
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { dec in
            let s = try dec.singleValueContainer().decode(String.self)
            guard let date = RFC3339.parse(s) else {
                throw DecodingError.dataCorrupted(.init(codingPath: dec.codingPath, debugDescription: "bad date \(s)"))
            }
            return date
        }
        return d
    }()
}
