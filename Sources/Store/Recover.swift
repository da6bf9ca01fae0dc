import Foundation
import OCI
#if canImport(Glibc)
import Glibc
#endif

/// Recovery of berth's own files for `store verify --repair`.
///
/// `index.json` is the layout's (tags live only there); `berth/state.json` is berth's cache of
/// what the layout implies (image records, layer facts) plus what only it knows (the retag
/// ledger, run records, where and when images were pulled). When either does not decode,
/// every other verb refuses the store (`StoreError.corrupt`, naming the file and this repair)
/// and reads never repair. Repair, holding the lock:
/// - keeps the damaged file's bytes beside it (`<name>.damaged-<UTC time>`), never deletes them;
/// - `state.json`: keeps every record, layer fact, ledger entry and run that still decodes
///   (one by one); if the file is not JSON at all, starts from an empty state. Records of
///   images in the index are then rebuilt from their manifests and configs (marked
///   `rebuiltAt`; repo digests, source and pull time are lost). Lost layer facts are measured
///   again by the next pull that inflates the layer; until then sizes are the compressed ones.
/// - `index.json`: keeps every entry that still decodes; if the file is not JSON at all, it
///   lists, untagged, every image manifest or index in `blobs/` that no other index in
///   `blobs/` holds. Ref names of entries that did not survive are lost: the images are
///   kept (dangling) and the report names them with where berth pulled them from, if known.
///   The next `apply` pulls (from blobs already present) and tags what the manifest wants.
/// Every loss is reported, one line each.
extension LayoutStore {

    /// The damaged berth files (`index.json`, `berth/state.json`) with why, without changing anything.
    func damagedFiles() -> [(path: String, reason: String)] {
        var out: [(String, String)] = []
        do { _ = try readIndex() } catch let StoreError.corrupt(path, reason) { out.append((path, reason)) } catch let StoreError.io(path, e) where e == ENOENT {
            out.append((path, "the file is missing"))
        } catch {}
        do { _ = try readState() } catch let StoreError.corrupt(path, reason) { out.append((path, reason)) } catch {}
        return out
    }

    /// Repairs damaged `index.json` / `state.json` as the type's doc says. The caller holds the lock.
    func recoverFiles(now: Date = Date()) throws -> [String] {
        mutex.lock(); defer { mutex.unlock() }
        var lines: [String] = []
        let stampFormat = ISO8601DateFormatter()
        stampFormat.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        let stamp = stampFormat.string(from: now)
        let indexURL = root.appendingPathComponent("index.json")
        let stateURL = berthDir.appendingPathComponent("state.json")

        // state.json
        var state: StoreState
        var stateDamaged = false
        var recordsLost = false
        do { state = try readState() } catch {
            stateDamaged = true
            let data = FileManager.default.contents(atPath: stateURL.path) ?? Data()
            let aside = berthDir.appendingPathComponent("state.json.damaged-\(stamp)")
            try Durable.write(data, to: aside)
            lines.append("berth/state.json is damaged (\(LayoutStore.reason(error))); kept it as berth/\(aside.lastPathComponent)")
            if let (salvaged, report) = LayoutStore.salvageState(data) {
                state = salvaged
                recordsLost = report.lostImages > 0
                lines.append("kept from berth/state.json: \(state.images.count) image records, \(state.layers.count) layer facts, \(state.ledger.count) ledger entries, \(state.runs.count) run records")
                if report.lostImages > 0 { lines.append("lost \(report.lostImages) image records (rebuilt from the layout below)") }
                if report.lostLayers > 0 { lines.append("lost \(report.lostLayers) layer facts (measured again when a pull inflates the layer; sizes show compressed bytes until then)") }
                if report.lostLedger > 0 { lines.append("lost \(report.lostLedger) ledger entries (rollback history of those tags)") }
                if report.lostRuns > 0 { lines.append("lost \(report.lostRuns) run records") }
            } else {
                state = StoreState()
                recordsLost = true
                lines.append("berth/state.json is not JSON: started from an empty state; lost: the retag ledger (rollback history), run records, layer facts (measured again by later pulls; sizes show compressed bytes until then), and each image's repo digests, source and pull time (image records are rebuilt from the layout)")
            }
        }

        // index.json
        var index: LayoutIndex
        var indexDamaged = false
        do { index = try readIndex() } catch StoreError.io(_, let e) where e == ENOENT {
            indexDamaged = true
            lines.append("index.json is missing")
            index = LayoutIndex(manifests: scanRoots())
            lines.append("rebuilt index.json from blobs/: \(index.manifests.count) images, all untagged")
        } catch {
            indexDamaged = true
            let data = FileManager.default.contents(atPath: indexURL.path) ?? Data()
            let aside = root.appendingPathComponent("index.json.damaged-\(stamp)")
            try Durable.write(data, to: aside)
            lines.append("index.json is damaged (\(LayoutStore.reason(error))); kept it as \(aside.lastPathComponent)")
            if let entries = LayoutStore.salvageIndex(data) {
                index = LayoutIndex(manifests: entries.kept)
                lines.append("kept \(entries.kept.count) index entries; lost \(entries.lost) entries that no longer decode")
                // Images only a lost entry named come back untagged.
                for d in scanRoots() where !index.contains(d.digest) && entry(holding: d.digest, in: index) == nil {
                    index.addDangling(d)
                }
            } else {
                index = LayoutIndex(manifests: scanRoots())
                lines.append("index.json is not JSON: rebuilt it from blobs/ with \(index.manifests.count) images, all untagged (every tag in the store is lost; 'berth apply' tags what its manifest wants)")
            }
            for d in index.manifests where d.refName == nil {
                let was = state.record(d.digest).map { $0.source.isEmpty ? "" : " (berth pulled it as \($0.source))" } ?? ""
                lines.append("image \(d.digest) is untagged now\(was)")
            }
        }

        guard stateDamaged || indexDamaged else { return [] }

        if recordsLost {
            var rebuilt = 0
            for img in (try? images(index: index, state: state)) ?? [] where state.record(img.digest) == nil {
                guard let record = rebuiltRecord(img, now: now) else { continue }
                state.images[img.digest.description] = record
                rebuilt += 1
            }
            if rebuilt > 0 { lines.append("rebuilt \(rebuilt) image records from manifests and configs (no repo digests, source or pull time)") }
        }
        // State first: an index entry never lacks its record.
        if stateDamaged { try writeState(state) }
        if indexDamaged { try writeIndex(index) }
        return lines
    }

