import Foundation
import SlimCore

/// Folders written by AutoAWQ / llm-awq in its GEMM layout (`quant_method: awq`,
/// `version: gemm`): per linear `qweight` i32 `[K, N/8]`, `qzeros` i32 `[K/g, N/8]`,
/// `scales` `[K/g, N]` (fp16), `w = scale · (q − z)`. AWQ packs eight output columns
/// to a word in the interleaved order `[0, 2, 4, 6, 1, 3, 5, 7]`: nibble `i` (bits
/// `4i`) holds column `8w + order[i]`, so column `8w + j` is in nibble `[0, 4, 1, 5, 2, 6, 3, 7][j]`.
/// 4 bits with zero points and groups of 32/64/128 → `int4` asymmetric (symmetric when
/// every zero is 8). GEMV/Marlin/exllama layouts and other widths are refused by their key.
public struct AWQReader: ImportedFormatReader {
    static let nibbleOfColumn: [UInt32] = [0, 4, 1, 5, 2, 6, 3, 7]
    let groupSize: Int

    public init(_ q: [String: Any], source: URL) throws {
        let s = QuantizationSettings(values: q, source: source, prefix: source.lastPathComponent == "config.json" ? "quantization_config." : "")
        let bitsKey = q["w_bit"] != nil ? "w_bit" : "bits"
        let bits = try s.int(bitsKey)
        guard bits == 4 else { throw s.refuse(bitsKey, "is \(bits); AWQ's GEMM layout is 4-bit") }
        let groupKey = q["q_group_size"] != nil ? "q_group_size" : "group_size"
        groupSize = try s.int(groupKey)
        guard int4GroupSizes.contains(groupSize) else { throw s.refuse(groupKey, "is \(groupSize); Slim's int4 groups are 32, 64 or 128") }
        let version = (s.string("version") ?? "gemm").lowercased()
        guard version == "gemm" else { throw s.refuse("version", "is '\(version)'; Slim reads AWQ's gemm layout") }
        guard try s.bool("zero_point", default: true) else { throw s.refuse("zero_point", "is false; AWQ's gemm layout stores zero points") }
    }

    public func isPacked(_ prefix: String, in file: any TensorFile) -> Bool { file.contains(prefix + ".qweight") }

    public func repack(_ prefix: String, in file: any TensorFile) throws -> PackedWeight {
        let q = try file.tensor(named: prefix + ".qweight")
        guard q.shape.count == 2 else { throw SlimError.malformedFile(path: file.path, detail: "'\(q.name)' is \(q.shape), not a matrix") }
        let (k, n) = (q.shape[0], q.shape[1] * 8)
        guard k % groupSize == 0 else { throw SlimError.malformedFile(path: file.path, detail: "'\(q.name)' has \(k) input rows, not whole groups of \(groupSize)") }
        let groups = k / groupSize
        let qweight = try file.int32Words(q.name, shape: [k, n / 8])
        let qzeros = try file.int32Words(prefix + ".qzeros", shape: [groups, n / 8])
        let scales = try file.floats(prefix + ".scales", shape: [groups, n])
        func nibble(_ words: [UInt32], _ row: Int, _ column: Int) -> UInt8 {
            UInt8((words[row * (n / 8) + column / 8] >> (4 * Self.nibbleOfColumn[column % 8])) & 0xF)
        }
        let zeros = (0..<n * groups).map { i in nibble(qzeros, i % groups, i / groups) }
        let symmetric = zeros.allSatisfy { $0 == 8 }
        let levels = (0..<n * k).map { i in nibble(qweight, i % k, i / k) }
        let slimScales = (0..<n * groups).map { i in scales[(i % groups) * n + i / groups] }
        let format = QuantFormat.int4(groupSize: groupSize, symmetric: symmetric)
        let encoded = try QuantCodec.encode(levels: levels, rows: n, columns: k, format: format, scales: slimScales, zeros: symmetric ? [] : zeros)
        return PackedWeight(format: format, rows: n, columns: k, encoded: encoded)
    }
}
