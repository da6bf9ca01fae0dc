import Testing
@testable import Transport

/// The origin a request's answer time is kept under: scheme, host and port, the default port
/// named, user info and path dropped, IPv6 literals kept whole.
@Suite struct OriginTests {
    @Test(arguments: [
        ("http://127.0.0.1:5000/v2/x/blobs/sha256:ab", "http://127.0.0.1:5000"),
        ("https://Registry.Example.com/v2/", "https://registry.example.com:443"),
        ("http://registry.example.com?x=1", "http://registry.example.com:80"),
        ("https://user:pw@host.example:8443/v2/", "https://host.example:8443"),
        ("http://[::1]:5000/v2/", "http://[::1]:5000"),
        ("https://[::1]/v2/", "https://[::1]:443"),
    ])
    func originsOfURLs(_ url: String, _ origin: String) {
        #expect(HTTPClient.origin(of: url) == origin)
    }

    @Test(arguments: ["", "no-scheme/path", "http:///path", "://host/"])
    func urlsWithoutAnOrigin(_ url: String) {
        #expect(HTTPClient.origin(of: url) == nil)
    }
}
