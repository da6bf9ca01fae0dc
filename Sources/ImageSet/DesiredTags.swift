import OCI

extension ImageSet {
    /// Every (repository, tag) the manifest lists literally, one each, sorted by reference.
    ///
    /// An entry without tags asks for `latest`, unless it pins a digest: then it asks for that
    /// image alone, and its `DesiredTag` carries the digest as its reference (`tag == nil`); or
    /// unless it has a window (`select`): then it lists nothing literally, and `windows()` says
    /// what it selects. The platform is the entry's, else the manifest's, else `hostPlatform`. A
    /// tag is immutable when it matches a pattern of the entry or of the manifest; a digest
    /// always is. Loading rejects a (repository, tag) listed twice, so the result holds no duplicates.
    public func desiredTags(hostPlatform: Platform = .host) -> [DesiredTag] {
        let manifestPatterns = immutable.compactMap { try? GlobPattern($0) }
        var result: [DesiredTag] = []
        for entry in images {
            let platform = entry.platform ?? self.platform ?? hostPlatform
            let patterns = entry.immutable.compactMap { try? GlobPattern($0) } + manifestPatterns
            if entry.tags.isEmpty, let digest = entry.digest {
                result.append(DesiredTag(reference: entry.reference.withDigest(digest), pin: digest,
                                         platform: platform, immutable: true, location: entry.location))
                continue
            }
            let tags = entry.tags.isEmpty && entry.select == nil ? ["latest"] : entry.tags
            for tag in tags {
                result.append(DesiredTag(reference: entry.reference.withTag(tag), pin: entry.digest, platform: platform,
                                         immutable: patterns.contains { $0.matches(tag) }, location: entry.location))
            }
        }
        return result.sorted(byKey: \.reference.description)
    }

    /// The entries' windows (`select`), in document order.
    public func windows(hostPlatform: Platform = .host) -> [TagWindow] {
        let manifestPatterns = immutable
        return images.compactMap { entry in
            guard let selection = entry.select else { return nil }
            return TagWindow(repository: entry.reference, selection: selection,
                             platform: entry.platform ?? self.platform ?? hostPlatform,
                             immutable: entry.immutable + manifestPatterns, location: entry.location)
        }
    }
}

/// One entry's window: which repository, which filters, and how the tags it selects are wanted.
public struct TagWindow: Codable, Equatable, Hashable, Sendable {
    /// The repository, without tag.
    public var repository: Reference
    public var selection: TagSelection
    public var platform: Platform
    /// Tag patterns (entry's and manifest's) that make a selected tag immutable.
    public var immutable: [String]
    public var location: SourceLocation

    public init(repository: Reference, selection: TagSelection, platform: Platform, immutable: [String], location: SourceLocation) {
        self.repository = repository
        self.selection = selection
        self.platform = platform
        self.immutable = immutable
        self.location = location
    }

    /// The desired tags for the tags the window chose, each noting the window.
    public func desiredTags(selected: [String]) -> [DesiredTag] {
        let patterns = immutable.compactMap { try? GlobPattern($0) }
        return selected.map { tag in
            DesiredTag(reference: repository.withTag(tag), pin: nil, platform: platform,
                       immutable: patterns.contains { $0.matches(tag) }, location: location, selectedBy: selection.description)
        }
    }
}
