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

    /// RFC 8259: no leading zeros, and a number must be one a double can hold, or the client's
    /// data would be changed (`1e999` stored as `null`, `01` as 1) instead of refused.
    @Test(arguments: ["01", "-01", "[00]", "1e999", "-1e999", #"{"a": 1e400}"#])
    func refusesNumbersThatWouldNotSurviveStorage(_ text: String) {
        #expect(throws: OrchestratorError.self) { try JSONValue(json: text) }
    }

    @Test func refusesInvalidUTF8InsteadOfReplacingIt() {
        let bytes: [UInt8] = Array(#"{"name": "caf"#.utf8) + [0xE9] + Array(#""}"#.utf8)
        #expect(throws: OrchestratorError.self) { try JSONValue(jsonData: Data(bytes)) }
        #expect((try? JSONValue(json: "0")) == 0)
        #expect((try? JSONValue(json: "-0.5e1")) == -5)
        #expect((try? JSONValue(json: "10")) == 10)
    }

    /// The writer copies text in runs and escapes only quotes, backslashes and control characters
    /// (the short forms for \n, \r and \t); the reader joins runs and escapes back into one string.
    @Test func escapesOnlyWhatJSONRequiresAndReadsRunsBetweenEscapes() throws {
        let value: JSONValue = ["k\u{01}é": "a\u{08}b\u{0C}c\u{1F}d\"e\\f\ng\rh\ti/j€😀", "n": [0, -0.0, -7, 8_999_999_999_999_998, 9.0e15, 0.1, -2.5e-7]]
        let text = value.jsonText
        #expect(text == #"{"k\u0001é":"a\u0008b\u000cc\u001fd\"e\\f\ng\rh\ti/j€😀","n":[0,0,-7,8999999999999998,9000000000000000.0,0.1,-2.5e-07]}"#)
        #expect(try JSONValue(json: text) == value)
        #expect(try JSONValue(json: #""\u00e9t\u00e9 \/ caf\u00e9""#) == "été / café")
        #expect(try JSONValue(json: "123456789012345") == 123_456_789_012_345)
        #expect(try JSONValue(json: "-1234567890123456789") == -1_234_567_890_123_456_789)
        // Invalid UTF-8 after an escape is refused like any other.
        let bytes: [UInt8] = Array(#""\n"#.utf8) + [0xE9] + Array(#"""#.utf8)
        #expect(throws: OrchestratorError.self) { try JSONValue(jsonData: Data(bytes)) }
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
