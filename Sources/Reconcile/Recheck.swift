import Foundation
import ImageSet
import OCI
import Store

extension Planner {
    /// The plan the planner makes now from `plan`'s recorded inputs and the store as `observed`.
    public static func rederive(_ plan: Plan, against observed: Observed) -> Plan {
        Planner.plan(PlanInput(desired: plan.inputs.desired, policy: plan.inputs.policy, observed: observed,
                               resolutions: plan.inputs.resolutionsByReference, manifestPath: plan.manifest, storeName: plan.store,
                               now: plan.createdAt, registries: plan.registries,
                               untagDeletesLastImage: plan.inputs.untagDeletesLastImage, windows: plan.inputs.windows ?? [],
                               lock: plan.inputs.lock, lockSource: plan.inputs.lockSource))
    }

    /// How `plan` differs from what the planner would plan now, from the plan's recorded inputs
    /// and the store as `observed`: one line per difference, for people; empty when the plan's
    /// actions, summary and lists are exactly what the planner would make.
    ///
    /// Pure. It catches an action edited or added (an untag of a protected image, a prune of a
    /// rollback image), an edited summary, and a store that changed since. It trusts the recorded
    /// inputs; a plan whose inputs were edited consistently with its actions passes (compare
    /// `plan.inputs` with the manifest for that). Warnings are not compared.
    public static func recheck(_ plan: Plan, against observed: Observed) -> [String] {
        var lines: [String] = []
        if observed.fingerprint != plan.storeFingerprint {
            let changes = observed.changes(since: plan.storeTags)
            lines.append("the store changed since the plan: " + (changes.isEmpty ? "its images or tags differ" : changes.joined(separator: "; ")))
        }
        let now = rederive(plan, against: observed)
        lines += actionDifferences(planned: plan.actions, now: now.actions)
        lines += summaryDifferences(planned: plan.summary, now: now.summary)
        lines += noteDifferences("unchecked", planned: plan.unchecked.map { ($0.reference, $0.reason) }, now: now.unchecked.map { ($0.reference, $0.reason) })
        lines += noteDifferences("skipped", planned: plan.skipped.map { ($0.reference, $0.reason) }, now: now.skipped.map { ($0.reference, $0.reason) })
        return lines
    }

    /// What an action is about: its kind and reference, or for an image action (remove, prune,
    /// protected) its kind and image. The planner plans at most one action per key.
    static func actionKey(_ a: Action) -> String {
        switch a.kind {
        case .remove, .prune, .protected: return "\(a.kind.rawValue) \(a.image.map(shortDigest) ?? "(no image)")"
        default: return "\(a.kind.rawValue) \(a.reference ?? "(no reference)")"
        }
    }

    static func shortDigest(_ d: Digest) -> String { "\(d.algorithm.rawValue):\(d.short)" }

    /// An action's fields by name, as text (nil: absent), in a fixed order.
    static func fields(_ a: Action) -> [(String, String?)] {
        [("reference", a.reference), ("image", a.image?.description), ("imageID", a.imageID?.description),
         ("pullDigest", a.pullDigest?.description), ("platform", a.platform), ("oldImage", a.oldImage?.description),
         ("oldImageFate", a.oldImageFate?.rawValue), ("previousTags", a.previousTags?.joined(separator: ", ")),
         ("downloadBytes", a.downloadBytes.map(String.init)), ("reclaimBytes", a.reclaimBytes.map(String.init)), ("reason", a.reason)]
    }

    static func actionDifferences(planned: [Action], now: [Action]) -> [String] {
        var waiting = Dictionary(grouping: now, by: actionKey)
        var lines: [String] = []
        for a in planned {
            let key = actionKey(a)
            guard var candidates = waiting[key], !candidates.isEmpty else {
                lines.append("the plan would \(key)\(a.reason.map { " (\($0))" } ?? ""), which the planner does not plan now")
                continue
            }
            let b = candidates.removeFirst()
            waiting[key] = candidates
            for ((name, mine), (_, theirs)) in zip(fields(a), fields(b)) where mine != theirs {
                lines.append("\(key): \(name) is \(mine ?? "absent") in the plan, \(theirs ?? "absent") now")
            }
        }
        for b in now where waiting[actionKey(b)]?.isEmpty == false {
            let key = actionKey(b)
            waiting[key]!.removeFirst()
            lines.append("the planner would now \(key)\(b.reason.map { " (\($0))" } ?? ""), which the plan does not")
        }
        return lines
    }

    static func summaryDifferences(planned: Plan.Summary, now: Plan.Summary) -> [String] {
        let counts: [(String, KeyPath<Plan.Summary, Int>)] = [
            ("pull", \.pull), ("update", \.update), ("untag", \.untag), ("remove", \.remove), ("prune", \.prune),
            ("keep", \.keep), ("protected", \.protected), ("failed", \.failed), ("skipped", \.skipped),
        ]
        let bytes: [(String, KeyPath<Plan.Summary, Int64>)] = [
            ("downloadBytes", \.downloadBytes), ("diskBytes", \.diskBytes), ("reclaimBytes", \.reclaimBytes),
        ]
        var lines: [String] = []
        for (name, path) in counts where planned[keyPath: path] != now[keyPath: path] {
            lines.append("summary: \(name) is \(planned[keyPath: path]) in the plan, \(now[keyPath: path]) now")
        }
        for (name, path) in bytes where planned[keyPath: path] != now[keyPath: path] {
            lines.append("summary: \(name) is \(planned[keyPath: path]) in the plan, \(now[keyPath: path]) now")
        }
        return lines
    }

    /// Differences between two lists of (reference, reason).
    static func noteDifferences(_ list: String, planned: [(String, String)], now: [(String, String)]) -> [String] {
        let p = Dictionary(planned, uniquingKeysWith: { a, _ in a }), n = Dictionary(now, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        for ref in Set(p.keys).union(n.keys).sorted() {
            switch (p[ref], n[ref]) {
            case let (mine?, theirs?) where mine != theirs: lines.append("\(list) \(ref): \"\(mine)\" in the plan, \"\(theirs)\" now")
            case (_?, nil): lines.append("\(list) \(ref) is in the plan, not now")
            case (nil, let theirs?): lines.append("\(list) \(ref) (\(theirs)) is not in the plan")
            default: break
            }
        }
        return lines
    }
}
