import Testing
import Render

/// `--filter` parsing as docker's CLI does it, and moby's filters.Args matching
/// (cases ported from moby's api/types/filters/parse_test.go).
@Suite struct FilterArgsTests {
    /// (flags, expected key → values)
    static let parseCases: [([String], [String: [String]])] = [
        (["created=today", "image.name=ubuntu*", "image.name=*untu"],
         ["created": ["today"], "image.name": ["*untu", "ubuntu*"]]),
        (["label=com.example.vendor=ACME", "label=maintainer"], ["label": ["com.example.vendor=ACME", "maintainer"]]),
        (["label!=com.example=1"], ["label!": ["com.example=1"]]),
        ([" Dangling = true "], ["dangling": ["true"]]),
        (["reference=alpine:*", "reference=alpine:*"], ["reference": ["alpine:*"]]),
        (["until=", "=x"], ["until": [""], "": ["x"]]),
        ([""], [:]),
        ([], [:]),
    ]

    @Test(arguments: parseCases)
    func parses(flags: [String], expected: [String: [String]]) throws {
        let args = try FilterArgs(parsing: flags)
        #expect(args.keys == expected.keys.sorted())
        for (key, values) in expected { #expect(args.values(for: key) == values) }
        #expect(args.isEmpty == expected.isEmpty)
    }

    @Test(arguments: ["anything", "dangling", "label"])
    func rejectsFlagsWithoutEquals(flag: String) {
        #expect(throws: FilterError.badFormat(flag)) { try FilterArgs(parsing: ["a=b", flag]) }
        #expect(FilterError.badFormat(flag).description
            == "invalid argument \"\(flag)\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")
    }

    @Test func validateNamesTheFirstUnknownKey() throws {
        let args = try FilterArgs(parsing: ["status=running", "bogus=1", "another=2"])
        #expect(throws: Never.self) { try args.validate(allowed: ["status", "bogus", "another"]) }
        #expect(throws: FilterError.invalidFilter(key: "another", values: nil)) {
            try args.validate(allowed: ["status", "dangling"])
        }
        #expect(FilterError.invalidFilter(key: "bogus", values: nil).description == "invalid filter 'bogus'")
    }

    static let sources = ["key1": "value1", "key2": "value2", "key3": "value3"]

    /// (label filters, matches sources)
    static let kvLists: [([String], Bool)] = [
        ([], true), (["key1"], true), (["key1=value1"], true), (["key1", "key2=value2"], true),
        (["key4"], false), (["key1=value3"], false), (["key1=value1", "key4"], false), (["key1="], false),
    ]

    @Test(arguments: kvLists)
    func matchKVList(values: [String], matches: Bool) throws {
        let args = try FilterArgs(parsing: ["created=today"] + values.map { "labels=" + $0 })
        #expect(args.matchKVList("labels", Self.sources) == matches)
    }

    @Test func matchKVListWithEmptySources() throws {
        #expect(FilterArgs().matchKVList("created", [:]))
        #expect(try !FilterArgs(parsing: ["created=today"]).matchKVList("created", [:]))
    }

    /// (values for "created", key asked, matches "today") — moby TestArgsMatch.
    static let regexMatches: [([String], String, Bool)] = [
        ([], "field", true), (["today"], "today", true), (["to*"], "created", true), (["to(.*)"], "created", true),
        (["tod"], "created", true), (["anyting", "to*"], "created", true), (["tomorrow"], "created", false),
        (["to(day"], "created", false), (["tom(.*)"], "created", false), (["tom"], "created", false),
        (["today1"], "created", false),
    ]

    @Test(arguments: regexMatches)
    func regexMatch(values: [String], key: String, matches: Bool) throws {
        let args = try FilterArgs(parsing: values.map { "created=" + $0 })
        #expect(args.match(key, "today") == matches)
    }

    @Test func exactUniqueAndFuzzyMatches() throws {
        var args = FilterArgs()
        #expect(args.exactMatch("status", "running"))
        #expect(args.uniqueExactMatch("status", "running"))
        args.add("status", "running")
        #expect(args.uniqueExactMatch("status", "running"))
        #expect(!args.uniqueExactMatch("status", "paused"))
        args.add("status", "pause*")
        #expect(args.exactMatch("status", "running"))
        #expect(!args.exactMatch("status", "paused"))
        #expect(!args.uniqueExactMatch("status", "running"))
        args.remove("status", "pause*")
        args.remove("status", "running")
        #expect(!args.contains("status"))

        let fuzzy = try FilterArgs(parsing: ["container=foo"])
        #expect(fuzzy.fuzzyMatch("container", "foo"))
        #expect(fuzzy.fuzzyMatch("container", "foobar"))
        #expect(!fuzzy.fuzzyMatch("container", "barfoo"))
        #expect(!fuzzy.fuzzyMatch("container", "bar"))
    }

    /// (dangling values, result or nil for invalid)
    static let bools: [([String], Bool?)] = [
        ([], false), (["true"], true), (["1"], true), (["false"], false), (["0"], false), (["true", "1"], true),
        (["maybe"], nil), (["true", "false"], nil),
    ]

    @Test(arguments: bools)
    func boolOrDefault(values: [String], expected: Bool?) throws {
        let args = try FilterArgs(parsing: values.map { "dangling=" + $0 })
        if let expected {
            #expect(try args.bool("dangling", default: false) == expected)
        } else {
            #expect(throws: FilterError.invalidFilter(key: "dangling", values: values.sorted())) {
                try args.bool("dangling", default: false)
            }
        }
    }

    @Test func invalidFilterValuesReadLikeDocker() {
        #expect(FilterError.invalidFilter(key: "dangling", values: ["maybe"]).description == "invalid filter 'dangling=[maybe]'")
        #expect(FilterError.invalidFilter(key: "dangling", values: ["false", "true"]).description
            == "invalid filter 'dangling=[false true]'")
    }
}
