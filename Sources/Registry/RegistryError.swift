import OCI
import Transport

/// Everything that can go wrong talking to a registry, with the reference or digest it concerns.
public enum RegistryError: Error, CustomStringConvertible {
    case unauthorized(registry: String, repository: String, detail: String)
    case notFound(what: String)
    case http(status: Int, url: String, body: String)
    case digestMismatch(expected: Digest, actual: Digest, what: String)
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64)
    case tooLarge(what: String, size: Int64, limit: Int64)
    case badResponse(String)
    case manifest(ManifestError, reference: String)
    case transport(TransportError, what: String)
    case retriesExhausted(what: String, attempts: Int, last: String)
    case credentials(CredentialError)
    case invalidImage(reference: String, reason: String)

    public var description: String {
        switch self {
        case .unauthorized(let registry, let repository, let detail):
            return "access to \(registry)/\(repository) was denied: \(detail). Check the credentials for \(registry) (docker login \(registry), or DOCKER_CONFIG)"
        case .notFound(let what): return "\(what) not found"
        case .http(let status, let url, let body):
            let b = body.isEmpty ? "" : ": " + String(body.prefix(300))
            return "unexpected HTTP \(status) from \(Redact.url(url))\(b)"
        case .digestMismatch(let expected, let actual, let what):
            return "\(what): content does not match its digest: expected \(expected), got \(actual). The download was discarded"
        case .sizeMismatch(let digest, let expected, let actual):
            return "blob \(digest): expected \(expected) bytes, got \(actual). The download was discarded"
        case .tooLarge(let what, let size, let limit):
            return "\(what) is \(size) bytes, over the \(limit)-byte limit; refused"
        case .badResponse(let s): return s
        case .manifest(let e, let reference): return "\(reference): \(e)"
        case .transport(let e, let what): return "\(what): \(e)"
        case .retriesExhausted(let what, let attempts, let last): return "\(what): gave up after \(attempts) attempts: \(last)"
        case .credentials(let e): return e.description
        case .invalidImage(let r, let why): return "\(r): \(why)"
        }
    }

    /// Transient failures worth another attempt.
    var isRetryable: Bool {
        switch self {
        case .transport(let e, _): return e.isRetryable
        case .http(let status, _, _): return status >= 500 || status == 429 || status == 408
        case .digestMismatch, .sizeMismatch: return true
        default: return false
        }
    }
}
