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

/// The GPTQ variants the fixtures do not hold, built here from AutoGPTQ's definition: 8 bits per channel
/// (qweight four levels a word along K, zeros 128 less one in v1) and gptq_v2 (zeros stored as they are).
@Suite struct GPTQVariantTests {
    /// A one-layer "checkpoint" file of `tensors`.
    static func file(_ tensors: [SafeTensorsWriter.Entry]) throws -> (URL, any TensorFile) {
        let folder = try Temporary.folder("gptq-variant")
        let url = folder.appendingPathComponent("model.safetensors")
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: url)
        return (folder, try SafeTensorsFile(contentsOf: url))
    }

    static func words(_ name: String, _ w: [UInt32], _ shape: [Int]) -> SafeTensorsWriter.Entry {
        .init(name: name, kind: .i32, shape: shape, data: w.map { $0.littleEndian }.withUnsafeBytes { Data($0) })
    }

    @Test(.seeded) func eightBitPerChannelIsSlimsInt8() throws {
        let (n, k) = (8, 12)
        var rng = SplitMix64(seed: TestSeed.current)
        let q = (0..<n * k).map { _ in Int.random(in: -127...127, using: &rng) }  // q[r, c]
        let scales = (0..<n).map { _ in Float.random(in: 0.01...0.1, using: &rng) }
        // qweight [K/4, N]: level of (c, r) + 128 in byte c % 4 of word (c / 4, r).
        var qweight = [UInt32](repeating: 0, count: k / 4 * n)
        for r in 0..<n { for c in 0..<k { qweight[(c / 4) * n + r] |= UInt32(q[r * k + c] + 128) << (8 * UInt32(c % 4)) } }
        let qzeros = (0..<n / 4).map { _ in UInt32(127) * 0x0101_0101 }  // v1: 128 − 1 in every byte
        let (folder, file) = try Self.file([Self.words("l.qweight", qweight, [k / 4, n]), Self.words("l.qzeros", qzeros, [1, n / 4]),
                                             try .floats("l.scales", scales, shape: [1, n], as: .f16)])
        defer { try? FileManager.default.removeItem(at: folder) }
        let reader = try GPTQReader(["bits": 8, "group_size": -1, "sym": true, "desc_act": false], source: folder.appendingPathComponent("quantize_config.json"))
        let p = try reader.repack("l", in: file)
        #expect(p.format == .int8PerChannel && p.rows == n && p.columns == k)
        #expect(p.encoded.data.map { Int(Int8(bitPattern: $0)) } == q)
        #expect(p.encoded.scales == scales.map { Float(Float16($0)) })
    }

    @Test(.seeded) func v2StoresZerosAsTheyAre() throws {
        let (n, k, g) = (8, 32, 32)
        var rng = SplitMix64(seed: TestSeed.current)
        let u = (0..<n * k).map { _ in UInt32.random(in: 0...15, using: &rng) }
        let zeros = (0..<n).map { _ in UInt32.random(in: 0...15, using: &rng) }
        var qweight = [UInt32](repeating: 0, count: k / 8 * n)
        for r in 0..<n { for c in 0..<k { qweight[(c / 8) * n + r] |= u[r * k + c] << (4 * UInt32(c % 8)) } }
        let qzeros = [zeros.enumerated().reduce(UInt32(0)) { $0 | $1.element << (4 * UInt32($1.offset)) }]
        let scales = (0..<n).map { _ in Float.random(in: 0.01...0.1, using: &rng) }
        let (folder, file) = try Self.file([Self.words("l.qweight", qweight, [k / 8, n]), Self.words("l.qzeros", qzeros, [1, n / 8]),
                                             try .floats("l.scales", scales, shape: [1, n], as: .f16)])
        defer { try? FileManager.default.removeItem(at: folder) }
        for (format, offset) in [("gptq_v2", 0), ("gptq", 1)] {
            let reader = try GPTQReader(["bits": 4, "group_size": g, "sym": false, "checkpoint_format": format],
                                        source: folder.appendingPathComponent("quantize_config.json"))
            if offset == 1, zeros.contains(15) {
                #expect(throws: SlimError.self) { try reader.repack("l", in: file) }
                continue
            }
            let p = try reader.repack("l", in: file)
            #expect(p.format == .int4(groupSize: g, symmetric: false))
            #expect(QuantCodec.int4Levels(p.encoded, rows: n, columns: k) == u.map { UInt8($0) }, "\(format)")
            #expect(p.encoded.zeros == zeros.map { UInt8($0 + UInt32(offset)) }, "\(format)")
        }
    }
}
