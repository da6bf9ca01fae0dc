import Foundation
import Testing
import Render

@Suite struct TemplateValueTests {
    struct Image: Encodable {
        var Repository: String
        var Size: Int64
        var Shared: Double
        var Labels: [String: String]
        var Tags: [String]
        var Parent: String?
    }

    @Test func encodableKeepsDeclarationOrderAndIntegers() throws {
        let value = try TemplateValue(encodable: Image(
            Repository: "alpine", Size: 42, Shared: 1.5, Labels: ["a": "1"], Tags: ["x"], Parent: nil))
        let json = try GoTemplate("{{json .}}").execute(value)
        #expect(json == #"{"Repository":"alpine","Size":42,"Shared":1.5,"Labels":{"a":"1"},"Tags":["x"]}"#)
        #expect(try GoTemplate("{{.Size}} {{.Parent}}").execute(value) == "42 <no value>")
    }

    @Test func jsonTextKeepsKeyOrder() throws {
        let value = try TemplateValue(json: #"{"z":1,"a":[true,null,2.5,"s\u00e9"],"m":{"y":{},"b":[]}}"#)
        #expect(try GoTemplate("{{json .}}").execute(value) == #"{"z":1,"a":[true,null,2.5,"sé"],"m":{"y":{},"b":[]}}"#)
        #expect(try GoTemplate("{{.}}").execute(value) == "map[a:[true <nil> 2.5 sé] m:map[b:[] y:map[]] z:1]")
    }

    @Test func foundationValuesConvert() throws {
        let any: [String: Any] = ["b": 2, "a": "x", "c": [1.5, true, NSNull()], "d": ["k": "v"]]
        let value = TemplateValue(any)
        #expect(try GoTemplate("{{json .}}").execute(value) == #"{"a":"x","b":2,"c":[1.5,true,null],"d":{"k":"v"}}"#)
    }

    /// (value, Go type name, truth)
    static let kinds: [(TemplateValue, String, Bool)] = [
        ("", "string", false), ("x", "string", true), (0, "int", false), (-1, "int", true),
        (0.0, "float64", false), (0.1, "float64", true), (false, "bool", false), (true, "bool", true),
        (nil, "<nil>", false), ([], "[]interface {}", false), ([1], "[]interface {}", true),
        (.map([]), "map[string]interface {}", false), (["k": 1], "map[string]interface {}", true),
    ]

    @Test(arguments: kinds)
    func typeNamesAndTruth(value: TemplateValue, typeName: String, truth: Bool) {
        #expect(value.goTypeName == typeName)
        #expect(value.isTruthy == truth)
    }
}