    /// An image record derived from the layout alone.
    func rebuiltRecord(_ img: StoredImage, now: Date) -> ImageRecord? {
        guard let manifest = try? readManifest(img.digest), let (config, _) = try? readConfig(manifest.config.digest) else { return nil }
        var r = ImageRecord(configDigest: manifest.config.digest, pulledAt: now, source: "", repoDigests: [], created: config.created,
                            labels: config.labels,
                            platform: config.os.flatMap { os in config.architecture.map { Platform(os: os, architecture: $0, variant: config.variant) } })
        r.layers = manifest.layers
        r.configSize = manifest.config.size
        r.rebuiltAt = now
        return r
    }

    /// Every image manifest and index in `blobs/` that no index in `blobs/` lists, as index
    /// entries without names, in digest order.
    func scanRoots() -> [Descriptor] {
        struct Probe: Decodable {
            var mediaType: String?
            var config: Descriptor?
            var layers: [Descriptor]?
            var manifests: [Descriptor]?
        }
        var found: [Descriptor] = []
        var children = Set<Digest>()
        let fm = FileManager.default
        for algo in ["sha256", "sha512"] {
            let dir = blobsDir.appendingPathComponent(algo)
            for name in ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() {
                guard let d = try? Digest(parsing: "\(algo):\(name)"), let size = blobSize(d), size <= 4 << 20 else { continue }
                // Layers are gzip or tar: only a document that starts like JSON is decoded.
                guard let h = FileHandle(forReadingAtPath: blobURL(d).path) else { continue }
                let head = (try? h.read(upToCount: 64)) ?? Data()
                try? h.close()
                guard head.first(where: { !" \t\r\n".utf8.contains($0) }) == UInt8(ascii: "{"),
                      let data = try? readBlob(d, limit: 4 << 20), let p = try? JSONDecoder().decode(Probe.self, from: data) else { continue }
                var dg = StreamDigester(d.algorithm)
                dg.update(data)
                guard dg.finalize() == d else { continue }
                if let ms = p.manifests, p.layers == nil {
                    for m in ms { children.insert(m.digest) }
                    found.append(Descriptor(mediaType: p.mediaType ?? MediaType.ociIndex, digest: d, size: size))
                } else if p.config != nil, p.layers != nil {
                    found.append(Descriptor(mediaType: p.mediaType ?? MediaType.ociManifest, digest: d, size: size))
                }
            }
        }
        return found.filter { !children.contains($0.digest) }
    }

    struct SalvageReport { var lostImages = 0, lostLayers = 0, lostLedger = 0, lostRuns = 0 }

    /// What of a damaged `state.json` still decodes, element by element; nil when it is not a JSON object.
    static func salvageState(_ data: Data) -> (StoreState, SalvageReport)? {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        var state = StoreState()
        var report = SalvageReport()
        func decode<T: Decodable>(_ any: Any, as: T.Type) -> T? {
            guard JSONSerialization.isValidJSONObject(any), let d = try? JSONSerialization.data(withJSONObject: any) else { return nil }
            return try? LayoutStore.decoder.decode(T.self, from: d)
        }
        if let v = top["version"] as? Int { state.version = v }
        for (k, v) in (top["images"] as? [String: Any]) ?? [:] {
            if (try? Digest(parsing: k)) != nil, let r = decode(v, as: ImageRecord.self) { state.images[k] = r } else { report.lostImages += 1 }
        }
        for (k, v) in (top["layers"] as? [String: Any]) ?? [:] {
            if let f = decode(v, as: LayerFacts.self) { state.layers[k] = f } else { report.lostLayers += 1 }
        }
        for v in (top["ledger"] as? [Any]) ?? [] {
            if let e = decode(v, as: LedgerEntry.self) { state.ledger.append(e) } else { report.lostLedger += 1 }
        }
        for v in (top["runs"] as? [Any]) ?? [] {
            if let r = decode(v, as: RunRecord.self) { state.runs.append(r) } else { report.lostRuns += 1 }
        }
        return (state, report)
    }

    /// The entries of a damaged `index.json` that still decode; nil when it is not a JSON object.
    static func salvageIndex(_ data: Data) -> (kept: [Descriptor], lost: Int)? {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        var kept: [Descriptor] = []
        var lost = 0
        for v in (top["manifests"] as? [Any]) ?? [] {
            if JSONSerialization.isValidJSONObject(v), let d = try? JSONSerialization.data(withJSONObject: v),
               let desc = try? JSONDecoder().decode(Descriptor.self, from: d) { kept.append(desc) } else { lost += 1 }
        }
        return (kept, lost)
    }

    static func reason(_ error: any Error) -> String {
        if case StoreError.corrupt(_, let reason) = error { return String(reason.prefix(200)) }
        return String("\(error)".prefix(200))
    }
}
