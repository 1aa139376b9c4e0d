import Foundation

/// The id the engine gives a workflow started without one: a UUID of version 7 (RFC 9562), whose
/// first 48 bits are the start's Unix time in milliseconds and the rest random.
///
/// Ordered by time, new ids land at the right edge of every index keyed by a workflow's id (its
/// primary key, its events', its tasks'): the pages a start or a completion touches stay the
/// recent few, however large the tables grow. Random ids (version 4) scatter those writes over
/// the whole index, which outgrows PostgreSQL's buffers as history accumulates.
public enum WorkflowID {
    public static func generate(at instant: Date) -> String {
        var random = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(instant.timeIntervalSince1970 * 1000, 0)) & 0xFFFF_FFFF_FFFF
        let high = milliseconds << 16 | 0x7000 | random.next() >> 52  // time, version 7, 12 random bits
        let low = random.next() >> 2 | 0x8000_0000_0000_0000  // variant 0b10, 62 random bits
        let digits = Array(String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16))
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(digits[$0]) }.joined(separator: "-")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(width - count, 0)) + self
    }
}
