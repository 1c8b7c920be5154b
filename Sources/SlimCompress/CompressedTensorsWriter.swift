import Foundation
import SlimCore
import SlimModel

/// Writes a compressed model in the compressed-tensors format (what llm-compressor
/// writes and vLLM / transformers load), from the Slim folder a compression made:
/// the same levels, scales and zero points, laid out as the `compressed-tensors`
/// library's compressors lay them out (`compressors/pack_quantized`, `naive_quantized`):
/// - int4 groups → `pack-quantized`: `weight_packed` i32 `[N, K/8]` (weight `j` in bits
///   `4(j % 8)` of word `j / 8`, stored `q + 8`: exactly Slim's nibble `u`); `weight_scale`
///   `[N, K/g]`; asymmetric: `weight_zero_point` i32 `[⌈N/8⌉, K/g]` packed along N the same way
///   (`zp + 8`: Slim's zero); `weight_shape` i64 `[N, K]`. `w = scale · (q − zp)`.
/// - int8 per channel, weight-only → `pack-quantized` with 8 bits (four bytes `q + 128` a word),
///   as the library stores W8A16; with dynamic int8 activations (W8A8) → `int-quantized`:
///   `weight` i8 `[N, K]`. `weight_scale` `[N, 1]`.
/// Scales are stored in the model's float type (`config.json` `dtype`/`torch_dtype`; fp16, with the
/// float tables, for a model made from a GGUF file), as
/// llm-compressor stores them: exact for fp32 models; for bf16/fp16 each scale is rounded to
/// that type (the levels stay the ones Slim chose). Float tensors are copied as stored.
/// Slim's formats that compressed-tensors has no layout for (GGUF blocks, AWQ's run-time input
/// scales, low-rank factors) are refused by tensor name.
public enum CompressedTensorsWriter {
    /// The activations a W8A8 model's int8 layers quantize dynamically per token (`--activations int8-dynamic`).
    public enum Activations: String, Sendable, CaseIterable {
        case f32
        case int8Dynamic = "int8-dynamic"
    }

    /// The compressed-tensors version whose layout this writes (its `version` key).
    public static let libraryVersion = "0.20.1"

    /// Runs `compress` into a Slim folder inside the staged output, converts it, and
    /// puts the compressed-tensors folder at `output` (staged and renamed as every
    /// output is: a kill at any moment leaves the old output or the new one).
    public static func write(to output: URL, source: URL, calibration: String?, overwrite: Bool, activations: Activations,
                             floatType: StoredKind? = nil, maxShardBytes: Int = CheckpointWriter.defaultMaxShardBytes,
                             compress: (URL) throws -> CompressionReport) throws -> CompressionReport {
        let claim = try CompressedFolder.claim(output, source: source, calibration: calibration, overwrite: overwrite)
        defer { claim.release() }
        return try StagedFolder.write(to: output) { staging in
            let slim = staging.appendingPathComponent("slim-folder")
            let report = try compress(slim)
            let bytes = try convert(slim, into: staging, activations: activations, floatType: floatType, maxShardBytes: maxShardBytes)
            try FileManager.default.removeItem(at: slim)
            return CompressionReport(source: report.source, sourceSHA256: report.sourceSHA256, method: report.method,
                                     format: report.format + " as compressed-tensors", layers: report.layers, bytesBefore: report.bytesBefore,
                                     bytesAfter: bytes, seconds: report.seconds, calibration: report.calibration, search: report.search,
                                     others: report.others, peakResidentBytes: report.peakResidentBytes)
        }
    }

    /// A decoder's per-layer formats with the token table and an untied lm_head kept in the source's
    /// float type (compressed-tensors quantizes Linear layers only), unless `formats` names them already.
    public static func floatTables(_ formats: [String: QuantFormat?], tiedEmbeddings: Bool) -> [String: QuantFormat?] {
        var formats = formats
        for table in ["model.embed_tokens", "lm_head"] where formats[table] == nil && formats[table + ".weight"] == nil {
            if table == "lm_head", tiedEmbeddings { continue }
            formats[table + ".weight"] = .some(nil)
        }
        return formats
    }

