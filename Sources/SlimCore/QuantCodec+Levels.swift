extension QuantCodec {
    /// The stored int4 levels `u ∈ 0...15` of a weight in ``QuantFormat/int4(groupSize:symmetric:)``,
    /// row-major `[rows, columns]`, unpacked from its nibble layout (for writers of other formats).
    public static func int4Levels(_ e: Encoded, rows: Int, columns: Int) -> [UInt8] {
        unpackNibbles(Array(e.data.prefix(rows * columns / 2))).map { UInt8($0) }
    }
}
