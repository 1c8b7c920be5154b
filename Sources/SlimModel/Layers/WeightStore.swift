import SlimCore

/// The named weights of a model, wherever they are stored (a safetensors
/// file, a GGUF file, a test's dictionary). Shapes are outermost first, as
/// PyTorch writes them.
public protocol WeightStore {
    /// Where the weights come from, for error messages (usually a file path).
    var origin: String { get }
    func contains(_ name: String) -> Bool
    func shape(of name: String) throws -> [Int]
    /// The values as fp32, converted from the stored type.
    func floats(_ name: String) throws -> [Float]
    /// The weight in its packed form when the store keeps it compressed; nil otherwise.
    func packed(_ name: String) throws -> PackedWeight?
    /// The weight as two low-rank factors `a` `[rows, rank]` and `b` `[rank, columns]`, when stored so.
    func factors(_ name: String) throws -> (a: [Float], b: [Float], rank: Int)?
    /// Per-input multipliers for the activations (AWQ), when the weight was stored scaled.
    func inputScale(_ name: String) throws -> [Float]?
    /// Low-rank factors stored packed (low rank, then quantized): A `[rows, rank]`, B `[rank, columns]`.
    func packedFactors(_ name: String) throws -> (a: PackedWeight, b: PackedWeight)?
    /// For a packed weight whose columns were sorted into group order (an imported act-order
    /// checkpoint): the input each column reads, gathered before the product; nil when in order.
    func inputOrder(_ name: String) throws -> [Int]?
}

extension WeightStore {
    /// The values of `name`, after checking its shape is `expected` (what the config implies).
    public func floats(_ name: String, shape expected: [Int]) throws -> [Float] {
        let actual = try shape(of: name)
        guard actual == expected else {
            throw SlimError.malformedFile(path: origin, detail: "tensor '\(name)' is \(actual) but the config implies \(expected)")
        }
        return try floats(name)
    }

    /// Uploads `name` to `backend` as an fp32 tensor of the expected shape.
    /// `offset` is added to every value first (Gemma's norms store w for 1 + w).
    func upload(_ name: String, shape expected: [Int], to backend: any Backend, offset: Float = 0) throws -> Tensor {
        var values = try floats(name, shape: expected)
        if offset != 0 { values = values.map { $0 + offset } }
        return try backend.tensor(values, shape: Shape(expected), name: name)
    }
}
