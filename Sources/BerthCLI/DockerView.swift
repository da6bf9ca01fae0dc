import Foundation
import ImageSet
import OCI
import Render
import Store

/// Docker's view of the store's images: which images `image ls` lists under which filters,
/// and the rows it prints for them (moby daemon `Images` + docker/cli `imageFormat`).
enum DockerImageView {
    static let listFilters: Set<String> = ["dangling", "label", "before", "since", "reference"]

    /// An image with the references docker would report for it (after `reference=` filtering).
    struct Listed {
        var image: ObservedImage
        var repoTags: [Reference]
        var repoDigests: [Reference]
        var previous: [LedgerEntry]
    }

    /// Filters as the daemon does: `before`/`since` by creation time against a named image;
    /// `label` with MatchKVList; `reference` with docker's familiar match, which also trims the
    /// references reported; `dangling=true` keeps images with no tag (digest-only ones too),
    /// `dangling=false` drops images with neither tag nor digest. Newest first.
    static func list(_ observed: Observed, filters: FilterArgs) throws -> [Listed] {
        do { try filters.validate(allowed: listFilters) } catch FilterError.invalidFilter(let key, _) {
            throw ViewError("Invalid filter '\(key)'")   // dockerd 20.10's wording
        }
        let images = observed.images
        var danglingOnly = false
        if filters.contains("dangling") {
            if filters.exactMatch("dangling", "true") { danglingOnly = true }
            else if !filters.exactMatch("dangling", "false") {
                throw ViewError("invalid filter 'dangling=\(filters.values(for: "dangling").joined(separator: ","))'")
            }
        }
        func created(_ key: String) throws -> Date? {
            guard let name = filters.values(for: key).first else { return nil }
            return try findImage(name, in: images).created ?? .distantPast
        }
        let before = try created("before"), since = try created("since")
        let histories = observed.histories()
        let patterns: [GlobPattern]
        do { patterns = try filters.values(for: "reference").map(GlobPattern.init) } catch let e as GlobPatternError {
            throw ViewError("invalid reference filter '\(e.pattern)': \(e.reason)")
        }
        var out: [Listed] = []
        for img in images {
            let c = img.created ?? .distantPast
            if let before, c >= before { continue }
            if let since, c <= since { continue }
            if filters.contains("label"), !filters.matchKVList("label", img.labels) { continue }
            var tags = img.tags
            var digests = img.repoDigests.compactMap { try? Reference(parsing: $0) }
            if !patterns.isEmpty {
                // docker's FamiliarMatch: the familiar string, or the familiar name alone.
                func matches(_ r: Reference) -> Bool {
                    patterns.contains { $0.matches(r.familiarString) || $0.matches(r.familiarName) }
                }
                tags = tags.filter(matches)
                digests = digests.filter(matches)
            }
            if tags.isEmpty && digests.isEmpty {
                if filters.contains("dangling") && !danglingOnly { continue }
                if !patterns.isEmpty { continue }
            } else if danglingOnly && !tags.isEmpty {
                continue
            }
            out.append(Listed(image: img, repoTags: tags, repoDigests: digests, previous: histories[img.digest] ?? []))
        }
        return out.sorted { a, b in
            let ca = a.image.created ?? .distantPast, cb = b.image.created ?? .distantPast
            return ca != cb ? ca > cb : a.image.id.description < b.image.id.description
        }
    }

    /// One `image ls` row.
    struct Row {
        var repository: String
        var tag: String
        var digest: String
        var listed: Listed
    }

    /// Docker/cli's row expansion: a row per (repository, tag); with `digests`, one per digest
    /// of that repository; digest-only repositories get `<none>` tags; nothing at all gives
    /// `<none> <none>`.
    /// Measured against docker 28 with dockerd 20.10: `tagDigests` (--digests, or a format that
    /// mentions .Digest) fills tagged rows' digests; only `--digests` gives digest-only
    /// repositories a row per digest, otherwise their one row has an empty digest.
    static func rows(_ items: [Listed], tagDigests: Bool, digestRows: Bool) -> [Row] {
        var rows: [Row] = []
        for item in items {
            var repoTags: [(String, [String])] = []
            for t in item.repoTags {
                let repo = t.familiarName
                if let i = repoTags.firstIndex(where: { $0.0 == repo }) { repoTags[i].1.append(t.tag ?? "<none>") } else { repoTags.append((repo, [t.tag ?? "<none>"])) }
            }
            var repoDigests: [(String, [String])] = []
            for d in item.repoDigests {
                let repo = d.familiarName
                let digest = d.digest?.description ?? "<none>"
                if let i = repoDigests.firstIndex(where: { $0.0 == repo }) { repoDigests[i].1.append(digest) } else { repoDigests.append((repo, [digest])) }
            }
            for (repo, tags) in repoTags {
                var digests = repoDigests.first { $0.0 == repo }?.1 ?? []
                repoDigests.removeAll { $0.0 == repo }
                if !tagDigests { digests = [] }
                for tag in tags {
                    if digests.isEmpty { rows.append(Row(repository: repo, tag: tag, digest: "<none>", listed: item)); continue }
                    for d in digests { rows.append(Row(repository: repo, tag: tag, digest: d, listed: item)) }
                }
            }
            for (repo, digests) in repoDigests {
                if digestRows {
                    for d in digests { rows.append(Row(repository: repo, tag: "<none>", digest: d, listed: item)) }
                } else {
                    rows.append(Row(repository: repo, tag: "<none>", digest: "", listed: item))
                }
            }
            if item.repoTags.isEmpty && item.repoDigests.isEmpty {
                rows.append(Row(repository: "<none>", tag: "<none>", digest: "<none>", listed: item))
            }
        }
        return rows
    }

    /// The template value of a row: docker's fields (as strings, as docker/cli gives them)
    /// plus berth's `PreviousTags` and `DanglingSince` for images that lost their tags.
    static func value(_ row: Row, truncate: Bool, now: Date) -> TemplateValue {
        let img = row.listed.image
        // The Engine API reports Created in whole seconds; docker prints from that.
        let created = Date(timeIntervalSince1970: (img.created ?? Date(timeIntervalSince1970: 0)).timeIntervalSince1970.rounded(.down))
        let previous = row.listed.previous.map { (try? Reference(parsing: $0.reference))?.familiarString ?? $0.reference }
        var seen = Set<String>()
        let previousUnique = previous.filter { seen.insert($0).inserted }
        let danglingSince = img.tags.isEmpty ? row.listed.previous.first.map { RFC3339.format($0.at) } ?? "" : ""
        return .object([
            "Containers": "N/A",
            "CreatedAt": .string(DockerUnits.goTimeString(created)),
            "CreatedSince": .string(DockerUnits.createdSince(created, now: now)),
            "Digest": .string(row.digest),
            "ID": .string(truncate ? img.id.short : img.id.description),
            "Repository": .string(row.repository),
            "SharedSize": "N/A",
            "Size": .string(DockerUnits.humanSize(img.size)),
            "Tag": .string(row.tag),
            "UniqueSize": "N/A",
            "VirtualSize": .string(DockerUnits.humanSizeFourDigits(Double(img.size))),
            "PreviousTags": .string(previousUnique.joined(separator: ",")),
            "DanglingSince": .string(danglingSince),
        ])
    }

    static let header: [String: String] = [
        "Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
        "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE", "PreviousTags": "PREVIOUS TAGS", "DanglingSince": "DANGLING SINCE",
    ]
}

struct ViewError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
