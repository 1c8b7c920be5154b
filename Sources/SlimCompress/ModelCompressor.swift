import Foundation
import SlimCore
import SlimModel

/// What one compression run did, for the model card.
public struct CompressionReport: Sendable {
    public struct Layer: Sendable {
        public let name: String
        public let format: String
        /// ‖W − Ŵ‖ / ‖W‖ over the layer.
        public let relativeError: Double
    }
    public let source: String
    public let sourceSHA256: String
    public let method: String
    public let format: String
    public let layers: [Layer]
    public let bytesBefore: Int
    public let bytesAfter: Int
    public let seconds: Double
    /// What the method was calibrated on ("none" for round-to-nearest).
    public let calibration: String
    /// `--method auto`: what the search measured and chose.
    public var search: AutoSearch? = nil
    /// What became of the tensors other than the linear layers, for the card; nil: BERT's (int8 word
    /// embeddings, everything else fp32).
    public var others: String? = nil
    /// The process's peak resident memory when the report was made (the end of the run).
    public var peakResidentBytes = ProcessMemory.peakResidentBytes()
}

/// Compresses a sentence-transformers BERT folder into a folder Slim loads
/// directly: packed weights in `model.safetensors`, `config.json` with a
/// `quantization_config`, the other files copied, and a model card.
public struct ModelCompressor {
    public enum Method: String, Sendable, CaseIterable { case rtn, gptq, awq }

    public let format: QuantFormat
    public let method: Method
    /// Calibration texts (GPTQ) and the backend that runs the original model over them.
    public var calibration: (texts: [String], backend: any Backend, source: String)?
    /// The largest weights file written (transformers' `max_shard_size`): more weights go to several shards and an index.
    public var maxShardBytes = CheckpointWriter.defaultMaxShardBytes

    /// Per-layer exceptions, by weight name: another format, or nil to keep the layer in fp32.
    public var layerFormats: [String: QuantFormat?] = [:]
    /// The word and position tables' format: int8 per row, or Q8_0 for a file that has no int8 per row (GGUF).
    public var tableFormat = QuantFormat.int8PerChannel
    /// Layers stored as fp32 truncated-SVD factors of this rank instead (the auto search's choice).
    var lowRank: [String: Int] = [:]
    /// Input statistics already computed over `calibration` (the auto search has them); nil: computed here.
    var hessians: [String: [Double]]?
    /// The auto search behind `layerFormats`, recorded in `quantization_config.auto` and the card.
    var search: AutoSearch?

    public init(format: QuantFormat, method: Method = .rtn) {
        self.format = format
        self.method = method
    }

