// The forms of the decoder ops that models call most: each is one call of the
// general op, so a backend implements the kernel once.

extension Backend {
    /// Rotary embedding with the table `base^(−2i/rotaryDim)`, correctly
    /// rounded (``ropeFrequencies(base:rotaryDim:)``): the
    /// first `rotaryDim` features of each head of `[tokens, heads, headDim]`
    /// turn, in place.
    public func rope(_ x: Tensor, positions: Tensor, base: Float, rotaryDim: Int, style: RopeStyle) throws {
        try checkRope(x, positions: positions, rotaryDim: rotaryDim, on: id)
        let table = try tensor(ropeFrequencies(base: base, rotaryDim: rotaryDim),
                               shape: [rotaryDim / 2], name: "rope.inverseFrequencies")
        try rope(x, positions: positions, inverseFrequencies: table, style: style)
    }

    /// `out = silu(gate) · up` with `silu(g) = g / (1 + e^−g)` (Llama's gated MLP).
    public func swiglu(_ gate: Tensor, _ up: Tensor, into out: Tensor) throws {
        try gatedActivation(gate, up, .silu, into: out)
    }
}
