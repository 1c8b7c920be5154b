import Foundation
import SlimCore
import SlimModel

/// The tensors of a Slim folder as GGUF tensors: each planned with its GGUF
/// name, shape and type, and read (packed blocks as they are, floats
/// converted) only when the writer asks for it, so one tensor at a time is in
/// memory. Every tensor of the folder must be taken by a plan, so nothing is
/// dropped without a word.
struct GGUFTensorSource {
    let file: any TensorFile
    /// Weight name (`….weight`) → format, from `quantization_config.layers`.
    let formats: [String: QuantFormat]
    private(set) var plans: [GGUFTensorPlan] = []
    private(set) var readers: [() throws -> Data] = []
    private var taken = Set<String>()

    init(folder: URL) throws {
        file = try HuggingFaceCheckpoint.open(folder: folder)
        formats = try PackedWeightStore(file: file, config: folder.appendingPathComponent("config.json")).formats
        for (name, _) in formats where file.contains(PackedNames.inputScale(name)) {
            throw SlimError.unsupported(op: "write \(name) to GGUF", backend: "model",
                                        reason: "\(file.path) keeps AWQ's run-time input scales for it (\(PackedNames.inputScale(name))), which GGUF cannot hold; a decoder compressed with --method awq straight to a .gguf output has none (its output projection is then quantized without an AWQ scale); otherwise use --method rtn or gptq")
        }
    }

    /// The formats GGUF stores, for error messages.
    static var ggufFormats: String {
        [QuantFormat.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K].filter { $0.ggmlType != nil }.map(\.description).joined(separator: ", ") + ", and float tensors (F16, F32)"
    }

    func contains(_ name: String) -> Bool { formats[name] != nil || file.contains(name) }

    /// Plans `name` (a weight or bias of the folder) as `ggufName`. Float
    /// tensors go out as F32 when `float32` (norms, biases, vectors, position
    /// tables, as llama.cpp's converter keeps them) and F16 otherwise.
    /// `rows` reorders rows (packed or not); `values` changes float values (Gemma's norms).
    mutating func add(_ name: String, as ggufName: String, float32: Bool = false,
                      rows reorder: ((Data, Int) -> Data)? = nil, values: ((Float) -> Float)? = nil) throws {
        if let format = formats[name] {
            guard let kind = format.ggufKind else {
                throw SlimError.unsupported(op: "write \(name) to GGUF", backend: "model",
                                            reason: "it is stored as \(format), which GGUF has no type for; GGUF takes \(Self.ggufFormats)")
            }
            let data = try file.tensor(named: PackedNames.data(name))
            guard data.shape.count == 2, let blockBytes = format.ggufBlockBytes, let blockWeights = format.ggufBlockWeights,
                  data.shape[1] % blockBytes == 0 else {
                throw SlimError.malformedFile(path: file.path, detail: "packed tensor '\(data.name)' is \(data.shape), not [rows, whole \(format) blocks]")
            }
            let shape = [data.shape[0], data.shape[1] / blockBytes * blockWeights]
            try take([PackedNames.data(name), PackedNames.scales(name), PackedNames.zeros(name)])
            plans.append(GGUFTensorPlan(name: ggufName, shape: shape, kind: kind))
            readers.append { [file] in
                defer { file.release(data) }
                let bytes = Data(try file.bytes(of: data))
                return reorder?(bytes, shape[0]) ?? bytes
            }
            return
        }
        let t = try file.tensor(named: name)
        guard t.kind.holdsFloats else {
            throw SlimError.unsupported(op: "write \(name) to GGUF", backend: "model", reason: "it is \(t.kind), not a float tensor or a packed weight")
        }
        try take([name])
        let kind: StoredKind = float32 || t.shape.count < 2 ? .f32 : .f16
        plans.append(GGUFTensorPlan(name: ggufName, shape: t.shape, kind: kind))
        readers.append { [file] in
            defer { file.release(t) }
            var v = try file.floats(t)
            if let values { v = v.map(values) }
            var bytes = kind == .f32 ? v.withUnsafeBytes { Data($0) } : v.map(HalfFloats.f16).withUnsafeBytes { Data($0) }
            if let reorder { bytes = reorder(bytes, t.shape.first ?? 1) }
            return bytes
        }
    }

    /// A tensor made here (llama.cpp's `rope_freqs`), F32.
    mutating func add(values: [Float], shape: [Int], as ggufName: String) {
        plans.append(GGUFTensorPlan(name: ggufName, shape: shape, kind: .f32))
        readers.append { values.withUnsafeBytes { Data($0) } }
    }

    mutating func take(_ names: [String]) throws {
        for n in names where file.contains(n) {
            guard taken.insert(n).inserted else { throw SlimError.invalidArgument("tensor '\(n)' of \(file.path) is written to GGUF twice") }
        }
    }

    /// Throws if a tensor of the folder was not planned.
    func checkAllTaken() throws {
        let left = file.tensors.map(\.name).filter { !taken.contains($0) }.sorted()
        guard left.isEmpty else {
            throw SlimError.unsupported(op: "write \(file.path) to GGUF", backend: "model",
                                        reason: "tensors with no GGUF counterpart: \(left.prefix(5).joined(separator: ", "))\(left.count > 5 ? ", … (\(left.count))" : "")")
        }
    }
}

extension QuantFormat {
    /// The ggml type a packed weight of this format is written as: the one table
    /// from Slim's formats to GGUF's (nil: GGUF has no such type, e.g. int4-gN, int8 per channel).
    /// A new block format is one line here and one in ``StoredKind``/the reader's ggml numbers.
    public var ggufKind: StoredKind? {
        switch self {
        case .q8_0: .q8_0  // ggml type 8
        case .q4_0: .q4_0  // ggml type 2
        case .q4_1: .q4_1  // ggml type 3
        case .q5_0: .q5_0  // ggml type 6
        case .q5_1: .q5_1  // ggml type 7
        case .q4_K: .q4_K  // ggml type 12
        case .q6_K: .q6_K  // ggml type 14
        case .int8PerChannel, .int4, .bf16, .f16: nil
        }
    }

    /// The ggml type number (ggml.h `enum ggml_type`).
    public var ggmlType: UInt32? { ggufKind.flatMap(GGUFTensorPlan.ggmlType(of:)) }

    /// llama.cpp's `llama_ftype` for a file mostly in this format (`general.file_type`).
    var llamaFileType: Int? {
        switch self {
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q4_K: 15  // LLAMA_FTYPE_MOSTLY_Q4_K_M: the mix q4_k_m writes (a plain q4_k file says the same, as llama-quantize's Q4_K_S would be 14)
        case .q6_K: 18
        case .int8PerChannel, .int4, .bf16, .f16: nil
        }
    }
}
