/// One `WWW-Authenticate` challenge: a scheme and its auth-params (RFC 7235).
public struct AuthChallenge: Equatable, Sendable {
    public var scheme: String          // lowercased: "bearer", "basic"
    public var parameters: [String: String]  // keys lowercased

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses a header value that may hold several challenges
    /// (`Bearer realm="a",service="b", Basic realm="c"`). Malformed input yields what could be
    /// read before the fault; it never traps.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var result: [AuthChallenge] = []
        let s = Array(header.utf8)
        var i = 0
        func skipSpace() { while i < s.count, s[i] == 0x20 || s[i] == 0x09 { i += 1 } }
        func isTokenChar(_ c: UInt8) -> Bool {
            if c <= 0x20 || c >= 0x7f { return false }
            return !"()<>@,;:\\\"/[]?={}".utf8.contains(c)
        }
        func token() -> String? {
            let start = i
            while i < s.count, isTokenChar(s[i]) || s[i] == UInt8(ascii: "/") { i += 1 }
            return i > start ? String(decoding: s[start..<i], as: UTF8.self) : nil
        }
        func quoted() -> String? {
            guard i < s.count, s[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < s.count {
                let c = s[i]
                if c == UInt8(ascii: "\\"), i + 1 < s.count { out.append(s[i + 1]); i += 2; continue }
                if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
                out.append(c); i += 1
            }
            return nil // unterminated
        }
        while i < s.count {
            skipSpace()
            while i < s.count, s[i] == UInt8(ascii: ",") { i += 1; skipSpace() }
            guard let scheme = token() else { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased(), parameters: [:])
            // auth-params: name=value pairs separated by commas, until the next scheme token.
            while true {
                skipSpace()
                let save = i
                guard let name = token() else { break }
                skipSpace()
                guard i < s.count, s[i] == UInt8(ascii: "=") else { i = save; break }
                i += 1
                skipSpace()
                let value: String?
                if i < s.count, s[i] == UInt8(ascii: "\"") { value = quoted() } else { value = token() }
                guard let value else { result.append(challenge); return result }
                challenge.parameters[name.lowercased()] = value
                skipSpace()
                if i < s.count, s[i] == UInt8(ascii: ",") { i += 1 } else { break }
            }
            result.append(challenge)
            // Anything unparseable: stop rather than loop.
            if i < s.count, !isTokenChar(s[i]), s[i] != UInt8(ascii: ","), s[i] != 0x20 { break }
        }
        return result
    }
}
