import Foundation
import Registry

/// The engine's `X-Registry-Auth` header: base64url (padded, as Go's `base64.URLEncoding`) of
/// `{"username","password","serveraddress"}` or `{"identitytoken","serveraddress"}`.
/// The value is a secret: never log it.
public enum RegistryAuthHeader {
    public static let name = "X-Registry-Auth"

    /// The header value for `credential` at registry `host` (`docker.io` for Docker Hub), or nil
    /// for anonymous pulls (no header is sent).
    public static func value(for credential: Credential?, host: String) -> String? {
        guard let c = credential else { return nil }
        let server = host == "docker.io" ? "https://index.docker.io/v1/" : host
        var fields: [String: String] = ["serveraddress": server]
        if let token = c.identityToken, !token.isEmpty {
            fields["identitytoken"] = token
        } else if let user = c.username, let password = c.password {
            fields["username"] = user
            fields["password"] = password
        } else {
            return nil
        }
        let json = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return base64URL(json)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
