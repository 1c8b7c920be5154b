import SlimCore

extension CPUBackend {
    public func embedding(_ ids: Tensor, table: Tensor, into out: Tensor) throws {
        try checkEmbedding(ids, table: table, out: out, on: id)
        let rows = table.shape[0], width = table.shape[1]
        let idp = ids.hostBytes.assumingMemoryBound(to: Int32.self), tp = table.hostFloats, op = out.hostFloats
        parallelChunks(ids.elementCount, grain: max(1, 16384 / max(width, 1))) { range in
            for i in range {
                let row = Int(idp[i]), dst = op + i * width
                if (0..<rows).contains(row) {
                    dst.update(from: tp + row * width, count: width)
                } else {
                    dst.update(repeating: .nan, count: width)
                }
            }
        }
    }
}
