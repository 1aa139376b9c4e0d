/// Bytes as hexadecimal text, written straight into a UTF-8 buffer.
enum Hex {
    /// Appends `byte` as two lowercase hex digits.
    static func append(_ byte: UInt8, to output: inout [UInt8]) {
        for digit in [byte >> 4, byte & 0x0F] { output.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10) }
    }
}
