import SlimCore

/// One trainable tensor: its value, its gradient and AdamW's two moments, all
/// fp32 on the training backend, named as Hugging Face's `BertModel` names it.
public struct Parameter: Sendable {
    public let name: String
    public let value: Tensor, grad: Tensor
    public let state: AdamWState
    /// Matrices decay; biases and layer-norm scales and shifts do not (BERT's usual grouping).
    public let decays: Bool

    init(_ name: String, values: [Float], shape: Shape, on backend: any Backend) throws {
        self.name = name
        let zeros = [Float](repeating: 0, count: shape.elementCount)
        value = try backend.tensor(values, shape: shape, name: name)
        // Gradients start at zero: the embedding gradients are scatter-added into.
        grad = try backend.tensor(zeros, shape: shape, name: name + ".grad")
        state = AdamWState(m: try backend.tensor(zeros, shape: shape, name: name + ".m"),
                           v: try backend.tensor(zeros, shape: shape, name: name + ".v"))
        decays = shape.rank == 2
    }

    public var shape: Shape { value.shape }
}

extension SeededGenerator {
    /// A standard normal sample (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
