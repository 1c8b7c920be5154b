import SlimCore

/// The weights of a plain tensor file (a GGUF file, an uncompressed
/// safetensors file): GGUF blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K) come back packed, as
/// the quantized GEMM runs them; float tensors as fp32.
public struct TensorFileWeightStore: WeightStore {
    public let file: any TensorFile
    public init(file: any TensorFile) { self.file = file }

    public var origin: String { file.path }
    public func contains(_ name: String) -> Bool { file.contains(name) }
    public func shape(of name: String) throws -> [Int] { try file.tensor(named: name).shape }
    public func floats(_ name: String) throws -> [Float] { try file.floats(try file.tensor(named: name)) }

    public func packed(_ name: String) throws -> PackedWeight? {
        let t = try file.tensor(named: name)
        guard let format = t.kind.quantFormat else { return nil }
        guard t.shape.count == 2 else {
            throw SlimError.malformedFile(path: file.path, detail: "quantized tensor '\(name)' is \(t.shape), not a matrix")
        }
        let data = Array(try file.bytes(of: t))
        // Blocks run packed, never decoded to floats: their fp16 scales are what could be non-finite.
        if let block = QuantCodec.firstNonFiniteBlock(data, format: format) {
            try NonFiniteWeights.refuse(tensor: name, origin: file.path, finding: "a non-finite fp16 scale in block \(block)")
        }
        return PackedWeight(format: format, rows: t.shape[0], columns: t.shape[1], encoded: QuantCodec.Encoded(data: data))
    }
}
