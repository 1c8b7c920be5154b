import SlimCore

/// Running a decoder from the middle: the auto search changes one block at a
/// time and measures the whole model's output, so the blocks before the
/// changed one are run once per sequence, not once per change.
extension DecoderModel {
    /// Every block's input for `ids`, run as a sequence of its own: element
    /// `i` is block `i`'s input (element 0 the embeddings), `[ids.count, hidden]`.
    public func blockInputs(_ ids: [Int32]) throws -> [Tensor] {
        guard !ids.isEmpty else { throw SlimError.invalidArgument("no tokens to run") }
        let step = try parts.step(tokens: ids.count)
        let s = try DecoderScratch(tokens: ids.count, config: config, on: backend)
        let x = try embed(ids)
        var inputs: [Tensor] = []
        for block in blocks {
            let kept = try backend.allocate(x.shape, name: "block \(block.index) input")
            try backend.copy(x, to: kept)
            inputs.append(kept)
            try block.forward(x, step: step, scratch: s)
        }
        return inputs
    }

    /// The logits `[tokens, vocab]` of every position when `input` (block
    /// `first`'s input, left unchanged) runs through `replacement` in place of
    /// block `first` (nil: the model's own), the blocks after it and the final norm.
    /// The replacement must name its tensors and order its rotary features as the model does.
    public func logits(fromBlock first: Int, input: Tensor, replacement: DecoderBlock? = nil) throws -> Tensor {
        guard blocks.indices.contains(first), replacement.map({ $0.index == first }) ?? true, input.shape.rank == 2 else {
            throw SlimError.invalidArgument("block \(first) (replacement \(replacement?.index.description ?? "none"), input \(input.shape)) is not a block of this \(blocks.count)-block model")
        }
        let n = input.shape[0]
        let step = try parts.step(tokens: n)
        let s = try DecoderScratch(tokens: n, config: config, on: backend)
        let x = try backend.allocate(input.shape, name: "from block \(first)")
        try backend.copy(input, to: x)
        for block in [replacement ?? blocks[first]] + blocks[(first + 1)...] { try block.forward(x, step: step, scratch: s) }
        try backend.rmsNorm(x, weight: outputNorm, epsilon: config.rmsEpsilon, into: s.normed)
        return try logits(s.normed, rows: 0..<n)
    }
}
