import Foundation
import OCI

/// What can go wrong talking to a Docker Engine. Messages name the engine (its socket or
/// address) and say what to do.
public enum DockerEngineError: Error, Equatable, CustomStringConvertible {
    case invalidHost(String, reason: String)
    /// No socket file at the path.
    case socketMissing(path: String)
    /// The socket exists but this user may not connect to it.
    case permissionDenied(path: String)
    /// Connection refused, TLS failure, timeout: the engine cannot be reached.
    case unreachable(host: String, reason: String)
    /// The engine's API is older than berth needs, or newer than it accepts.
    case unsupportedVersion(host: String, engine: String, reason: String)
    /// An API call answered an error status; `message` is the engine's own.
    case api(status: Int, what: String, message: String)
    case noSuchImage(String)
    /// A container (running or stopped) uses the image: the engine refuses, and berth never forces.
    case inUse(image: String, message: String)
    /// The engine's pull stream reported an error.
    case pullFailed(reference: String, message: String)
    /// The engine pulled something other than what berth resolved.
    case unexpectedImage(reference: String, expected: Digest, actual: String)
    case badResponse(what: String, reason: String)

    public var description: String {
        switch self {
        case .invalidHost(let h, let why): return "invalid Docker host \"\(h)\": \(why)"
        case .socketMissing(let p):
            return "cannot reach the Docker Engine: no socket at \(p) (is dockerd running? Point berth at another engine with --docker-host or DOCKER_HOST)"
        case .permissionDenied(let p):
            return "cannot reach the Docker Engine: permission denied on \(p). The socket gives root access to the host; run berth as root or as a member of the socket's group (usually 'docker')"
        case .unreachable(let h, let why): return "cannot reach the Docker Engine at \(h): \(why)"
        case .unsupportedVersion(let h, let v, let why): return "the Docker Engine at \(h) (API \(v)) is not supported: \(why)"
        case .api(let status, let what, let message): return "Docker Engine: \(what) failed (HTTP \(status)): \(message)"
        case .noSuchImage(let s): return "No such image: \(s)"
        case .inUse(let image, let message): return "image \(image) is in use by a container and is left alone: \(message)"
        case .pullFailed(let r, let m): return "Docker Engine could not pull \(r): \(m)"
        case .unexpectedImage(let r, let expected, let actual):
            return "Docker Engine pulled \(r) as image \(actual), but the registry resolved it to \(expected); the tag was not moved"
        case .badResponse(let what, let why): return "Docker Engine: unexpected answer to \(what): \(why)"
        }
    }

    /// True for a conflict the engine reported because a container uses the image.
    public var isInUse: Bool {
        if case .inUse = self { return true }
        return false
    }
}
