import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Slim's compressed-tensors output (issue #17, "Out"): the very levels, scales and zero points of
/// Slim's own folder for the same compression, in the library's layout, read back by Slim's importer.
/// The library's and transformers' side of the check is `scripts/check_compressed_tensors.py`.
@Suite struct CompressedTensorsOutputTests {
    /// A fp32 copy of decoder fixture `name` (scales then stay fp32: the round trip is exact).
    static func fp32Copy(_ name: String, into folder: URL) throws -> URL {
        let source = try TestAssets.fixture("decoders/\(name)")
        let copy = folder.appendingPathComponent("\(name)-fp32")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let file = try HuggingFaceCheckpoint.open(folder: source)
        try SafeTensorsWriter.write(try file.tensors.map { try .floats($0.name, try file.floats($0), shape: $0.shape, as: .f32) },
                                    metadata: ["format": "pt"], to: copy.appendingPathComponent("model.safetensors"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        config["dtype"] = "float32"
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: copy.appendingPathComponent(f))
        }
        return copy
    }

    /// Slim's folder and the compressed-tensors folder of one round-to-nearest compression of `source`.
    static func both(_ source: URL, _ format: QuantFormat, activations: CompressedTensorsWriter.Activations, in folder: URL) throws -> (slim: URL, ct: URL) {
        let tied = try DecoderSource(source).config.tiedEmbeddings
        var compressor = DecoderCompressor(format: format)
        compressor.layerFormats = CompressedTensorsWriter.floatTables([:], tiedEmbeddings: tied)
        let slim = folder.appendingPathComponent("slim"), ct = folder.appendingPathComponent("ct")
        _ = try compressor.compress(source, to: slim, hashSource: false)
        _ = try CompressedTensorsWriter.write(to: ct, source: source, calibration: nil, overwrite: false, activations: activations) {
            try compressor.compress(source, to: $0, hashSource: false)
        }
        return (slim, ct)
    }

    static func logits(_ folder: URL, _ ids: [Int32], on backend: any Backend) throws -> [Float] {
        let model = try DecoderModel(folder: folder, backend: backend)
        return try backend.floats(try model.logits(try model.hiddenStates(ids), rows: 0..<ids.count))
    }

    static let cases: [(format: String, activations: CompressedTensorsWriter.Activations, ctFormat: String)] = [
        ("int4-g32", .f32, "pack-quantized"),
        ("int4-g64-asym", .f32, "pack-quantized"),  // K = 96 falls back to groups of 32: two config groups
        ("int8", .f32, "pack-quantized"),
        ("int8", .int8Dynamic, "int-quantized"),
    ]

