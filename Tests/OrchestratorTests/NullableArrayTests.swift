import PostgresNIO
import Testing

@testable import Orchestrator

/// `NullableArray` binds a batch column whose values may be absent: PostgreSQL receives NULL where
/// Swift had `nil`, in place, with no value standing in for it.
@Suite struct NullableArrayTests {
    @Test func anArrayWithAbsentValuesReachesPostgreSQLWithNullsInTheirPlaces() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let numbers = try await harness.query(
                "SELECT n FROM unnest(\(NullableArray<Int32>([1, nil, 3]))::int4[]) WITH ORDINALITY AS u(n, i) ORDER BY i", as: Int32?.self)
            #expect(numbers == [1, nil, 3])
            let texts = try await harness.query(
                "SELECT t FROM unnest(\(NullableArray<String>([nil, "", "b"]))::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i", as: String?.self)
            #expect(texts == [nil, "", "b"])
            let allAbsent = try await harness.query("SELECT cardinality(\(NullableArray<Int32>([nil, nil]))::int4[])", as: Int32.self)
            #expect(allAbsent == [2])
            let empty = try await harness.query("SELECT count(*) FROM unnest(\(NullableArray<String>([]))::text[])", as: Int64.self)
            #expect(empty == [0])
        }
    }
}
