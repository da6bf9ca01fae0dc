import OCI
import Transport

/// Everything that can go wrong talking to a registry, with the reference, digest or host it
/// concerns. `description` is a sentence for people: what failed, on what, and what to do.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case unauthorized(registry: String, repository: String, detail: String)
    case notFound(what: String)
    /// `retryAfter`: the delay the registry asked for (`Retry-After` on a 429 or 503), seconds.
    case http(status: Int, url: String, body: String, retryAfter: Double? = nil)
    case digestMismatch(expected: Digest, actual: Digest, what: String)
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64)
    case tooLarge(what: String, size: Int64, limit: Int64)
    case badResponse(String)
    case manifest(ManifestError, reference: String)
    case transport(TransportError, what: String)
    case retriesExhausted(what: String, attempts: Int, last: String)
    case credentials(CredentialError)
    case invalidImage(reference: String, reason: String)
    /// The registry answered a DELETE with 405 / UNSUPPORTED (distribution's `storage.delete` off).
    case deletesDisabled(registry: String, what: String)

    public var description: String {
        switch self {
        case .unauthorized(let registry, let repository, let detail):
            return "access to \(registry)/\(repository) was denied: \(detail). Check the credentials for \(registry) (docker login \(registry), or DOCKER_CONFIG)"
        case .notFound(let what): return "\(what) not found"
        case .http(let status, let url, let body, _):
            let b = body.isEmpty ? "" : ": " + String(body.prefix(300))
            return "\(Redact.url(url)) answered HTTP \(status)\(b)\(RegistryError.hint(forStatus: status))"
        case .digestMismatch(let expected, let actual, let what):
            return "\(what): content does not match its digest: expected \(expected), got \(actual). The download was discarded"
        case .sizeMismatch(let digest, let expected, let actual):
            return "blob \(digest): expected \(expected) bytes, got \(actual). The download was discarded"
        case .tooLarge(let what, let size, let limit):
            return "\(what) is \(size) bytes, over the \(limit)-byte limit; refused"
        case .badResponse(let s): return s
        case .manifest(let e, let reference):
            switch e {
            case .malformed(let why): return "the registry's manifest for \(reference) is not valid: \(why)"
            case .schema1:
                return "the registry's manifest for \(reference) is Docker schema 1, which is deprecated and not supported; re-push the image with a current client (schema 2 or OCI)"
            case .noMatchingPlatform: return "\(reference): \(e)"
            }
        case .transport(let e, let what): return "\(what): \(e)"
        case .retriesExhausted(let what, let attempts, let last): return "\(what): gave up after \(attempts) attempts: \(last)"
        case .credentials(let e): return e.description
        case .invalidImage(let r, let why): return "\(r): \(why)"
        case .deletesDisabled(let registry, let what):
            return "cannot delete \(what): the registry at \(registry) does not allow deletes; enable storage.delete in its config"
        }
    }

    private static func hint(forStatus status: Int) -> String {
        switch status {
        case 429: return " (the registry is limiting requests; wait and try again)"
        case 500...599: return " (a fault on the registry's side; try again later)"
        default: return ""
        }
    }

    /// Transient failures worth another attempt.
    var isRetryable: Bool {
        switch self {
        case .transport(let e, _): return e.isRetryable
        case .http(let status, _, _, _): return status >= 500 || status == 429 || status == 408
        case .digestMismatch, .sizeMismatch: return true
        default: return false
        }
    }
}
