import Foundation
@testable import Orchestrator
import Testing

/// A workflow started without an id gets a version 7 UUID: its start time first, so ids sort by
/// time and new rows land at the right edge of the indexes keyed by them.
@Suite struct WorkflowIDTests {
    /// The Unix time in milliseconds a version 7 UUID starts with (its first 48 bits).
    static func milliseconds(of uuid: UUID) -> UInt64 {
        withUnsafeBytes(of: uuid.uuid) { Array($0) }[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    @Test func aGeneratedIdIsAVersion7UUIDCarryingItsStartTime() throws {
        let instant = Date(timeIntervalSince1970: 1_764_158_400.123)  // 2025-11-26T12:00:00.123Z
        let id = WorkflowID.generate(at: instant)
        let uuid = try #require(UUID(uuidString: id), "\(id) is not a UUID")
        #expect(id == uuid.uuidString.lowercased())
        let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
        #expect(bytes[6] >> 4 == 7, "version")
        #expect(bytes[8] >> 6 == 0b10, "variant")
        #expect(Self.milliseconds(of: uuid) == 1_764_158_400_123)
    }

    @Test func idsSortByTheirStartTimeAsTextAndNeverRepeat() {
        let start = Date(timeIntervalSince1970: 1_764_158_400)
        let ids = (0..<2_000).map { WorkflowID.generate(at: start.addingTimeInterval(Double($0) / 1000)) }
        #expect(Set(ids).count == ids.count)
        // Within one millisecond the order is random; across milliseconds it is the time's.
        let byMillisecond = stride(from: 0, to: ids.count, by: 10).map { ids[$0] }
        #expect(byMillisecond == byMillisecond.sorted())
    }

    @Test func theEngineNamesAWorkflowStartedWithoutAnIdAfterItsStartTime() async throws {
        try await TestDatabase.withHarness(workflows: [ActivityLimitTests.limited]) { harness in
            let startedAt = harness.clock.now()
            let workflow = try await harness.start("limited")
            let uuid = try #require(UUID(uuidString: workflow.id))
            #expect(Self.milliseconds(of: uuid) == UInt64(startedAt.timeIntervalSince1970 * 1000))
        }
    }
}