    /// Writes `slim`'s model into `folder` as compressed-tensors (weights, config.json, and its
    /// other files copied: tokenizer, generation config, model card). Returns the weights' bytes.
    /// `floatType`: the scales' and float matrices' type when the model's own will not do (fp16 for a
    /// model made from a GGUF file, which Slim's config calls float32); nil: the model's.
    public static func convert(_ slim: URL, into folder: URL, activations: Activations, floatType: StoredKind? = nil,
                               maxShardBytes: Int = CheckpointWriter.defaultMaxShardBytes) throws -> Int {
        let configURL = slim.appendingPathComponent("config.json")
        var config = try FileReading.jsonObject(at: configURL)
        let file = try HuggingFaceCheckpoint.open(folder: slim)
        let store = try PackedWeightStore(file: file, config: configURL)
        // `floatType` (a model made from a GGUF file, whose tables were blocks: fp16) replaces the
        // model's type: the float token table is then 2 bytes a weight, so the folder is not larger than its source.
        let scaleKind = floatType ?? scaleKind(config)
        if let floatType {
            config.removeValue(forKey: "dtype")
            config["torch_dtype"] = floatType == .bf16 ? "bfloat16" : floatType == .f16 ? "float16" : "float32"
        }
        // Each layer's scheme (its format and activations), for the config groups.
        var schemes: [String: [String]] = [:]
        var floatLinears: [String] = []
        let writer = try CheckpointWriter(folder: folder, maxShardBytes: maxShardBytes, metadata: ["slim": "compressed-tensors"])
        for t in file.tensors {
            let name = t.name
            if name.hasSuffix(".scales") || name.hasSuffix(".zeros") { continue }  // written with their .qdata
            if name.hasSuffix(".input_scale") || name.hasSuffix(".lowrank_a") || name.hasSuffix(".lowrank_b") {
                throw SlimError.unsupported(op: "write '\(name)' as compressed-tensors", backend: "compressed-tensors",
                                            reason: name.hasSuffix(".input_scale")
                                                ? "AWQ's run-time input scale of a layer has no place in the format (use --method gptq or rtn, or keep that layer float with --layer)"
                                                : "low-rank factors have no layout in the format")
            }
            if name.hasSuffix(".qdata") {
                let weight = String(name.dropLast(".qdata".count))
                guard let p = try store.packed(weight), weight.hasSuffix(".weight") else {
                    throw SlimError.malformedFile(path: file.path, detail: "'\(name)' is packed data of no layer quantization_config lists")
                }
                let prefix = String(weight.dropLast(".weight".count))
                let (entries, scheme) = try layer(prefix, p, scaleKind: scaleKind, activations: activations)
                for e in entries { try writer.append(e) }
                schemes[scheme, default: []].append(prefix)
                continue
            }
            if t.shape.count == 2, name.hasSuffix(".weight"), !name.contains("embed") { floatLinears.append(String(name.dropLast(".weight".count))) }
            if let floatType, t.kind == .f32, floatType != .f32, t.shape.count == 2 {
                let values = try file.floats(t)
                if floatType == .f16, let big = values.firstIndex(where: { abs($0) > Float(Float16.greatestFiniteMagnitude) }) {
                    throw SlimError.invalidArgument("'\(name)' element \(big) (\(values[big])) does not fit fp16")
                }
                try writer.append(try .floats(name, values, shape: t.shape, as: floatType))
                continue
            }
            try writer.append(SafeTensorsWriter.Entry(name: name, kind: t.kind, shape: t.shape, data: Data(try file.bytes(of: t))))
        }
        let written = try writer.finish()
        let slimQuantization = config.removeValue(forKey: "quantization_config")
        config["slim_compression"] = slimQuantization
        config["quantization_config"] = try quantizationConfig(schemes, floatLinears: floatLinears, activations: activations)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: folder.appendingPathComponent("config.json"))
        // Everything else in Slim's folder: the tokenizer and generation files, the model card.
        for name in try FileManager.default.contentsOfDirectory(atPath: slim.path)
        where name != "config.json" && !HuggingFaceCheckpoint.isWeightFile(name) {
            try FileManager.default.copyItem(at: slim.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        return written.fileBytes
    }

    /// The float type of the model's scales: its config's `dtype` (transformers 5) or `torch_dtype`.
    static func scaleKind(_ config: [String: Any]) -> StoredKind {
        switch (config["dtype"] ?? config["torch_dtype"]) as? String {
        case "bfloat16": .bf16
        case "float16": .f16
        default: .f32
        }
    }

    /// One layer's tensors, and its scheme's key (a JSON description of its weights and activations).
    static func layer(_ prefix: String, _ p: PackedWeight, scaleKind: StoredKind, activations: Activations) throws
        -> (entries: [SafeTensorsWriter.Entry], scheme: String) {
        let (n, k) = (p.rows, p.columns)
        switch p.format {
        case let .int4(g, symmetric):
            let levels = QuantCodec.int4Levels(p.encoded, rows: n, columns: k)
            var entries = [
                int32Entry(prefix + ".weight_packed", packRows(levels.map(UInt32.init), rows: n, columns: k, bits: 4), rows: n),
                try .floats(prefix + ".weight_scale", p.encoded.scales, shape: [n, k / g], as: scaleKind),
            ]
            if !symmetric {
                // Packed along N: transpose [N, G] to [G, N], pack each row of N, transpose back to [⌈N/8⌉, G].
                let groups = k / g
                let transposed = (0..<groups * n).map { i in UInt32(p.encoded.zeros[(i % n) * groups + i / n]) }
                let packed = packRows(transposed, rows: groups, columns: n, bits: 4), words = (n + 7) / 8
                entries.append(int32Entry(prefix + ".weight_zero_point", (0..<words * groups).map { i in packed[(i % groups) * words + i / groups] }, rows: words))
            }
            entries.append(shapeEntry(prefix, n, k))
            return (entries, scheme(bits: 4, symmetric: symmetric, strategy: "group", groupSize: g, activations: .f32))
        case .int8PerChannel:
            let scales = try SafeTensorsWriter.Entry.floats(prefix + ".weight_scale", p.encoded.scales, shape: [n, 1], as: scaleKind)
            let key = scheme(bits: 8, symmetric: true, strategy: "channel", groupSize: nil, activations: activations)
            if activations == .int8Dynamic {
                return ([.init(name: prefix + ".weight", kind: .i8, shape: [n, k], data: Data(p.encoded.data)), scales], key)
            }
            // q + 128: the two's complement byte with its top bit flipped.
            let offset = p.encoded.data.map { UInt32($0 ^ 0x80) }
            return ([int32Entry(prefix + ".weight_packed", packRows(offset, rows: n, columns: k, bits: 8), rows: n), scales, shapeEntry(prefix, n, k)], key)
        default:
            throw SlimError.unsupported(op: "write '\(prefix).weight' (\(p.format)) as compressed-tensors", backend: "compressed-tensors",
                                        reason: "the format stores int4 groups and int8 channels; choose --quant int4-g32/64/128[-asym] or int8 (or keep the layer float)")
        }
    }

    /// `pack_to_int32` along each row: value `j` (already offset, `< 2^bits`) at bit `bits·j` of the row's
    /// bit string, 32 bits a word, the last word padded with zeros.
    static func packRows(_ values: [UInt32], rows: Int, columns: Int, bits: Int) -> [UInt32] {
        let perWord = 32 / bits, words = (columns + perWord - 1) / perWord
        var out = [UInt32](repeating: 0, count: rows * words)
        for r in 0..<rows {
            for j in 0..<columns { out[r * words + j / perWord] |= values[r * columns + j] << UInt32(bits * (j % perWord)) }
        }
        return out
    }

    static func int32Entry(_ name: String, _ words: [UInt32], rows: Int) -> SafeTensorsWriter.Entry {
        .init(name: name, kind: .i32, shape: [rows, words.count / max(rows, 1)], data: words.map { $0.littleEndian }.withUnsafeBytes { Data($0) })
    }

    static func shapeEntry(_ prefix: String, _ n: Int, _ k: Int) -> SafeTensorsWriter.Entry {
        .init(name: prefix + ".weight_shape", kind: .i64, shape: [2], data: [Int64(n), Int64(k)].map { $0.littleEndian }.withUnsafeBytes { Data($0) })
    }

    /// A scheme's `weights` / `input_activations`, as compressed-tensors' QuantizationArgs dumps them, keyed by its JSON.
    static func scheme(bits: Int, symmetric: Bool, strategy: String, groupSize: Int?, activations: Activations) -> String {
        var weights: [String: Any] = ["num_bits": bits, "type": "int", "symmetric": symmetric, "strategy": strategy,
                                      "group_size": groupSize ?? NSNull(), "dynamic": false, "actorder": NSNull(), "block_structure": NSNull(),
                                      "observer": "minmax", "observer_kwargs": [String: Any]()]
        if groupSize == nil { weights["group_size"] = NSNull() }
        var scheme: [String: Any] = ["weights": weights, "input_activations": NSNull(), "output_activations": NSNull(),
                                     "format": bits == 8 && activations == .int8Dynamic ? "int-quantized" : "pack-quantized"]
        if activations == .int8Dynamic {
            scheme["input_activations"] = ["num_bits": 8, "type": "int", "symmetric": true, "strategy": "token", "group_size": NSNull(),
                                           "dynamic": true, "actorder": NSNull(), "block_structure": NSNull(), "observer": NSNull(),
                                           "observer_kwargs": [String: Any]()] as [String: Any]
        }
        let data = (try? JSONSerialization.data(withJSONObject: scheme, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `quantization_config`: one config group per scheme (targets `Linear` when there is one; else the layers' names).
    static func quantizationConfig(_ schemes: [String: [String]], floatLinears: [String], activations: Activations) throws -> [String: Any] {
        guard !schemes.isEmpty else { throw SlimError.invalidArgument("no layer is quantized: nothing to write as compressed-tensors") }
        var groups: [String: Any] = [:]
        var formats = Set<String>()
        for (i, key) in schemes.keys.sorted().enumerated() {
            var group = try JSONSerialization.jsonObject(with: Data(key.utf8)) as! [String: Any]
            group["targets"] = schemes.count == 1 ? ["Linear"] : schemes[key]!
            formats.insert(group["format"] as! String)
            groups["group_\(i)"] = group
        }
        return ["quant_method": "compressed-tensors", "format": formats.count == 1 ? formats.first! : "mixed-precision",
                "config_groups": groups, "ignore": ["lm_head"] + floatLinears.filter { $0 != "lm_head" }.sorted(),
                "quantization_status": "compressed", "kv_cache_scheme": NSNull(), "global_compression_ratio": NSNull(),
                "sparsity_config": [String: Any](), "transform_config": [String: Any](), "version": libraryVersion]
    }
}
