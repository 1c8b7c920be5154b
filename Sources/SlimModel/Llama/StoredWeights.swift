import Foundation
import SlimCore

/// Uploads a file's tensors in the form they are stored: GGUF blocks stay
/// blocks (the quantized GEMM runs them), floats become fp32 tensors.
struct StoredWeights {
    let file: any TensorFile
    let backend: any Backend

    func stored(_ name: String, shape expected: [Int]) throws -> StoredTensor {
        let t = try file.tensor(named: name)
        guard t.shape == expected else {
            throw SlimError.malformedFile(path: file.path, detail: "tensor '\(name)' is \(t.shape) but the config implies \(expected)")
        }
        return t
    }

    func floats(_ name: String, shape: [Int]) throws -> Tensor {
        let t = try stored(name, shape: shape)
        return try backend.tensor(try file.floats(t), shape: Shape(shape), name: name)
    }

    /// A `[out, in]` weight as a linear layer: quantized blocks as they are,
    /// float weights in fp32 (or quantized to `requantize` when given).
    func linear(_ name: String, out: Int, in inFeatures: Int, activations: ActivationPrecision,
                requantize: QuantFormat? = nil) throws -> Linear {
        let t = try stored(name, shape: [out, inFeatures])
        if let format = t.kind.quantFormat {
            let q = try backend.upload(QuantCodec.Encoded(data: Array(file.bytes(of: t))), rows: out, columns: inFeatures,
                                       format: format, name: name)
            return Linear(weights: .quantized(q, activations: activations), in: inFeatures, out: out)
        }
        let w = try backend.tensor(try file.floats(t), shape: [out, inFeatures], name: name)
        if let requantize {
            return Linear(weights: .quantized(try backend.quantize(w, format: requantize), activations: activations), in: inFeatures, out: out)
        }
        return Linear(weights: .dense(w), in: inFeatures, out: out)
    }
}
