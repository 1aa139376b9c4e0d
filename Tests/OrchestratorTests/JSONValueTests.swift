import Foundation
import Orchestrator
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndWritesEveryKindWithSortedKeys() throws {
        let text = #"{"b": [1, 2.5, -3e2, true, false, null], "a": {"s": "x\"y\\z\n\u00e9\ud83d\ude00/"}}"#
        let value = try JSONValue(json: text)
        #expect(value["b"] == [1, 2.5, -300, true, false, nil])
        #expect(value["a"]?["s"] == "x\"y\\z\né😀/")
        #expect(value.jsonText == #"{"a":{"s":"x\"y\\z\né😀/"},"b":[1,2.5,-300,true,false,null]}"#)
        #expect(try JSONValue(json: value.jsonText) == value)
    }

    @Test func agreesWithFoundationOnARoundTrip() throws {
        let value: JSONValue = ["id": "w-1", "items": [["sku": "tea", "qty": 2]], "price": 12.75, "tags": [], "meta": [:], "control": "\u{01}"]
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(value.jsonText.utf8))
        #expect(foundation == value)
    }

    @Test(arguments: ["", "{", "[1,]", #"{"a" 1}"#, "tru", "01x", #""\x""#, "[1] 2", #""\ud800""#, "1.", "-"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: OrchestratorError.self) { try JSONValue(json: text) }
    }

    @Test func rejectsAbsurdNesting() {
        #expect(throws: OrchestratorError.self) { try JSONValue(json: String(repeating: "[", count: 10_000)) }
    }

    @Test func pathsReadAndWrite() throws {
        var document: JSONValue = ["input": ["items": ["a", "b"]]]
        #expect(try JSONPath(parsing: "$.input.items[1]").read(document) == "b")
        #expect(try JSONPath(parsing: "$.missing.x").read(document) == nil)
        try JSONPath(parsing: "$.out.list[2]").write("z", into: &document)
        #expect(document["out"] == ["list": [nil, nil, "z"]])
        #expect(throws: JSONPathError.self) { try JSONPath(parsing: "input.items") }
        #expect(throws: JSONPathError.self) { try JSONPath(parsing: "$.a[x]") }
    }
}
