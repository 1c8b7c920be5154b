/// GPT-2's reversible map between bytes and printable code points: byte-level
/// BPE vocabularies (GPT-2, Llama 3, SmolLM2, …) store every token as the
/// characters of its bytes under this map, so a space is `Ġ` and a newline `Ċ`.
public enum ByteLevelAlphabet {
    /// The code point that stands for each byte.
    public static let scalarOfByte: [Unicode.Scalar] = {
        // Printable Latin-1 bytes stand for themselves; the other 68 bytes take
        // the code points from U+0100 upward, in byte order.
        let printable = Set(Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF))
        var next = 0x100
        return (0..<256).map { byte in
            if printable.contains(byte) { return Unicode.Scalar(UInt32(byte))! }
            defer { next += 1 }
            return Unicode.Scalar(UInt32(next))!
        }
    }()

    /// The inverse of ``scalarOfByte``.
    public static let byteOfScalar: [Unicode.Scalar: UInt8] = {
        Dictionary(uniqueKeysWithValues: scalarOfByte.enumerated().map { ($0.element, UInt8($0.offset)) })
    }()

    /// The text a vocabulary stores for these bytes.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(scalarOfByte[Int(b)]) }
        return String(scalars)
    }

    /// The bytes a vocabulary entry stands for; `nil` if it holds a code point outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            guard let b = byteOfScalar[s] else { return nil }
            bytes.append(b)
        }
        return bytes
    }
}
