/// Bytes as hexadecimal text, written straight into a UTF-8 buffer: a request hash, a JSON
/// `\u00XX` escape, a URL's `%XX`.
public enum Hex {
    /// Appends `byte` as two hex digits, lowercase unless asked otherwise.
    public static func append(_ byte: UInt8, to output: inout [UInt8], uppercase: Bool = false) {
        let letters = uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")
        func digit(_ value: UInt8) -> UInt8 { value < 10 ? UInt8(ascii: "0") + value : letters + value - 10 }
        output.append(digit(byte >> 4))
        output.append(digit(byte & 0x0F))
    }
}