    /// An fp32 source: Slim reads its compressed-tensors folder back as the very packed weights of its own
    /// folder (levels, scales, zeros: every byte), so both compute the same logits bit for bit.
    @Test(arguments: cases.indices)
    func roundTripReadsBackSlimsOwnWeights(index: Int) throws {
        let c = Self.cases[index]
        let folder = try Temporary.folder("ct-out")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try Self.fp32Copy("llama-linear", into: folder)
        let (slim, ct) = try Self.both(source, try QuantFormat(parsing: c.format), activations: c.activations, in: folder)
        // The folder holds what a compressed-tensors folder holds, nothing of the staging.
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: ct.path))
        #expect(files.isSuperset(of: ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model_card.json"]))
        #expect(!files.contains { $0.contains("slim-folder") || $0.hasSuffix(".lock") }, "\(files.sorted())")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: ct.appendingPathComponent("config.json"))) as! [String: Any]
        let q = try #require(config["quantization_config"] as? [String: Any])
        #expect(q["quant_method"] as? String == "compressed-tensors" && q["quantization_status"] as? String == "compressed")
        #expect(q["format"] as? String == (c.format == "int4-g64-asym" ? c.ctFormat : c.ctFormat), "\(q)")
        #expect((q["ignore"] as? [String])?.contains("lm_head") == true)
        #expect(try CheckpointQuantization.detect(folder: ct).kind == .compressedTensors)

        let a = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: slim), folder: slim)
        let b = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: ct), folder: ct)
        var packed = 0
        for i in 0..<2 {
            for name in DecoderTensorNames.huggingFace.linears(i) {
                let x = try #require(try a.packed(name)), y = try #require(try b.packed(name), "\(name) not packed in compressed-tensors")
                #expect(x.format == y.format && x.rows == y.rows && x.columns == y.columns, "\(name): \(x.format) vs \(y.format)")
                #expect(x.encoded == y.encoded, "\(name): the bytes Slim reads back differ from its own")
                packed += 1
            }
        }
        #expect(packed == 14)
        let ids: [Int32] = try JSONDecoder().decode(DecoderFamilyTests.Reference.self, from: Data(contentsOf:
            try TestAssets.fixture("decoders/llama-linear").appendingPathComponent("reference.json"))).token_ids.prefix(24).map { $0 }
        let backend = CPUBackend()
        #expect(try Self.logits(ct, ids, on: backend) == Self.logits(slim, ids, on: backend))
    }

    /// `floatType` (what the CLI passes for a GGUF source, whose config Slim calls float32): scales and float
    /// matrices in fp16, `torch_dtype` float16, norms as they were; the levels unchanged.
    @Test func floatTypeOverridesTheModelsType() throws {
        let folder = try Temporary.folder("ct-f16")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try Self.fp32Copy("llama-linear", into: folder)
        var compressor = DecoderCompressor(format: .int4(groupSize: 32, symmetric: true))
        compressor.layerFormats = CompressedTensorsWriter.floatTables([:], tiedEmbeddings: try DecoderSource(source).config.tiedEmbeddings)
        let ct = folder.appendingPathComponent("ct")
        _ = try CompressedTensorsWriter.write(to: ct, source: source, calibration: nil, overwrite: false, activations: .f32, floatType: .f16) {
            try compressor.compress(source, to: $0, hashSource: false)
        }
        let file = try HuggingFaceCheckpoint.open(folder: ct)
        for t in file.tensors where t.kind.holdsFloats {
            #expect(t.kind == (t.shape.count == 2 ? .f16 : .f32), "\(t.name) is \(t.kind)")
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: ct.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["torch_dtype"] as? String == "float16" && config["dtype"] == nil)
    }

    /// AWQ keeps a run-time input scale for the attention output, which compressed-tensors has no place for:
    /// the writer refuses it by the tensor's name; with `runtimeInputScales` off that layer is quantized
    /// without it and the folder is written (and read back packed).
    @Test(.seeded) func awqRuntimeScalesAreRefusedOrLeftOut() throws {
        let folder = try Temporary.folder("ct-awq")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try TestAssets.fixture("decoders/llama3")
        var rng = SplitMix64(seed: TestSeed.current)
        var compressor = DecoderCompressor(format: .int4(groupSize: 32, symmetric: true), method: .awq)
        compressor.calibration = ((0..<8).map { _ in TinyLlama.text(40, using: &rng) }, CPUBackend(), "random words")
        (compressor.calibrationContext, compressor.calibrationSequences) = (32, 4)
        compressor.layerFormats = CompressedTensorsWriter.floatTables([:], tiedEmbeddings: false)
        let refused = folder.appendingPathComponent("refused")
        #expect { _ = try CompressedTensorsWriter.write(to: refused, source: source, calibration: nil, overwrite: false, activations: .f32) {
            try compressor.compress(source, to: $0, hashSource: false)
        } } throws: { "\($0)".contains("o_proj.weight.input_scale") }
        #expect(!FileManager.default.fileExists(atPath: refused.path))
        compressor.runtimeInputScales = false
        let ct = folder.appendingPathComponent("ct")
        _ = try CompressedTensorsWriter.write(to: ct, source: source, calibration: nil, overwrite: false, activations: .f32) {
            try compressor.compress(source, to: $0, hashSource: false)
        }
        let store = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: ct), folder: ct)
        #expect(try store.packed("model.layers.0.self_attn.o_proj.weight") != nil)
        #expect(try HuggingFaceCheckpoint.open(folder: ct).tensors.allSatisfy { !$0.name.contains("input_scale") })
    }

    /// A bf16 source: the levels and zero points are Slim's and each scale is Slim's rounded to bf16
    /// (the model's type, as llm-compressor stores scales), to nearest even.
    @Test func bf16ScalesAreSlimsRoundedAndTheLevelsAreKept() throws {
        let folder = try Temporary.folder("ct-out-bf16")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try TestAssets.fixture("decoders/llama3")
        let (slim, ct) = try Self.both(source, .int4(groupSize: 32, symmetric: false), activations: .f32, in: folder)
        let a = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: slim), folder: slim)
        let b = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: ct), folder: ct)
        for i in 0..<3 {
            for name in DecoderTensorNames.huggingFace.linears(i) {
                let x = try #require(try a.packed(name)), y = try #require(try b.packed(name))
                #expect(x.format == y.format && x.encoded.data == y.encoded.data && x.encoded.zeros == y.encoded.zeros, "\(name)")
                #expect(x.encoded.scales.map { HalfFloats.float(bf16: HalfFloats.bf16($0)) } == y.encoded.scales, "\(name)")
            }
        }
        let types = try HuggingFaceCheckpoint.open(folder: ct).tensors.filter { $0.name.hasSuffix("weight_scale") }.map(\.kind)
        #expect(!types.isEmpty && types.allSatisfy { $0 == .bf16 })
    }
}
