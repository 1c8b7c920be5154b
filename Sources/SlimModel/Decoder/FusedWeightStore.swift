import SlimCore

/// Phi-3 stores Q, K and V as one `qkv_proj` (rows: queries, then keys, then
/// values) and gate and up as one `gate_up_proj` (gate rows first: transformers
/// `chunk(2)`s its output). This store shows them under the Llama names, as row
/// ranges of the fused weight, so the block, calibration and compression see
/// one layout for every family. Rows are independent in every format (each
/// row has its own scales), so a packed fused weight splits without decoding;
/// the compressor fuses them back (``parts(of:)``) when it writes.
public struct FusedWeightStore: WeightStore {
    public let base: any WeightStore
    let config: DecoderConfig

    public init(_ base: any WeightStore, config: DecoderConfig) {
        self.base = base
        self.config = config
    }

    /// The fused weights of a block and, in order, the parts they hold with their row counts.
    public static func fusedLayout(block i: Int, config c: DecoderConfig) -> [(fused: String, parts: [(DecoderTensorNames.Part, Int)])] {
        [("model.layers.\(i).self_attn.qkv_proj", [(.query, c.queryDim), (.key, c.kvDim), (.value, c.kvDim)]),
         ("model.layers.\(i).mlp.gate_up_proj", [(.gate, c.intermediateSize), (.up, c.intermediateSize)])]
    }

    /// The fused weight `name` (a `.weight`) is part of, and the rows it covers there.
    func slice(_ name: String) -> (fused: String, rows: Range<Int>, total: Int)? {
        guard name.hasPrefix("model.layers."), name.hasSuffix(".weight") else { return nil }
        let rest = name.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0, i < config.layers else { return nil }
        for (fused, parts) in Self.fusedLayout(block: i, config: config) {
            var start = 0
            let total = parts.reduce(0) { $0 + $1.1 }
            for (part, rows) in parts {
                if DecoderTensorNames.huggingFace.block(i, part) + ".weight" == name { return (fused + ".weight", start..<start + rows, total) }
                start += rows
            }
        }
        return nil
    }

    public var origin: String { base.origin }

    public func contains(_ name: String) -> Bool {
        if let s = slice(name) { return base.contains(s.fused) }
        return base.contains(name)
    }

    public func shape(of name: String) throws -> [Int] {
        guard let s = slice(name) else { return try base.shape(of: name) }
        let shape = try base.shape(of: s.fused)
        guard shape.count == 2, shape[0] == s.total else {
            throw SlimError.malformedFile(path: origin, detail: "tensor '\(s.fused)' is \(shape) but the config implies [\(s.total), …] rows (its parts' sum)")
        }
        return [s.rows.count, shape[1]]
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let s = slice(name) else { return try base.floats(name) }
        let columns = try shape(of: name)[1]
        return Array(try base.floats(s.fused)[s.rows.lowerBound * columns..<s.rows.upperBound * columns])
    }

    public func packed(_ name: String) throws -> PackedWeight? {
        guard let s = slice(name) else { return try base.packed(name) }
        guard let p = try base.packed(s.fused) else { return nil }
        guard p.rows == s.total else {
            throw SlimError.malformedFile(path: origin, detail: "packed '\(s.fused)' has \(p.rows) rows but the config implies \(s.total)")
        }
        return p.rows(s.rows)
    }

    public func factors(_ name: String) throws -> (a: [Float], b: [Float], rank: Int)? { slice(name) == nil ? try base.factors(name) : nil }
    public func inputScale(_ name: String) throws -> [Float]? {
        guard let s = slice(name) else { return try base.inputScale(name) }
        return try base.inputScale(s.fused)
    }
    public func packedFactors(_ name: String) throws -> (a: PackedWeight, b: PackedWeight)? {
        slice(name) == nil ? try base.packedFactors(name) : nil
    }
    /// A fused weight's parts read the same input, so they share its column order.
    public func inputOrder(_ name: String) throws -> [Int]? {
        try base.inputOrder(slice(name)?.fused ?? name)
    }
}

extension PackedWeight {
    /// Rows `range` of this weight, as their own packed weight (rows are laid out one after another).
    public func rows(_ range: Range<Int>) -> PackedWeight {
        let rowBytes = encoded.data.count / max(rows, 1)
        let groups = encoded.scales.count / max(rows, 1), zeroGroups = encoded.zeros.count / max(rows, 1)
        return PackedWeight(format: format, rows: range.count, columns: columns, encoded: QuantCodec.Encoded(
            data: Array(encoded.data[range.lowerBound * rowBytes..<range.upperBound * rowBytes]),
            scales: Array(encoded.scales[range.lowerBound * groups..<range.upperBound * groups]),
            zeros: Array(encoded.zeros[range.lowerBound * zeroGroups..<range.upperBound * zeroGroups])))
    }

    /// Row `r` decoded to fp32 (an embedding lookup reads a few rows of a packed table).
    public func row(_ r: Int) throws -> [Float] {
        let one = rows(r..<r + 1)
        return try QuantCodec.decode(one.encoded, rows: 1, columns: columns, format: format)
    }

    /// These rows followed by `other`'s (a fused weight from its parts).
    public func appending(_ other: PackedWeight) -> PackedWeight {
        PackedWeight(format: format, rows: rows + other.rows, columns: columns, encoded: QuantCodec.Encoded(
            data: encoded.data + other.encoded.data, scales: encoded.scales + other.encoded.scales, zeros: encoded.zeros + other.encoded.zeros))
    }
}
