import Foundation
import OCI

/// The Engine API documents berth reads, decoded leniently: fields an engine version omits or
/// sends as `null` decode as nil/empty. Names follow the API's own.
enum EngineAPI {
    /// `GET /images/json` entry.
    struct ImageSummary: Decodable {
        var Id: String
        var RepoTags: [String]?
        var RepoDigests: [String]?
        var Created: Int64?
        var Size: Int64?
        var Labels: [String: String]?
    }

    /// `GET /images/{name}/json`.
    struct ImageInspect: Decodable {
        struct RootFS: Decodable { var Layers: [String]? }
        struct Config: Decodable { var Labels: [String: String]? }
        var Id: String
        var RepoTags: [String]?
        var RepoDigests: [String]?
        var Created: String?
        var Size: Int64?
        var Architecture: String?
        var Os: String?
        var Variant: String?
        var RootFS: RootFS?
        var Config: Config?
    }

    /// `GET /images/{name}/json`, the fields `image inspect` shows.
    struct ImageInspectFull: Decodable {
        struct RootFS: Decodable {
            var type: String?
            var Layers: [String]?
            enum CodingKeys: String, CodingKey { case type = "Type", Layers }
        }
        var Created: String?
        var Author: String?
        var Architecture: String?
        var Os: String?
        var Variant: String?
        var Config: ImageConfig.ContainerConfig?
        var RootFS: RootFS?
    }

    /// `GET /images/{name}/history` entry (newest first).
    struct HistoryItem: Decodable {
        var Size: Int64?
        var CreatedBy: String?
    }

    /// `GET /containers/json?all=1` entry.
    struct ContainerSummary: Decodable {
        var Id: String
        var Names: [String]?
        var Image: String?
        var ImageID: String?
        var State: String?
    }

    /// `GET /info` (the parts berth uses).
    struct Info: Decodable {
        var ID: String?
        var Name: String?
        var Driver: String?
        var ServerVersion: String?
        var DockerRootDir: String?
    }

    /// `GET /version`.
    struct Version: Decodable {
        var Version: String?
        var ApiVersion: String?
        var MinAPIVersion: String?
        var Os: String?
        var Arch: String?
    }

    /// `DELETE /images/{name}` entry.
    struct DeleteItem: Decodable {
        var Untagged: String?
        var Deleted: String?
    }

    /// `POST /images/prune`.
    struct PruneResponse: Decodable {
        var ImagesDeleted: [DeleteItem]?
        var SpaceReclaimed: Int64?
    }

    /// An error body: `{"message": "..."}`.
    struct ErrorBody: Decodable { var message: String? }

    /// One line of a JSON progress stream (`POST /images/create`).
    struct ProgressLine: Decodable {
        struct Detail: Decodable { var current: Int64?; var total: Int64? }
        struct ErrorDetail: Decodable { var message: String? }
        var status: String?
        var id: String?
        var progressDetail: Detail?
        var error: String?
        var errorDetail: ErrorDetail?
    }
}

/// An API version `MAJOR.MINOR`, compared numerically (1.9 < 1.10).
public struct EngineAPIVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]) else { return nil }
        major = a
        minor = b
    }
    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }
}
