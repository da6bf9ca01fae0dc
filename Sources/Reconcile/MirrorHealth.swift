import Foundation
import OCI
import Registry
import Synchronization
import ImageSet

/// The mirrors that failed during this run, shared by everything that routes requests through
/// mirrors (the resolver while planning, the executor while pulling). After a mirror's first
/// connection-level failure (`isConnectionFailure`) the rest of the run skips it, instead of
/// paying the registry client's retries again for every request. The registry itself is never
/// skipped: it is the last candidate.
public final class MirrorHealth: Sendable {
    private struct Failure: Sendable {
        var host: String
        var reason: String
    }

    /// Failed mirrors in the order they first failed.
    private let failures = Mutex<[Failure]>([])

    /// A mirror's first request in a run goes alone; the others wait for its outcome.
    private enum Contact: Sendable {
        case probing(DispatchGroup)
        case answered
    }
    private let contacts = Mutex<[String: Contact]>([:])
    private enum Turn { case wait(DispatchGroup), go, probe(DispatchGroup) }

    public init() {}

    /// Whether requests to mirror `host` are skipped for the rest of the run.
    public func isSkipped(_ host: String) -> Bool {
        failures.withLock { list in list.contains { $0.host == host } }
    }

    /// Where to ask for `ref`: its mirrors that have not failed, in order, then the registry itself.
    public func candidates(for ref: Reference, settings: RegistrySettings?) -> [Reference] {
        MirrorRouting.candidates(for: ref, settings: settings).filter { $0.domain == ref.domain || !isSkipped($0.domain) }
    }

    /// Notes the error a request to `source` (a candidate for `ref`) ended with. A connection-level
    /// failure of a mirror makes it skipped; returns whether this call did so (the first failure).
    @discardableResult
    public func record(_ error: Error, from source: Reference, for ref: Reference) -> Bool {
        guard source.domain != ref.domain, MirrorHealth.isConnectionFailure(error) else { return false }
        let reason = String(ErrorText.describe(error).prefix(300))
        return failures.withLock { list in
            guard !list.contains(where: { $0.host == source.domain }) else { return false }
            list.append(Failure(host: source.domain, reason: reason))
            return true
        }
    }

    /// Runs `request` against `source`, a candidate for `ref`, or returns nil when the mirror
    /// is skipped. The first request to a mirror in the run goes alone and the others wait for
    /// its outcome, so a mirror that is down costs one request's retries, not one per tag. The
    /// registry itself (`source` on `ref`'s own host) is always asked. Errors are recorded
    /// (`record`) and rethrown.
    public func attempt<T>(_ source: Reference, for ref: Reference, _ request: () throws -> T) throws -> T? {
        guard source.domain != ref.domain else { return try request() }
        let host = source.domain
        while true {
            if isSkipped(host) { return nil }
            let turn = contacts.withLock { table -> Turn in
                switch table[host] {
                case nil:
                    let g = DispatchGroup()
                    g.enter()
                    table[host] = .probing(g)
                    return .probe(g)
                case .probing(let g)?: return .wait(g)
                case .answered?: return .go
                }
            }
            switch turn {
            case .wait(let g): g.wait()
            case .go:
                do { return try request() } catch { record(error, from: source, for: ref); throw error }
            case .probe(let g):
                defer {
                    contacts.withLock { $0[host] = .answered }
                    g.leave()
                }
                do { return try request() } catch { record(error, from: source, for: ref); throw error }
            }
        }
    }

    /// One line per skipped mirror, for the plan's warnings, in the order they failed.
    public var warnings: [String] {
        failures.withLock { list in list.map { "mirror \($0.host) failed (\($0.reason)); skipped for the rest of this run" } }
    }

    /// Whether `error` says the host cannot serve at all now: it could not be reached, or kept
    /// failing until the retries ran out, or answered with a server error. Not a connection
    /// failure: a manifest or blob it does not have (404), a refused login, content that does
    /// not verify, a cancelled run.
    public static func isConnectionFailure(_ error: Error) -> Bool {
        guard let error = error as? RegistryError else { return false }
        switch error {
        case .transport(.cancelled, _): return false
        case .transport, .retriesExhausted: return true
        case .http(let status, _, _, _): return status >= 500 || status == 429 || status == 408
        default: return false
        }
    }
}