    /// Writes the compressed folder to `output` (refused if it exists, unless
    /// `overwrite`): everything goes to a temporary folder beside it first,
    /// renamed into place only when complete. The source is only read.
    public func compress(_ source: URL, to output: URL, overwrite: Bool = false, hashSource: Bool = true,
                         progress: ((Int, Int, String) -> Void)? = nil) throws -> CompressionReport {
        let start = Date()
        let claim = try CompressedFolder.claim(output, source: source, calibration: calibration?.source, overwrite: overwrite)
        defer { claim.release() }
        let model = try BertSource(source, step: "compress"), file = model.file
        let linears = model.linears, tables = model.tables
        let overrides = try LayerFormats.resolve(layerFormats, among: linears.union(tables).union([model.pooler]))
        let total = file.tensors.count
        var hessians: [String: [Double]] = [:]
        if method != .rtn {
            guard let calibration else { throw SlimError.invalidArgument("\(method.rawValue) needs calibration texts") }
            if let given = self.hessians { hessians = given } else {
                hessians = try Calibration.hessians(try SentenceEmbedder.load(folder: source, backend: calibration.backend),
                                                    texts: calibration.texts)
            }
        }
        // AWQ scales of each attention output projection fold into the value
        // projection before it (attention is linear in V), so those layers need
        // no run-time input scale; the other inputs come from a layer norm that
        // also feeds a residual, or from GELU, and keep theirs.
        var folded: [String: AWQ.Result] = [:], valueRowScales: [String: [Float]] = [:]
        if method == .awq {
            for i in 0..<model.config.layers {
                let p = "\(model.prefix)encoder.layer.\(i).attention."
                let o = p + "output.dense.weight"
                guard let h = hessians[o], let t = file.tensors.first(where: { $0.name == o }), t.shape.count == 2,
                      let requested = overrides[o] ?? format else { continue }
                let target = Self.format(requested, forNarrowed: t.shape[1], config: model.config)
                folded[o] = try AWQ(format: target).quantize(try file.floats(t), rows: t.shape[0], columns: t.shape[1], hessian: h, name: o)
                valueRowScales[p + "self.value"] = folded[o]!.inputScale
            }
        }

        var entries: [SafeTensorsWriter.Entry] = []
        var layers: [CompressionReport.Layer] = []
        var packedFormats: [String: String] = [:]
        for (index, t) in file.tensors.enumerated() {
            progress?(index, total, t.name)
            // A low-rank source's factors are quantized like the layer they stand for (low rank, then quantize).
            let layer = [PackedNames.factorA(""), PackedNames.factorB("")].compactMap { suffix in
                t.name.hasSuffix(suffix) ? String(t.name.dropLast(suffix.count)) : nil
            }.first { linears.contains($0) } ?? t.name
            if let rank = lowRank[t.name], t.shape.count == 2 {
                let w = try file.floats(t), f = try LowRankFactors(w, rows: t.shape[0], columns: t.shape[1], rank: rank)
                layers.append(.init(name: t.name, format: "rank \(f.rank)", relativeError: relativeError(w, f.product)))
                entries += ModelLowRank.entries(t.name, f)
                continue
            }
            let requested: QuantFormat? = overrides[layer] ?? (linears.contains(layer) || t.name == model.pooler ? format
                : tables.contains(t.name) ? tableFormat : nil)
            let owner = [".weight", ".bias"].first { t.name.hasSuffix($0) }.map { String(t.name.dropLast($0.count)) } ?? t.name
            let valueFold = valueRowScales[owner]
            guard let requested, t.shape.count == 2 else {
                if let valueFold, t.name.hasSuffix(".bias") {
                    // The folded value bias: b_j / s_j.
                    let b = try file.floats(t).enumerated().map { $0.element * valueFold[$0.offset] }
                    entries.append(.init(name: t.name, kind: .f32, shape: t.shape, data: b.withUnsafeBytes { Data($0) }))
                } else {
                    entries.append(try model.unchanged(t))
                }
                continue
            }
            let (rows, columns) = (t.shape[0], t.shape[1])
            let target = Self.format(requested, forNarrowed: columns, config: model.config)
            do { try target.validate(rows: rows, columns: columns, name: t.name) } catch {
                throw SlimError.invalidArgument("\(t.name) [\(rows), \(columns)] cannot be stored as \(target): \(error)")
            }
            var w = try file.floats(t)
            if let valueFold {
                // The folded value weight: row j divided by s_j.
                w = w.indices.map { w[$0] * valueFold[$0 / columns] }
            }
            var encoded: QuantCodec.Encoded
            var inputScale: [Float]?
            let h = linears.contains(t.name) ? hessians[Calibration.sharedInput(t.name)] : nil
            switch (method, h) {
            case (.awq, _) where folded[t.name] != nil:
                encoded = folded[t.name]!.encoded
                // Folded into V: the stored weight is Ŵ' = W·diag(s), and its input arrives already divided by s.
                var restored = try QuantCodec.decode(encoded, rows: rows, columns: columns, format: target)
                restored = restored.indices.map { restored[$0] * folded[t.name]!.inputScale[$0 % columns] }
                layers.append(.init(name: t.name, format: target.description, relativeError: relativeError(w, restored)))
                packedFormats[t.name] = target.description
                entries += PackedEntries.make(t.name, encoded, rows: rows)
                continue
            case let (.gptq, h?):
                encoded = try GPTQ(format: target).quantize(w, rows: rows, columns: columns, hessian: h, name: t.name)
            case let (.awq, h?):
                let r = try AWQ(format: target).quantize(w, rows: rows, columns: columns, hessian: h, name: t.name)
                (encoded, inputScale) = (r.encoded, r.inputScale)
            default:
                encoded = try QuantCodec.encode(w, rows: rows, columns: columns, format: target, name: t.name)
            }
            var restored = try QuantCodec.decode(encoded, rows: rows, columns: columns, format: target)
            if let inputScale {
                // The layer computes (x ∘ 1/s)·Ŵ'ᵀ: its effective weight is Ŵ' ∘ 1/s.
                restored = restored.indices.map { restored[$0] * inputScale[$0 % columns] }
                entries.append(.init(name: PackedNames.inputScale(t.name), kind: .f32, shape: [columns],
                                     data: inputScale.withUnsafeBytes { Data($0) }))
            }
            layers.append(.init(name: t.name, format: target.description, relativeError: relativeError(w, restored)))
            packedFormats[t.name] = target.description
            entries += PackedEntries.make(t.name, encoded, rows: rows)
        }
        progress?(total, total, "writing")

        var config: [String: Any] = ["quant_method": "slim", "method": search == nil ? method.rawValue : "auto",
                                     "format": search == nil ? format.description : "mixed", "layers": packedFormats]
        config["auto"] = search?.json
        return try CompressedFolder.write(from: source, to: output, entries: entries, configKey: "quantization_config",
                                          configValue: config, maxShardBytes: maxShardBytes) { bytesAfter in
            CompressionReport(
                source: source.path, sourceSHA256: model.sha256(hashSource), method: search == nil ? method.rawValue : "auto (\(method.rawValue))",
                format: search == nil ? format.description : "mixed per layer under \(search!.budgetBytes) bytes", layers: layers,
                bytesBefore: file.fileBytes, bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start) + (search?.seconds ?? 0),
                calibration: method == .rtn ? "none (round-to-nearest needs no data)"
                    : "\(calibration?.texts.count ?? 0) texts from \(calibration?.source ?? "?"), run one at a time on \(calibration?.backend.id.description ?? "?")",
                search: search)
        }
    }
}

