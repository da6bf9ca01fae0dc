import Foundation
import ImageSet
import OCI
import Registry
import Store

/// What one entry's window chose, recorded in a plan's inputs so a saved plan re-derives the
/// same desired set (`Planner.recheck` never lists tags again).
public struct WindowRecord: Codable, Sendable, Equatable {
    /// The repository, without tag.
    public var repository: Reference
    public var selection: TagSelection
    /// The tags chosen, highest first. When the window was not checked, the present tags its
    /// filters match (kept as they are).
    public var selected: [String]
    /// False when the registry's tag list was not read (offline, or the listing failed): then
    /// nothing falls out of the window.
    public var checked: Bool
    /// How many tags the registry listed (0 when not checked).
    public var listed: Int
    /// Why the window was not checked (`offline`), when it was not.
    public var reason: String?
    /// True when the listing failed: the plan shows a failed action for the window.
    public var failed: Bool

    public init(repository: Reference, selection: TagSelection, selected: [String], checked: Bool, listed: Int = 0,
                reason: String? = nil, failed: Bool = false) {
        self.repository = repository
        self.selection = selection
        self.selected = selected
        self.checked = checked
        self.listed = listed
        self.reason = reason
        self.failed = failed
    }
}

/// Resolves entries' windows before planning: lists each repository's tags (one request per
/// page; `RegistryClient.tags` follows `Link`), selects, and answers which tags are desired.
/// Non-semver tags are ranked by their image's created time, taken from the store when it holds
/// the tag, else from the registry (the platform's manifest and its config), once per tag.
public struct WindowResolver: Sendable {
    public var registry: RegistryClient
    public var settings: [String: RegistrySettings]
    public var pageSize: Int
    public var mirrorHealth: MirrorHealth

    public init(registry: RegistryClient, settings: [String: RegistrySettings], pageSize: Int = 1000,
                mirrorHealth: MirrorHealth = MirrorHealth()) {
        self.registry = registry
        self.settings = settings
        self.pageSize = pageSize
        self.mirrorHealth = mirrorHealth
    }

    public func resolve(_ windows: [TagWindow], observed: Observed, offline: Bool) -> [WindowRecord] {
        windows.map { resolveOne($0, observed: observed, offline: offline) }
    }

    func resolveOne(_ window: TagWindow, observed: Observed, offline: Bool) -> WindowRecord {
        if offline {
            return WindowResolver.unchecked(window, observed: observed, reason: "offline")
        }
        var lastError = "no registry answered"
        for source in mirrorHealth.candidates(for: window.repository, settings: settings[window.repository.domain]) {
            do {
                let tags = try registry.tags(source.repository, pageSize: pageSize)
                // `select` asks for each tag's time at most once, and only when its rank needs it.
                let selected = window.selection.select(from: tags) { tag in
                    createdTime(of: window.repository.withTag(tag), source: source.repository.withTag(tag),
                                platform: window.platform, observed: observed)
                }
                return WindowRecord(repository: window.repository, selection: window.selection, selected: selected,
                                    checked: true, listed: tags.count)
            } catch {
                lastError = "\(error)"
                mirrorHealth.record(error, from: source, for: window.repository)
            }
        }
        var record = WindowResolver.unchecked(window, observed: observed, reason: "cannot list tags: \(lastError)")
        record.failed = true
        return record
    }

    /// The window kept as the store holds it: every present tag of the repository its filters match.
    static func unchecked(_ window: TagWindow, observed: Observed, reason: String) -> WindowRecord {
        let present = observed.images.flatMap(\.tags).filter { $0.repository == window.repository }.compactMap(\.tag)
        let m = window.selection.matcher()
        let kept = Array(Set(present.filter { m.matches($0, version: SemanticVersion(tag: $0)) })).sorted()
        return WindowRecord(repository: window.repository, selection: window.selection, selected: kept, checked: false, reason: reason)
    }

    /// The created time of the image `ref` names: the store's when it holds the tag, else the
    /// registry's (manifest for the platform, then its config). Nil when it cannot be read.
    func createdTime(of ref: Reference, source: Reference, platform: Platform, observed: Observed) -> Date? {
        if let img = observed.image(tagged: ref), let c = img.created { return c }
        guard let (_, _, image) = try? registry.resolveImage(source, platform: platform),
              image.config.size <= Resolver.maxConfigSize else { return nil }
        let sink = MemorySink()
        guard (try? registry.fetchBlob(source.repository, descriptor: image.config, into: sink)) != nil,
              let config = try? JSONDecoder().decode(ImageConfig.self, from: sink.data) else { return nil }
        return config.createdDate
    }
}

extension Array where Element == DesiredTag {
    /// The literal desired tags with the windows' choices added; a tag listed literally wins
    /// over the same tag chosen by a window (and a tag two windows choose is desired once).
    public func adding(windows: [WindowRecord], from set: [TagWindow]) -> [DesiredTag] {
        var seen = Set(map(\.reference))
        var out = self
        for (record, window) in zip(windows, set) {
            for want in window.desiredTags(selected: record.selected) where seen.insert(want.reference).inserted {
                out.append(want)
            }
        }
        return out.sorted(byKey: \.reference.description)
    }
}
