import Foundation
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// The findings of `berth store verify` (fsck).
public struct VerifyReport: Sendable {
    public enum Problem: Sendable, Equatable, CustomStringConvertible {
        /// A blob whose content does not hash to its name, or whose size differs from a descriptor.
        case corruptBlob(Digest, String)
        /// An index entry or manifest names a blob that is not there.
        case missingBlob(Digest, referencedBy: String)
        /// A file under blobs/ that is not a valid digest name.
        case strayFile(String)
        /// A blob nothing references (harmless; GC removes it).
        case unreferencedBlob(Digest, Int64)
        /// A leftover download in the ingest area (harmless; removed on the next write).
        case ingestLeftover(String)
        /// A manifest or config that does not parse.
        case unreadable(Digest, String)
        /// berth's record for an image absent from the index (harmless).
        case orphanRecord(Digest)
        /// `index.json` or `berth/state.json` does not decode (repair rebuilds it).
        case damagedFile(String, String)

        public var description: String {
            switch self {
            case .corruptBlob(let d, let why): return "corrupt blob \(d): \(why)"
            case .missingBlob(let d, let by): return "missing blob \(d), referenced by \(by)"
            case .strayFile(let p): return "stray file \(p)"
            case .unreferencedBlob(let d, let n): return "unreferenced blob \(d) (\(n) bytes)"
            case .ingestLeftover(let n): return "leftover ingest file \(n)"
            case .unreadable(let d, let why): return "unreadable \(d): \(why)"
            case .orphanRecord(let d): return "record for absent image \(d)"
            case .damagedFile(let p, let why): return "store file \(p) is damaged: \(why)"
            }
        }

        /// Problems that make the store invalid (rather than merely untidy).
        public var isDamage: Bool {
            switch self {
            case .corruptBlob, .missingBlob, .unreadable, .damagedFile: return true
            case .strayFile, .unreferencedBlob, .ingestLeftover, .orphanRecord: return false
            }
        }
    }

    public var problems: [Problem]
    public var blobsChecked: Int
    public var bytesChecked: Int64
    public var images: Int
    public var repaired: [String]
    public var ok: Bool { !problems.contains { $0.isDamage } }
}

extension LayoutStore {
    /// Checks every blob's digest and size, that every index entry resolves — an image
    /// manifest's config and layers, an index's manifests (nested), any other document's
    /// `config`, `layers`, `blobs` and `manifests` — and reports leftovers. With `repair`
    /// (the caller holds the lock) it first recovers a damaged `index.json` or
    /// `berth/state.json` (see `recoverFiles`), then removes only what fails: blobs whose
    /// content does not hash to their name or whose size differs from a descriptor, index
    /// entries that need such a blob or a missing one (their tags are recorded in the
    /// ledger), stray files under `blobs/` (not digest-named), ingest leftovers and orphan
    /// records. Valid content stays, referenced or not (a manifest berth cannot parse but
    /// whose digest holds is reported, not removed; unreferenced blobs are left for GC).
    /// Every removal is listed in `repaired`. A later pull restores removed images.
    ///
    /// Without `repair` it takes no lock, so a writer may commit or collect blobs while it
    /// reads: a blob that vanishes before it is read counts as absent, and damage found while
    /// `index.json` changed is checked again (up to 5 times) before it is reported.
    public func verify(repair: Bool) throws -> VerifyReport {
        var recovered: [String] = []
        if repair {
            recovered = try recoverFiles()
        } else {
            let damaged = damagedFiles()
            if !damaged.isEmpty {
                return VerifyReport(problems: damaged.map { .damagedFile($0.path, $0.reason) }, blobsChecked: 0, bytesChecked: 0, images: 0, repaired: [])
            }
        }
        var (report, indexChanged) = try check(repair: repair)
        report.repaired = recovered + report.repaired
        var attempt = 1
        while !repair && !report.ok && indexChanged && attempt < 5 {
            usleep(useconds_t(50_000 * attempt))
            (report, indexChanged) = try check(repair: false)
            attempt += 1
        }
        return report
    }

    /// One pass of `verify`; also says whether `index.json` changed while it ran.
    private func check(repair: Bool) throws -> (VerifyReport, indexChanged: Bool) {
        let indexURL = root.appendingPathComponent("index.json")
        let indexAtStart = FileManager.default.contents(atPath: indexURL.path)
        var problems: [VerifyReport.Problem] = []
        var repaired: [String] = []
        let fm = FileManager.default
        var sizes: [Digest: Int64] = [:]
        var bad = Set<Digest>()
        var bytes: Int64 = 0
        for algo in ["sha256", "sha512"] {
            let dir = blobsDir.appendingPathComponent(algo)
            for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] {
                let path = dir.appendingPathComponent(name).path
                guard let d = try? Digest(parsing: "\(algo):\(name)") else {
                    problems.append(.strayFile("blobs/\(algo)/\(name)"))
                    if repair { try? fm.removeItem(atPath: path); repaired.append("removed blobs/\(algo)/\(name)") }
                    continue
                }
                guard let h = FileHandle(forReadingAtPath: path) else {
                    // Collected by a writer since the listing: absent, not corrupt.
                    if !fm.fileExists(atPath: path) { continue }
                    problems.append(.corruptBlob(d, "cannot be read")); bad.insert(d); continue
                }
                var digester = StreamDigester(d.algorithm)
                while let chunk = try? h.read(upToCount: 1 << 20), !chunk.isEmpty { digester.update(chunk) }
                try? h.close()
                sizes[d] = digester.count
                bytes += digester.count
                if digester.finalize() != d {
                    problems.append(.corruptBlob(d, "content hashes to \(digester.finalize())"))
                    bad.insert(d)
                }
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: ingestDir.path)) ?? [] { problems.append(.ingestLeftover(name)) }

