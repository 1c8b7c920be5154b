import Foundation
import SlimCore

/// Folders written by llm-compressor / the `compressed-tensors` library
/// (`quant_method: compressed-tensors`, `quantization_status: compressed`), as
/// its `PackedQuantizationCompressor` and `IntQuantizationCompressor` lay them out:
/// - `pack-quantized`, int4 groups: `weight_packed` i32 `[N, K/8]`, weight `j` of a row
///   in bits `4(j % 8)` of word `j / 8`, stored as `q + 8` for `q ∈ [−8, 7]` (the library's
///   `pack_to_int32`); `weight_scale` `[N, K/g]` (the model's float type);
///   asymmetric: `weight_zero_point` i32 `[⌈N/8⌉, K/g]`, packed the same way along N;
///   `w = scale · (q − zp)`. Slim's int4 nibble is `q + 8` and its zero `zp + 8`: the same numbers.
/// - `pack-quantized`, 8 bits per channel (W8A16): four bytes `q + 128` to a word, `weight_scale` `[N, 1]`.
/// - `int-quantized` (W8A8): `weight` i8 `[N, K]`, `weight_scale` `[N, 1]`; the activations'
///   dynamic per-token scheme is what Slim's int8 activations compute.
/// Anything else (fp8, nvfp4/mxfp4, block strategies, sparsity, transforms,
/// static activation scales, a KV-cache scheme) is refused by its key.
public struct CompressedTensorsReader: ImportedFormatReader {
    struct Scheme: Sendable {
        let targets: [String]
        let format: String
        let bits: Int, symmetric: Bool, strategy: String, groupSize: Int?
        let key: String
    }

    let schemes: [Scheme]
    let ignore: [String]
    let path: String

    public init(_ q: [String: Any], source: URL) throws {
        let s = QuantizationSettings(values: q, source: source, prefix: "quantization_config.")
        path = source.path
        if let status = s.string("quantization_status"), status != "compressed" {
            throw s.refuse("quantization_status", "is '\(status)'; Slim reads compressed checkpoints (weights packed)")
        }
        let topFormat = s.string("format") ?? "pack-quantized"
        let readable = ["pack-quantized", "int-quantized", "naive-quantized", "mixed-precision"]
        guard readable.contains(topFormat) else {
            throw s.refuse("format", "is '\(topFormat)'; Slim reads \(readable.joined(separator: ", "))")
        }
        for key in ["sparsity_config", "transform_config", "kv_cache_scheme"] {
            if let v = q[key], !(v is NSNull), !((v as? [String: Any])?.isEmpty ?? false) {
                throw s.refuse(key, "is set; Slim reads weight (and dynamic activation) quantization only")
            }
        }
        guard let groups = q["config_groups"] as? [String: Any], !groups.isEmpty else { throw s.refuse("config_groups", "is missing or empty") }
        var schemes: [Scheme] = []
        for (name, value) in groups.sorted(by: { $0.key < $1.key }) {
            let key = "config_groups.\(name)."
            guard let group = value as? [String: Any], let targets = group["targets"] as? [String],
                  let weights = group["weights"] as? [String: Any] else {
                throw s.refuse("config_groups.\(name)", "needs targets (a list) and weights (an object)")
            }
            let w = QuantizationSettings(values: weights, source: source, prefix: s.prefix + key + "weights.")
            if let type = w.string("type"), type != "int" { throw w.refuse("type", "is '\(type)'; Slim reads int weights") }
            if try w.bool("dynamic", default: false) { throw w.refuse("dynamic", "is true; stored weights have static scales") }
            let bits = try w.int("num_bits"), symmetric = try w.bool("symmetric", default: true)
            let strategy = w.string("strategy") ?? "tensor"
            let groupSize = weights["group_size"] as? Int
            switch (bits, strategy) {
            case (4, "group"):
                guard let g = groupSize, int4GroupSizes.contains(g) else {
                    throw w.refuse("group_size", "is \(weights["group_size"] ?? "missing"); Slim's int4 groups are 32, 64 or 128")
                }
            case (8, "channel"):
                guard symmetric else { throw w.refuse("symmetric", "is false; Slim's int8 per channel is symmetric") }
            default:
                throw w.refuse(bits == 4 || bits == 8 ? "strategy" : "num_bits",
                               "is \(bits == 4 || bits == 8 ? "'\(strategy)'" : String(bits)) with num_bits \(bits); Slim reads int4 strategy group (32/64/128) and int8 strategy channel")
            }
            if let a = group["input_activations"] as? [String: Any] {
                let act = QuantizationSettings(values: a, source: source, prefix: s.prefix + key + "input_activations.")
                guard bits == 8, try act.int("num_bits") == 8, act.string("type") ?? "int" == "int", try act.bool("dynamic", default: false),
                      act.string("strategy") == "token" else {
                    throw act.refuse("dynamic", "Slim reads int8 weights with dynamic per-token int8 activations (W8A8) only")
                }
            }
            schemes.append(Scheme(targets: targets, format: group["format"] as? String ?? topFormat, bits: bits, symmetric: symmetric,
                                  strategy: strategy, groupSize: groupSize, key: s.prefix + key))
            if let f = group["format"] as? String, !readable.contains(f) { throw s.refuse("config_groups.\(name).format", "is '\(f)'") }
        }
        self.schemes = schemes
        ignore = q["ignore"] as? [String] ?? []
    }