extension ModelCompressor {
    /// The format of a layer whose input width structured pruning narrowed
    /// (`K` is neither the hidden size nor the config's MLP width): when `format`'s
    /// groups no longer tile `K` (9 heads of 32 give K = 288, which groups of
    /// 128 do not), the largest int4 group of 128, 64 or 32 that does, else
    /// int8 per channel. The layer's own format is recorded in
    /// `quantization_config.layers`. An unpruned layer keeps `format` and an
    /// untileable one stays an error.
    static func format(_ format: QuantFormat, forNarrowed columns: Int, config c: BertConfig) -> QuantFormat {
        guard columns != c.hiddenSize, columns != c.intermediateSize else { return format }
        return format.fitting(columns: columns)
    }
}

extension QuantFormat {
    /// This format when its groups tile `columns`; else the largest int4 group
    /// of 128, 64 or 32 below it that does, else int8 per channel.
    func fitting(columns: Int) -> QuantFormat {
        guard let g = blockSize, columns % g != 0 else { return self }
        // K-quants as llama.cpp's llama-quant.cpp (`tensor_type_fallback`) falls back
        // where K is not whole super-blocks (SmolLM2's 576): Q6_K to Q8_0, Q4_K to Q5_0.
        if self == .q6_K { return .q8_0 }
        if self == .q4_K { return columns % 32 == 0 ? .q5_0 : .int8PerChannel }
        if case let .int4(_, symmetric) = self, let fit = [128, 64, 32].first(where: { $0 < g && columns % $0 == 0 }) {
            return .int4(groupSize: fit, symmetric: symmetric)
        }
        return .int8PerChannel
    }
}

/// ‖W − Ŵ‖ / ‖W‖.
func relativeError(_ w: [Float], _ r: [Float]) -> Double {
    var err = 0.0, norm = 0.0
    for (a, b) in zip(w, r) { err += Double(a - b) * Double(a - b); norm += Double(a) * Double(a) }
    return (err / max(norm, .leastNormalMagnitude)).squareRoot()
}
