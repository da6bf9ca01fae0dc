import Testing
import Render

/// Layouts from docker/cli's copy of Go's text/tabwriter tests (which counts East
/// Asian wide characters as two columns), limited to the flags berth supports.
@Suite struct TabWriterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let minWidth, tabWidth, padding: Int
        let pad: Character
        var alignRight = false
        var debug = false
        let source, expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "1a", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "", expected: ""),
        Case(name: "1a debug", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", debug: true, source: "", expected: ""),
        Case(name: "2", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "\n\n\n", expected: "\n\n\n"),
        Case(name: "3", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "a\nb\nc", expected: "a\nb\nc"),
        Case(name: "4a", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "\t", expected: ""),
        Case(name: "4b", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", alignRight: true, source: "\t", expected: ""),
        Case(name: "5", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "*\t*", expected: "*.......*"),
        Case(name: "5b", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "*\t*\n", expected: "*.......*\n"),
        Case(name: "5c", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "*\t*\t", expected: "*.......*"),
        Case(name: "5c debug", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", debug: true, source: "*\t*\t", expected: "*.......|*"),
        Case(name: "5d", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", alignRight: true, source: "*\t*\t", expected: ".......**"),
        Case(name: "6", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "\t\n", expected: "........\n"),
        Case(name: "7a", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "a) foo", expected: "a) foo"),
        Case(name: "7b", minWidth: 8, tabWidth: 0, padding: 1, pad: " ", source: "b) foo\tbar", expected: "b) foo  bar"),
        Case(name: "7c", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "c) foo\tbar\t", expected: "c) foo..bar"),
        Case(name: "7d", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "d) foo\tbar\n", expected: "d) foo..bar\n"),
        Case(name: "7e", minWidth: 8, tabWidth: 0, padding: 1, pad: ".", source: "e) foo\tbar\t\n", expected: "e) foo..bar.....\n"),
        Case(name: "8", minWidth: 8, tabWidth: 0, padding: 1, pad: "*", source: "Hello, world!\n", expected: "Hello, world!\n"),
        Case(name: "9a", minWidth: 1, tabWidth: 0, padding: 0, pad: ".",
             source: "1\t2\t3\t4\n11\t222\t3333\t44444\n", expected: "1.2..3...4\n11222333344444\n"),
        Case(name: "9c", minWidth: 1, tabWidth: 0, padding: 0, pad: ".",
             source: "1\t2\t3\t4\u{0C}11\t222\t3333\t44444\n", expected: "1234\n11222333344444\n"),
        Case(name: "9c debug", minWidth: 1, tabWidth: 0, padding: 0, pad: ".", debug: true,
             source: "1\t2\t3\t4\u{0C}11\t222\t3333\t44444\n", expected: "1|2|3|4\n---\n11|222|3333|44444\n"),
        Case(name: "10a", minWidth: 5, tabWidth: 0, padding: 0, pad: ".", source: "1\t2\t3\t4\n", expected: "1....2....3....4\n"),
        Case(name: "10b", minWidth: 5, tabWidth: 0, padding: 0, pad: ".", source: "1\t2\t3\t4\t\n", expected: "1....2....3....4....\n"),
        Case(name: "11 (wide characters)", minWidth: 8, tabWidth: 0, padding: 1, pad: ".",
             source: "本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n",
             expected: "本......b.......c\naa......本本本..cccc....ddddd\naaa.....bbbb\n"),
        Case(name: "12a", minWidth: 8, tabWidth: 0, padding: 1, pad: " ", alignRight: true,
             source: "a\tè\tc\t\naa\tèèè\tcccc\tddddd\t\naaa\tèèèè\t\n",
             expected: "       a       è       c\n      aa     èèè    cccc   ddddd\n     aaa    èèèè\n"),
        Case(name: "12b", minWidth: 2, tabWidth: 0, padding: 0, pad: " ",
             source: "a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n", expected: "a  b  c\naa bbbcccc\naaabbbb\n"),
        Case(name: "12c", minWidth: 8, tabWidth: 0, padding: 1, pad: "_",
             source: "a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n",
             expected: "a_______b_______c\naa______bbb_____cccc\naaa_____bbbb\n"),
        Case(name: "13a", minWidth: 4, tabWidth: 0, padding: 1, pad: "-",
             source: "4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n",
             expected: "4444------日本語-22--1---333\n999999999-22\n7---------22\n------------------88888888\n\n666666-666666-666666----4444\n1------1------999999999-0000000000\n"),
        Case(name: "13b", minWidth: 4, tabWidth: 0, padding: 3, pad: ".",
             source: "4444\t333\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n",
             expected: "4444........333...22...1...333\n999999999...22\n7...........22\n....................88888888\n\n666666...666666...666666......4444\n1........1........999999999...0000000000\n"),
        Case(name: "14", minWidth: 1, tabWidth: 0, padding: 2, pad: " ", alignRight: true,
             source: ".0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t",
             expected: "    .0          .3    2.4    -5.1\n  23.0  12345678.9    2.4  -989.4\n   5.1        12.0    2.4    -7.0\n    .0         0.0  332.0  8908.0\n    .0         -.3  456.4    22.1\n    .0         1.2   44.4   -13.3"),
        Case(name: "14 debug", minWidth: 1, tabWidth: 0, padding: 2, pad: " ", alignRight: true, debug: true,
             source: ".0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t",
             expected: "    .0|          .3|    2.4|    -5.1|\n  23.0|  12345678.9|    2.4|  -989.4|\n   5.1|        12.0|    2.4|    -7.0|\n    .0|         0.0|  332.0|  8908.0|\n    .0|         -.3|  456.4|    22.1|\n    .0|         1.2|   44.4|   -13.3|"),
        Case(name: "15a", minWidth: 4, tabWidth: 0, padding: 0, pad: ".", source: "a\t\tb", expected: "a.......b"),
        Case(name: "16a", minWidth: 100, tabWidth: 100, padding: 0, pad: "\t",
             source: "a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n",
             expected: "a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n"),
        Case(name: "16c debug", minWidth: 100, tabWidth: 100, padding: 0, pad: "\t", debug: true,
             source: "a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n",
             expected: "a\t|b\t|\t|d\na\t|b\t|\t|d\t|e\na\na\t|b\t|c\t|d\na\t|b\t|c\t|d\t|e\n"),
    ]

    @Test(arguments: cases)
    func layout(_ c: Case) {
        let writer = TabWriter(minWidth: c.minWidth, tabWidth: c.tabWidth, padding: c.padding,
                               padCharacter: c.pad, alignRight: c.alignRight, debug: c.debug)
        #expect(writer.format(c.source) == c.expected)
    }

    /// docker's table settings (minwidth 10, padding 3): blocks of consecutive rows.
    @Test func dockerTableSettings() {
        let text = "REPOSITORY\tTAG\tSIZE\nalpine\t3.20\t7.8MB\nregistry.example.com/team/app\tlatest\t120MB\n"
        #expect(TabWriter.docker.format(text) == """
            REPOSITORY                      TAG       SIZE
            alpine                          3.20      7.8MB
            registry.example.com/team/app   latest    120MB

            """)
        // A line without tabs ends the block: later rows are aligned on their own.
        #expect(TabWriter.docker.format("a\tb\nlonger-than-ten\tc\nsection\nx\ty\n") ==
            "a                 b\nlonger-than-ten   c\nsection\nx         y\n")
    }

    /// (text, terminal columns)
    static let widths: [(String, Int)] = [
        ("", 0), ("abc", 3), ("日本語", 6), ("e\u{301}", 1), ("😀", 2), ("é", 1), ("a\u{200B}b", 2), ("Ｆ", 2),
    ]

    @Test(arguments: widths)
    func displayWidths(text: String, width: Int) {
        #expect(TabWriter.displayWidth(text) == width)
    }
}
