import SlimCore

/// Act-order checkpoints (GPTQ's `desc_act`, compressed-tensors' `actorder: group`)
/// quantize columns in a permuted order and record each input column's group
/// in `g_idx`, so a group's columns are scattered along K. Slim's int4 groups
/// are runs of K: the columns are sorted into group order (stably) and the
/// Linear gathers its input in the same order, which computes the same product.
enum GroupOrder {
    /// nil when `gIdx` is already `k / groupSize` (nothing to permute); else the
    /// input column each sorted column reads. Every group must hold `groupSize` columns.
    static func sortedColumns(_ gIdx: [Int64], groupSize g: Int, tensor: String, path: String) throws -> [Int]? {
        let k = gIdx.count
        if gIdx.enumerated().allSatisfy({ $0.element == Int64($0.offset / g) }) { return nil }
        var counts = [Int](repeating: 0, count: k / g)
        for (column, group) in gIdx.enumerated() {
            guard group >= 0, Int(group) < counts.count else {
                throw SlimError.malformedFile(path: path, detail: "'\(tensor)' gives column \(column) the group \(group), outside 0..<\(counts.count)")
            }
            counts[Int(group)] += 1
        }
        if let bad = counts.firstIndex(where: { $0 != g }) {
            throw SlimError.malformedFile(path: path, detail: "'\(tensor)' puts \(counts[bad]) columns in group \(bad), not \(g): Slim's int4 groups hold \(g) columns each")
        }
        return (0..<k).sorted { (gIdx[$0], $0) < (gIdx[$1], $1) }
    }
}
