import Foundation
import SlimCore

/// Folders written by AutoGPTQ / GPTQModel (`quant_method: gptq`, or AutoGPTQ's
/// `quantize_config.json`): per linear `qweight` i32 `[K·bits/32, N]` packed along K
/// (weight `k` in bits `bits·(k mod 32/bits)` of row `k / (32/bits)`), `qzeros` i32
/// `[G, N·bits/32]` packed along N the same way, `scales` `[G, N]` (fp16), `g_idx`
/// i32 `[K]` (each input column's group), `w = scale · (q − z)`. Checkpoint format
/// `gptq` (v1) stores every zero point less one (AutoGPTQ's historical offset); `gptq_v2` does not.
/// - 4 bits, groups of 32/64/128 → `int4` (symmetric when every zero is 8, as `sym` writes them).
///   `desc_act` with a permuted `g_idx`: columns sorted into group order, the input gathered to match.
/// - 8 bits, one group per row (`group_size: -1`), symmetric (zeros 128) → `int8` per channel.
/// Other bit widths, marlin/bitblas/exllama formats and int8 groups are refused by their key.
public struct GPTQReader: ImportedFormatReader {
    let bits: Int, groupSize: Int, zeroOffset: UInt32
    let path: String

    public init(_ q: [String: Any], source: URL) throws {
        let s = QuantizationSettings(values: q, source: source, prefix: source.lastPathComponent == "config.json" ? "quantization_config." : "")
        path = source.path
        bits = try s.int("bits")
        guard bits == 4 || bits == 8 else { throw s.refuse("bits", "is \(bits); Slim reads 4- and 8-bit GPTQ") }
        groupSize = try s.int("group_size", default: -1)
        if bits == 4, !int4GroupSizes.contains(groupSize) {
            throw s.refuse("group_size", "is \(groupSize) with 4 bits; Slim's int4 groups are 32, 64 or 128")
        }
        if bits == 8, groupSize != -1 { throw s.refuse("group_size", "is \(groupSize) with 8 bits; Slim's int8 is per channel (group_size -1)") }
        if try s.bool("is_marlin_format", default: false) { throw s.refuse("is_marlin_format", "is true; Slim reads the gptq and gptq_v2 layouts") }
        let format = (s.string("checkpoint_format") ?? s.string("format") ?? "gptq").lowercased()
        let key = s.string("checkpoint_format") != nil ? "checkpoint_format" : "format"
        switch format {
        case "gptq": zeroOffset = 1
        case "gptq_v2": zeroOffset = 0
        default: throw s.refuse(key, "is '\(format)'; Slim reads gptq (v1) and gptq_v2")
        }
    }

    public func isPacked(_ prefix: String, in file: any TensorFile) -> Bool { file.contains(prefix + ".qweight") }

    /// `[N, K]` from `scales` `[G, N]` and `qweight` `[K·bits/32, N]`.
    private func shape(_ prefix: String, in file: any TensorFile) throws -> (n: Int, k: Int) {
        let q = try file.tensor(named: prefix + ".qweight")
        guard q.shape.count == 2 else { throw SlimError.malformedFile(path: file.path, detail: "'\(q.name)' is \(q.shape), not a matrix") }
        return (q.shape[1], q.shape[0] * 32 / bits)
    }

    /// Each input column's group: `g_idx`, or `k / group_size` where it is absent.
    private func groupIndex(_ prefix: String, k: Int, in file: any TensorFile) throws -> [Int64] {
        guard let t = file.tensorsByName[prefix + ".g_idx"] else { return (0..<k).map { Int64($0 / max(groupSize, 1)) } }
        guard t.shape == [k] else { throw SlimError.malformedFile(path: file.path, detail: "'\(t.name)' is \(t.shape), expected [\(k)]") }
        return try file.int64s(t)
    }

    public func inputOrder(_ prefix: String, in file: any TensorFile) throws -> [Int]? {
        guard bits == 4 else { return nil }
        let (_, k) = try shape(prefix, in: file)
        return try GroupOrder.sortedColumns(try groupIndex(prefix, k: k, in: file), groupSize: groupSize, tensor: prefix + ".g_idx", path: file.path)
    }

    public func repack(_ prefix: String, in file: any TensorFile) throws -> PackedWeight {
        let (n, k) = try shape(prefix, in: file)
        let perWord = 32 / bits, mask = UInt32((1 << bits) - 1)
        guard n % perWord == 0 else { throw SlimError.malformedFile(path: file.path, detail: "'\(prefix).qzeros' cannot pack \(n) columns in words of \(perWord)") }
        let groups = bits == 8 ? 1 : k / groupSize
        let qweight = try file.int32Words(prefix + ".qweight", shape: [k / perWord, n])
        let qzeros = try file.int32Words(prefix + ".qzeros", shape: [groups, n / perWord])
        let scales = try file.floats(prefix + ".scales", shape: [groups, n])
        func level(_ k: Int, _ r: Int) -> UInt32 { (qweight[(k / perWord) * n + r] >> (UInt32(bits) * UInt32(k % perWord))) & mask }
        func zero(_ g: Int, _ r: Int) -> UInt32 { ((qzeros[g * (n / perWord) + r / perWord] >> (UInt32(bits) * UInt32(r % perWord))) & mask) + zeroOffset }
        if bits == 8 {
            if let t = file.tensorsByName[prefix + ".g_idx"], try file.int64s(t).contains(where: { $0 != 0 }) {
                throw SlimError.malformedFile(path: file.path, detail: "'\(t.name)' names groups other than 0, but group_size is -1")
            }
            if let r = (0..<n).first(where: { zero(0, $0) != 128 }) {
                throw SlimError.unsupported(op: "read '\(prefix).qzeros'", backend: "model",
                                            reason: "row \(r) has zero point \(zero(0, r)); Slim's int8 is symmetric (zero 128, GPTQ's sym: true)")
            }
            let data = (0..<n * k).map { i in UInt8(truncatingIfNeeded: level(i % k, i / k)) ^ 0x80 }
            return PackedWeight(format: .int8PerChannel, rows: n, columns: k, encoded: .init(data: data, scales: Array(scales)))
        }
        let order = try inputOrder(prefix, in: file) ?? Array(0..<k)
        let zeros = (0..<n * groups).map { i in zero(i % groups, i / groups) }
        if let bad = zeros.firstIndex(where: { $0 > 15 }) {
            throw SlimError.unsupported(op: "read '\(prefix).qzeros'", backend: "model",
                                        reason: "row \(bad / groups) group \(bad % groups) has zero point \(zeros[bad]) (v1's stored 15 plus one), outside int4's 0...15")
        }
        let symmetric = zeros.allSatisfy { $0 == 8 }
        let levels = (0..<n * k).map { i in UInt8(level(order[i % k], i / k)) }
        let slimScales = (0..<n * groups).map { i in scales[(i % groups) * n + i / groups] }
        let format = QuantFormat.int4(groupSize: groupSize, symmetric: symmetric)
        let encoded = try QuantCodec.encode(levels: levels, rows: n, columns: k, format: format, scales: slimScales,
                                            zeros: symmetric ? [] : zeros.map { UInt8($0) })
        return PackedWeight(format: format, rows: n, columns: k, encoded: encoded)
    }
}
