/// Go's text/tabwriter (as forked by docker/cli, which measures cells in terminal
/// columns): aligns tab-terminated cells into columns.
///
/// A cell is text terminated by `\t` (or `\v`); text after a line's last tab is not
/// part of any column and is never padded. A column block is a run of consecutive
/// lines that all have a cell in that column; each block's width is its widest cell
/// plus `padding`, at least `minWidth`. A line without tabs ends every block, and
/// `\f` ends them too.
public struct TabWriter: Sendable {
    public var minWidth: Int
    public var tabWidth: Int
    public var padding: Int
    public var padCharacter: Character
    public var alignRight: Bool
    /// Print `|` between columns, as Go's `Debug` flag does.
    public var debug: Bool

    /// docker/cli's table settings: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
    public static let docker = TabWriter(minWidth: 10, tabWidth: 1, padding: 3, padCharacter: " ")

    public init(minWidth: Int, tabWidth: Int, padding: Int, padCharacter: Character,
                alignRight: Bool = false, debug: Bool = false) {
        self.minWidth = max(0, minWidth)
        self.tabWidth = max(0, tabWidth)
        self.padding = max(0, padding)
        self.padCharacter = padCharacter
        self.alignRight = alignRight && padCharacter != "\t"
        self.debug = debug
    }

    private struct Cell {
        var text: String
        var width: Int
        var htab: Bool
    }

    /// Formats all of `text` as if written to a Go tabwriter and then flushed.
    public func format(_ text: String) -> String {
        var out = ""
        var lines: [[Cell]] = [[]]
        var current = ""

        func flush() {
            if !current.isEmpty {
                lines[lines.count - 1].append(Cell(text: current, width: terminalWidth(current), htab: false))
                current = ""
            }
            var widths: [Int] = []
            formatBlock(&out, lines, 0, lines.count, &widths)
            lines = [[]]
        }

        for scalar in text.unicodeScalars {
            switch scalar {
            case "\t", "\u{0B}", "\n", "\u{0C}":
                lines[lines.count - 1].append(Cell(text: current, width: terminalWidth(current), htab: scalar == "\t"))
                current = ""
                let cellCount = lines[lines.count - 1].count
                if scalar == "\n" || scalar == "\u{0C}" {
                    lines.append([])
                    if scalar == "\u{0C}" || cellCount == 1 {
                        // A line with a single cell cannot affect later alignment:
                        // format what is buffered (the new empty line keeps the newline).
                        flush()
                        if scalar == "\u{0C}" && debug { out += "---\n" }
                    }
                }
            default:
                current.unicodeScalars.append(scalar)
            }
        }
        flush()
        return out
    }

    /// Go's recursive column formatting over lines[line0..<line1].
    private func formatBlock(_ out: inout String, _ lines: [[Cell]], _ line0: Int, _ line1: Int, _ widths: inout [Int]) {
        var line0 = line0
        let column = widths.count
        var this = line0
        while this < line1 {
            if column >= lines[this].count - 1 {
                this += 1
                continue
            }
            // This line has a cell in this column: print the lines before the block.
            writeLines(&out, lines, line0, this, widths)
            line0 = this
            var width = minWidth
            while this < line1 {
                let line = lines[this]
                if column >= line.count - 1 { break }
                width = max(width, line[column].width + padding)
                this += 1
            }
            widths.append(width)
            formatBlock(&out, lines, line0, this, &widths)
            widths.removeLast()
            line0 = this
        }
        writeLines(&out, lines, line0, line1, widths)
    }

    private func writeLines(_ out: inout String, _ lines: [[Cell]], _ line0: Int, _ line1: Int, _ widths: [Int]) {
        guard line0 < line1 else { return }
        for i in line0..<line1 {
            let line = lines[i]
            for (j, cell) in line.enumerated() {
                if j > 0 && debug { out += "|" }
                if cell.text.isEmpty {
                    if j < widths.count { out += padding(cell.width, widths[j]) }
                } else if !alignRight {
                    out += cell.text
                    if j < widths.count { out += padding(cell.width, widths[j]) }
                } else {
                    if j < widths.count { out += padding(cell.width, widths[j]) }
                    out += cell.text
                }
            }
            if i + 1 < lines.count { out += "\n" }
        }
    }

    private func padding(_ textWidth: Int, _ cellWidth: Int) -> String {
        if padCharacter == "\t" {
            guard tabWidth > 0 else { return "" }
            let rounded = (cellWidth + tabWidth - 1) / tabWidth * tabWidth
            let n = rounded - textWidth
            return String(repeating: "\t", count: (n + tabWidth - 1) / tabWidth)
        }
        return String(repeating: padCharacter, count: max(0, cellWidth - textWidth))
    }
}

extension TabWriter {
    /// Terminal columns a string occupies, approximating go-runewidth: combining
    /// marks and control/format characters take 0, East Asian wide and fullwidth
    /// characters (and emoji) take 2, everything else 1.
    public static func displayWidth(_ s: String) -> Int {
        terminalWidth(s)
    }
}

func terminalWidth(_ s: String) -> Int {
    var width = 0
    for scalar in s.unicodeScalars {
        let v = scalar.value
        if v < 0x20 || (v >= 0x7F && v < 0xA0) { continue }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format:
            continue
        default:
            break
        }
        if v == 0x200B { continue }
        width += isWide(v) ? 2 : 1
    }
    return width
}

private func isWide(_ v: UInt32) -> Bool {
    switch v {
    case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0, 0x23F3,
         0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F, 0x2693, 0x26A1, 0x26AA...0x26AB,
         0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE, 0x26D4, 0x26EA, 0x26F2...0x26F3, 0x26F5, 0x26FA,
         0x26FD, 0x2705, 0x270A...0x270B, 0x2728, 0x274C, 0x274E, 0x2753...0x2755, 0x2757,
         0x2795...0x2797, 0x27B0, 0x27BF, 0x2B1B...0x2B1C, 0x2B50, 0x2B55,
         0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
         0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
         0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x18AFF, 0x1B000...0x1B2FF,
         0x1F004, 0x1F0CF, 0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F251,
         0x1F300...0x1F320, 0x1F32D...0x1F335, 0x1F337...0x1F37C, 0x1F37E...0x1F393,
         0x1F3A0...0x1F3CA, 0x1F3CF...0x1F3D3, 0x1F3E0...0x1F3F0, 0x1F3F4, 0x1F3F8...0x1F43E,
         0x1F440, 0x1F442...0x1F4FC, 0x1F4FF...0x1F53D, 0x1F54B...0x1F54E, 0x1F550...0x1F567,
         0x1F57A, 0x1F595...0x1F596, 0x1F5A4, 0x1F5FB...0x1F64F, 0x1F680...0x1F6C5, 0x1F6CC,
         0x1F6D0...0x1F6D2, 0x1F6D5...0x1F6D7, 0x1F6EB...0x1F6EC, 0x1F6F4...0x1F6FC,
         0x1F7E0...0x1F7EB, 0x1F90C...0x1F93A, 0x1F93C...0x1F945, 0x1F947...0x1F9FF,
         0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
        return true
    default:
        return false
    }
}