        let index = try readIndex()
        let state = try readState()
        var referenced = Set<Digest>()
        var brokenImages = Set<Digest>()
        for top in index.manifests {
            let topWho = top.refName ?? "untagged image \(top.digest.short)"
            var visited = Set<Digest>()
            func need(_ d: Digest, _ expected: Int64?, _ what: String) {
                referenced.insert(d)
                guard let size = sizes[d] else {
                    if !problems.contains(.missingBlob(d, referencedBy: what)) { problems.append(.missingBlob(d, referencedBy: what)) }
                    brokenImages.insert(top.digest)
                    return
                }
                if bad.contains(d) { brokenImages.insert(top.digest) }
                if let expected, expected >= 0, expected != size {
                    problems.append(.corruptBlob(d, "\(size) bytes, but \(what) says \(expected)"))
                    bad.insert(d)
                    brokenImages.insert(top.digest)
                }
            }
            func walk(_ desc: Links.Link, _ who: String, depth: Int) {
                need(desc.digest, desc.size, who)
                guard depth < 8, visited.insert(desc.digest).inserted, sizes[desc.digest] != nil, !bad.contains(desc.digest) else { return }
                let type = desc.mediaType ?? ""
                if MediaType.isImageManifest(type) {
                    do {
                        let m = try readManifest(desc.digest)
                        need(m.config.digest, m.config.size, "\(who) (config)")
                        for l in m.layers { need(l.digest, l.size, "\(who) (layer)") }
                    } catch {
                        problems.append(.unreadable(desc.digest, "\(error)"))
                    }
                    return
                }
                // Indexes and documents of other types (artifacts): follow what they point at.
                guard Links.mayLink(type), let data = try? readBlob(desc.digest, limit: 4 << 20) else { return }
                guard let links = try? JSONDecoder().decode(Links.self, from: data) else {
                    if MediaType.isIndex(type) { problems.append(.unreadable(desc.digest, "not an image index")) }
                    return
                }
                if let c = links.config { need(c.digest, c.size, "\(who) (config)") }
                for l in (links.layers ?? []) + (links.blobs ?? []) { need(l.digest, l.size, "\(who) (layer)") }
                if let s = links.subject, sizes[s.digest] != nil { referenced.insert(s.digest) }
                if type.isEmpty, links.config != nil, links.layers != nil, (try? readManifest(desc.digest)) == nil {
                    problems.append(.unreadable(desc.digest, "not an image manifest"))
                }
                for m in links.manifests ?? [] {
                    let platform = m.platform.map { " \($0.os)/\($0.architecture)\($0.variant.map { "/" + $0 } ?? "")" } ?? ""
                    walk(m, "\(who) (\(m.digest.short)\(platform))", depth: depth + 1)
                }
            }
            walk(Links.Link(digest: top.digest, mediaType: top.mediaType, size: top.size), topWho, depth: 0)
        }
        for (d, size) in sizes.sorted(by: { $0.key < $1.key }) where !referenced.contains(d) && !bad.contains(d) {
            problems.append(.unreferencedBlob(d, size))
        }
        let present = imageKeys(in: index)
        for key in state.images.keys.sorted() where !present.contains(key) {
            if let d = try? Digest(parsing: key) { problems.append(.orphanRecord(d)) }
        }

        if repair {
            let now = Date()
            try update { index, state in
                for d in brokenImages.sorted() {
                    for t in index.tags(of: d) {
                        state.ledger.append(LedgerEntry(image: d, imageID: state.record(d)?.configDigest ?? d, reference: t.description,
                                                        movedTo: nil, at: now, cause: "repair", run: nil))
                    }
                    let names = index.tags(of: d).map(\.familiarString)
                    index.remove(d)
                    state.images[d.description] = nil
                    repaired.append("removed damaged image \(d)" + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))") + " (pull it again)")
                }
                let broken = Set(brokenImages.map(\.description))
                let before = state.images.count
                state.images = state.images.filter { present.contains($0.key) && !broken.contains($0.key) }
                if state.images.count < before - brokenImages.count {
                    repaired.append("dropped \(before - brokenImages.count - state.images.count) records of images no longer in index.json")
                }
            }
            for d in bad.sorted() {
                try? fm.removeItem(at: blobURL(d))
                repaired.append("removed corrupt blob \(d)")
            }
            for name in sweepIngest() { repaired.append("removed ingest leftover \(name)") }
        }
        let report = VerifyReport(problems: problems, blobsChecked: sizes.count, bytesChecked: bytes, images: index.imageDigests.count, repaired: repaired)
        return (report, FileManager.default.contents(atPath: indexURL.path) != indexAtStart)
    }
}
