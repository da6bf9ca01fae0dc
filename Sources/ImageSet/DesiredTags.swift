import OCI

extension ImageSet {
    /// Every (repository, tag) the manifest asks for, one each, sorted by reference.
    ///
    /// An entry without tags asks for `latest`, unless it pins a digest: then it asks for that
    /// image alone, and its `DesiredTag` carries the digest as its reference (`tag == nil`).
    /// The platform is the entry's, else the manifest's, else `hostPlatform`. A tag is immutable
    /// when it matches a pattern of the entry or of the manifest; a digest always is.
    /// Loading rejects a (repository, tag) listed twice, so the result holds no duplicates.
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
            for tag in entry.tags.isEmpty ? ["latest"] : entry.tags {
                result.append(DesiredTag(reference: entry.reference.withTag(tag), pin: entry.digest, platform: platform,
                                         immutable: patterns.contains { $0.matches(tag) }, location: entry.location))
            }
        }
        return result.sorted { $0.reference < $1.reference }
    }
}
