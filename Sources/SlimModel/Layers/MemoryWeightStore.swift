import SlimCore

/// Weights held in memory by name: what a layer-wise step builds one block
/// from (the source's floats before quantization, the packed result after).
public struct MemoryWeightStore: WeightStore {
    public var origin: String
    public var floatTensors: [String: (values: [Float], shape: [Int])] = [:]
    public var packedTensors: [String: PackedWeight] = [:]
    public var inputScales: [String: [Float]] = [:]

    public init(origin: String) { self.origin = origin }

    public func contains(_ name: String) -> Bool { floatTensors[name] != nil || packedTensors[name] != nil }

    public func shape(of name: String) throws -> [Int] {
        if let p = packedTensors[name] { return [p.rows, p.columns] }
        return try entry(name).shape
    }

    public func floats(_ name: String) throws -> [Float] {
        if let p = packedTensors[name] { return try QuantCodec.decode(p.encoded, rows: p.rows, columns: p.columns, format: p.format) }
        return try entry(name).values
    }

    public func packed(_ name: String) throws -> PackedWeight? { packedTensors[name] }
    public func inputScale(_ name: String) throws -> [Float]? { inputScales[name] }

    private func entry(_ name: String) throws -> (values: [Float], shape: [Int]) {
        guard let e = floatTensors[name] else { throw SlimError.malformedFile(path: origin, detail: "missing tensor '\(name)'") }
        return e
    }
}
