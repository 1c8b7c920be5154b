import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// Checkpoints quantized by other tools (issue #17, "In"): `scripts/make_quantized_checkpoint_fixtures.py`
/// wrote one tiny Llama (1 block, hidden 128, MLP 128, tied embeddings) in each format — compressed-tensors
/// by the library itself, GPTQ v1 (desc_act false and true) and AWQ GEMM packed from their definitions —
/// with the logits of a float64 forward pass over the weights the stored numbers stand for. Slim repacks
/// each linear into its own layout at load (never fp32) and must compute those logits to NMSE ≤ 1e-7, the
/// bound DESIGN.md sets for a quantized product against the float64 product of its dequantized weights:
/// fp32 accumulation leaves ~1e-12 here, while a misread nibble order, zero offset, scale transpose or
/// group permutation moves the logits by NMSE ~1e-2 or more.
@Suite struct ImportedCheckpointTests {
    static let fixtures: [(name: String, kind: CheckpointQuantization, format: String, reordered: Bool)] = [
        ("ct-int4-g128", .compressedTensors, "int4-g128", false),
        ("ct-int4-g32-asym", .compressedTensors, "int4-g32-asym", false),
        ("ct-w8a8", .compressedTensors, "int8", false),
        ("gptq-g32-asym", .gptq, "int4-g32-asym", false),
        ("gptq-g64-actorder", .gptq, "int4-g64", true),
        ("awq-g64", .awq, "int4-g64-asym", false),
    ]
    static let linears = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]

    static func folder(_ name: String) throws -> URL { try TestAssets.fixture("quantized/\(name)") }

    static func nmse(_ a: [Float], _ b: [Float]) -> Double {
        var e = 0.0, n = 0.0
        for (x, y) in zip(a, b) { e += (Double(x) - Double(y)) * (Double(x) - Double(y)); n += Double(y) * Double(y) }
        return e / n
    }

    /// The script's token ids and float64 logits (stored as f32: 1e-7 relative, far below the bound).
    static func reference(_ folder: URL) throws -> (ids: [Int32], logits: [Float]) {
        let file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("reference.safetensors"))
        let ids = try file.int64s(try file.tensor(named: "token_ids")).map { Int32($0) }
        return (ids, try file.floats(try file.tensor(named: "logits")))
    }

    @Test(arguments: fixtures.indices, ["cpu", "opencl"])
    func logitsEqualTheFloat64ProductOfTheStoredWeights(index: Int, backend name: String) throws {
        let fixture = Self.fixtures[index]
        let folder = try Self.folder(fixture.name)
        #expect(try CheckpointQuantization.detect(folder: folder).kind == fixture.kind)
        // Every linear comes back packed, in the format its numbers fit, never as floats.
        let store = try CheckpointQuantization.store(file: try HuggingFaceCheckpoint.open(folder: folder), folder: folder)
        for linear in Self.linears {
            let name = "model.layers.0.\(linear).weight"
            let packed = try #require(try store.packed(name), "\(fixture.name): \(name) is not packed")
            #expect(packed.format.description == fixture.format, "\(fixture.name): \(name) is \(packed.format)")
            #expect((try store.inputOrder(name) != nil) == fixture.reordered, "\(fixture.name): \(name) column order")
        }
        let (ids, expected) = try Self.reference(folder)
        let backend = try TestBackends.named(name)
        let model = try DecoderModel(folder: folder, backend: backend)
        let got = try backend.floats(try model.logits(try model.hiddenStates(ids), rows: 0..<ids.count))
        try #require(got.count == expected.count, "\(got.count) logits, the reference has \(expected.count)")
        let error = Self.nmse(got, expected)
        print("\(fixture.name) on \(name): NMSE \(error) against the float64 reference")
        #expect(error <= 1e-7, "\(fixture.name) on \(name): NMSE \(error)")
    }

    /// A copy of fixture `name` with its quantization settings changed by `edit`.
    static func edited(_ name: String, file: String = "config.json", _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let copy = try Temporary.folder("imported-\(name)").appendingPathComponent(name)
        try FileManager.default.copyItem(at: try folder(name), to: copy)
        let url = copy.appendingPathComponent(file)
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return copy
    }

    static func refusal(_ folder: URL) -> String {
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        do {
            _ = try DecoderModel(folder: folder, backend: TestBackends.named("cpu"))
            return "loaded"
        } catch { return "\(error)" }
    }

    /// Variants Slim cannot run are refused by the key and value that say so, never read as something else.
    @Test func unsupportedVariantsAreRefusedByTheirKey() throws {
        func weights(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { config in
                var q = config["quantization_config"] as! [String: Any]
                var groups = q["config_groups"] as! [String: Any], group = groups["group_0"] as! [String: Any]
                var w = group["weights"] as! [String: Any]
                w[key] = value
                group["weights"] = w; groups["group_0"] = group; q["config_groups"] = groups
                config["quantization_config"] = q
            }
        }
        func setting(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { config in
                var q = config["quantization_config"] as! [String: Any]
                q[key] = value
                config["quantization_config"] = q
            }
        }
        let cases: [(URL, [String])] = [
            (try Self.edited("ct-int4-g128", weights("num_bits", 3)), ["config_groups.group_0.weights.num_bits", "3"]),
            (try Self.edited("ct-int4-g128", weights("type", "float")), ["config_groups.group_0.weights.type", "float"]),
            (try Self.edited("ct-int4-g128", weights("group_size", 16)), ["config_groups.group_0.weights.group_size", "16"]),
            (try Self.edited("ct-int4-g128", setting("format", "float-quantized")), ["quantization_config.format", "float-quantized"]),
            (try Self.edited("gptq-g32-asym", setting("bits", 3)), ["quantization_config.bits", "3"]),
            (try Self.edited("gptq-g32-asym", setting("checkpoint_format", "marlin")), ["quantization_config.checkpoint_format", "marlin"]),
            (try Self.edited("gptq-g64-actorder", file: "quantize_config.json", { $0["bits"] = 2 }), ["quantize_config.json", "bits", "2"]),
            (try Self.edited("awq-g64", setting("version", "gemv")), ["quantization_config.version", "gemv"]),
            (try Self.edited("awq-g64", setting("quant_method", "hqq")), ["quantization_config.quant_method", "hqq"]),
        ]
        for (folder, words) in cases {
            let message = Self.refusal(folder)
            #expect(words.allSatisfy { message.contains($0) }, "expected \(words) in: \(message)")
        }
    }
}
