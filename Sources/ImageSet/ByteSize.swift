/// A byte count as a manifest writes it: plain bytes (`20000000000`), or a number with a decimal
/// unit (`kB`/`KB`, `MB`, `GB`, `TB`: powers of 1000) or a binary one (`KiB`, `MiB`, `GiB`,
/// `TiB`: powers of 1024), optionally with a fraction (`1.5GB`) and a space before the unit.
/// `B` alone means bytes. Units are case-sensitive as written here, except `KB` for `kB`.
public enum ByteSize {
    static let units: [(String, Double)] = [
        ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("TiB", 1024 * 1024 * 1024 * 1024),
        ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
    ]

    /// The count, or nil with nothing said: `problem(_:)` says why.
    public static func parse(_ text: String) -> Int64? {
        guard problem(text) == nil else { return nil }
        let (number, factor) = split(text)!
        return Int64((Double(number)! * factor).rounded(.down))
    }

    /// Why `text` is not a byte count, or nil.
    public static func problem(_ text: String) -> String? {
        guard let (number, factor) = split(text) else {
            return "expected a number of bytes with an optional unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        }
        guard !number.isEmpty, number.first != ".", number.last != ".",
              number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), number.filter({ $0 == "." }).count <= 1,
              let value = Double(number) else {
            return "'\(number)' is not a number"
        }
        guard value * factor < 9.2e18 else { return "the count is too large" }
        return nil
    }

    static func split(_ text: String) -> (Substring, Double)? {
        let t = Substring(text)
        for (unit, factor) in units where t.hasSuffix(unit) {
            var number = t.dropLast(unit.count)
            if number.last == " " { number = number.dropLast() }
            return (number, factor)
        }
        guard let last = t.last, last.isASCII, last.isNumber else { return nil }
        return (t, 1)
    }
}