    /// llm-compressor's rule: a target is a module class ("Linear"), a module name, or `re:` + a regex matched from the name's start.
    static func matches(_ target: String, _ name: String) -> Bool {
        if target == "Linear" || target == name { return true }
        guard target.hasPrefix("re:"), let re = try? NSRegularExpression(pattern: String(target.dropFirst(3))) else { return false }
        return re.firstMatch(in: name, options: .anchored, range: NSRange(name.startIndex..., in: name)) != nil
    }

    public func isPacked(_ prefix: String, in file: any TensorFile) -> Bool {
        file.contains(prefix + ".weight_packed") || (file.tensorsByName[prefix + ".weight"]?.kind == .i8 && file.contains(prefix + ".weight_scale"))
    }

    public func repack(_ prefix: String, in file: any TensorFile) throws -> PackedWeight {
        guard !ignore.contains(where: { Self.matches($0, prefix) && $0 != "Linear" }),
              let scheme = schemes.first(where: { $0.targets.contains { Self.matches($0, prefix) } }) else {
            throw SlimError.malformedFile(path: file.path, detail: "'\(prefix)' is stored quantized but no config group of quantization_config targets it (or it is in ignore)")
        }
        if file.contains(prefix + ".weight_g_idx") {
            throw SlimError.unsupported(op: "read '\(prefix).weight_g_idx'", backend: "model", reason: "compressed-tensors act-order (actorder: group) is not read yet")
        }
        if scheme.bits == 8, let t = file.tensorsByName[prefix + ".weight"], t.kind == .i8 {  // int-quantized
            guard t.shape.count == 2 else { throw SlimError.malformedFile(path: file.path, detail: "'\(t.name)' is \(t.shape), not a matrix") }
            let (n, k) = (t.shape[0], t.shape[1])
            let scales = try file.floats(prefix + ".weight_scale", shape: [n, 1])
            return PackedWeight(format: .int8PerChannel, rows: n, columns: k, encoded: .init(data: Array(try file.bytes(of: t)), scales: scales))
        }
        let shapeTensor = try file.tensor(named: prefix + ".weight_shape")
        let shape = try file.int64s(shapeTensor).map(Int.init)
        guard shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
            throw SlimError.malformedFile(path: file.path, detail: "'\(shapeTensor.name)' is \(shape), not a matrix's [rows, columns]")
        }
        let (n, k) = (shape[0], shape[1])
        let perWord = 32 / scheme.bits
        guard k % perWord == 0 else {
            throw SlimError.malformedFile(path: file.path, detail: "'\(prefix)' has \(k) columns, not whole words of \(perWord)")
        }
        let words = try file.int32Words(prefix + ".weight_packed", shape: [n, k / perWord])
        if scheme.bits == 8 {
            let scales = try file.floats(prefix + ".weight_scale", shape: [n, 1])
            // Byte b of a word is weight 4w + b, stored q + 128: flipping the top bit gives q's two's complement.
            let data = words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) ^ 0x80 } }
            return PackedWeight(format: .int8PerChannel, rows: n, columns: k, encoded: .init(data: data, scales: scales))
        }
        let g = scheme.groupSize!
        guard k % g == 0 else { throw SlimError.malformedFile(path: file.path, detail: "'\(prefix)' has \(k) columns, not whole groups of \(g)") }
        let groups = k / g
        let levels = words.flatMap { word in (0..<8).map { UInt8((word >> (4 * $0)) & 0xF) } }
        let scales = try file.floats(prefix + ".weight_scale", shape: [n, groups])
        var zeros: [UInt8] = []
        if !scheme.symmetric {
            let packed = try file.int32Words(prefix + ".weight_zero_point", shape: [(n + 7) / 8, groups])
            zeros = (0..<n * groups).map { i in
                let (r, gi) = (i / groups, i % groups)
                return UInt8((packed[(r / 8) * groups + gi] >> (4 * (r % 8))) & 0xF)
            }
        }
        let format = QuantFormat.int4(groupSize: g, symmetric: scheme.symmetric)
        let encoded = try QuantCodec.encode(levels: levels, rows: n, columns: k, format: format, scales: scales, zeros: zeros)
        return PackedWeight(format: format, rows: n, columns: k, encoded: encoded)
    }
}
