import SlimCore

extension OpenCLBackend {
    public func embedding(_ ids: Tensor, table: Tensor, into out: Tensor) throws {
        try checkEmbedding(ids, table: table, out: out, on: id)
        let width = table.shape[1], ls = min(64, tuning.elementwiseWorkGroup)
        try launch("embedding", "embedding_gather",
                   [.buffer(ids), .buffer(table), .buffer(out), .int(table.shape[0]), .int(width), .int(ids.elementCount)],
                   global: [width, ids.elementCount], local: [ls, 1])
    }
}
