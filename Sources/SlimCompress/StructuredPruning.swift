import Foundation
import SlimCore
import SlimModel

/// Structured pruning: whole MLP neurons or attention heads are removed, so
/// the weights become smaller matrices (not zeros) and every GEMM shrinks.
///
/// A neuron `j` of a BERT MLP is row `j` of `intermediate.dense` (weight and
/// bias) and column `j` of `output.dense`; a head `h` is rows
/// `h·d..<(h+1)·d` of the query, key and value weights and biases and the same
/// columns of `attention.output.dense`. What a unit contributes to its block's
/// output is `X_u · W_out[:, u]ᵀ` (its activations times its output columns),
/// so the scores estimate the norm of that product:
///
/// - neurons, magnitude: ‖W_in[j, :]‖ · ‖W_out[:, j]‖ (the input row stands in for the activation);
/// - neurons, wanda: ‖X_j‖ · ‖W_out[:, j]‖ with X_j the neuron's post-GELU
///   activations over the calibration tokens: exactly the Frobenius norm of the
///   neuron's contribution, Wanda's |W|·‖X‖ summed over the column;
/// - heads, magnitude: ‖[W_q; W_k; W_v] rows of h‖ · ‖W_o[:, h]‖;
/// - heads, wanda: ‖X_h · W_o[:, h]ᵀ‖ = √(tr(W_o,h · X_hᵀX_h · W_o,hᵀ)), with
///   X_h the head's block of the attention context; the calibration Hessian
///   H = 2XᵀX holds X_hᵀX_h, so this is the head's exact contribution energy
///   (Wanda's per-column norms would drop the cross terms between the head's
///   dimensions).
///
/// Each layer loses `round(fraction · units)` units, the lowest scores first
/// (ties: the lower index is kept); the kept ones stay in their original order,
/// which is what Hugging Face's `prune_heads` does.
enum StructuredImportance {
    /// The indices kept (ascending) when `fraction` of `scores.count` units with the lowest scores go.
    static func kept(_ scores: [Double], fraction: Double, unit: String, layer: Int) throws -> [Int] {
        let drop = Int((Double(scores.count) * fraction).rounded())
        guard drop < scores.count else {
            throw SlimError.invalidArgument("pruning \(fraction) of the \(scores.count) \(unit) of layer \(layer) would remove all of them")
        }
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 > $1 }
        return order.dropFirst(drop).sorted()
    }

    /// Neuron scores of an MLP: `wIn` `[width, hidden]`, `wOut` `[hidden, width]`; `activationNorms` ‖X_j‖ (wanda).
    static func neurons(wIn: [Float], wOut: [Float], hidden: Int, width: Int, activationNorms: [Double]?) -> [Double] {
        var out = [Double](repeating: 0, count: width)
        for r in 0..<hidden { for j in 0..<width { out[j] += Double(wOut[r * width + j]) * Double(wOut[r * width + j]) } }
        return (0..<width).map { j in
            let input = activationNorms?[j] ?? sumOfSquares(wIn[j * hidden..<(j + 1) * hidden]).squareRoot()
            return input * out[j].squareRoot()
        }
    }

    /// Head scores of an attention block: `q`, `k`, `v` `[heads·d, hidden]`, `o` `[hidden, heads·d]`;
    /// `hessian` 2XᵀX of `o`'s input `[heads·d, heads·d]` (wanda).
    static func heads(q: [Float], k: [Float], v: [Float], o: [Float], hidden: Int, heads: Int, headDim d: Int,
                      hessian: [Double]?) -> [Double] {
        let width = heads * d
        return (0..<heads).map { h in
            let cols = h * d..<(h + 1) * d
            if let hessian {
                // Σ_r w_rᵀ (H_hh / 2) w_r over the output rows r, w_r = o[r, cols].
                var energy = 0.0
                for r in 0..<hidden {
                    let w = cols.map { Double(o[r * width + $0]) }
                    for (a, ca) in cols.enumerated() {
                        var dot = 0.0
                        for (b, cb) in cols.enumerated() { dot += hessian[ca * width + cb] * w[b] }
                        energy += w[a] * dot
                    }
                }
                return (max(energy, 0) / 2).squareRoot()
            }
            let rows = h * d * hidden..<(h + 1) * d * hidden
            let qkv = sumOfSquares(q[rows]) + sumOfSquares(k[rows]) + sumOfSquares(v[rows])
            var out = 0.0
            for r in 0..<hidden { out += sumOfSquares(o[r * width + cols.lowerBound..<r * width + cols.upperBound]) }
            return qkv.squareRoot() * out.squareRoot()
        }
    }

    static func sumOfSquares(_ x: ArraySlice<Float>) -> Double { x.reduce(0) { $0 + Double($1) * Double($1) } }
}

/// Slicing a row-major `[rows, columns]` matrix.
enum MatrixSlice {
    static func rows(_ w: [Float], columns k: Int, keeping rows: [Int]) -> [Float] {
        rows.flatMap { w[$0 * k..<($0 + 1) * k] }
    }

    static func columns(_ w: [Float], rows n: Int, columns k: Int, keeping columns: [Int]) -> [Float] {
        var out = [Float](); out.reserveCapacity(n * columns.count)
        for r in 0..<n { for c in columns { out.append(w[r * k + c]) } }
        return out
    }

    /// The rows (or columns) of every head in `heads`, `d` per head.
    static func headIndices(_ heads: [Int], headDim d: Int) -> [Int] { heads.flatMap { $0 * d..<($0 + 1) * d } }
}

extension ModelPruner {
    /// What structured pruning removes.
    enum StructuredUnit { case neurons, heads }

    /// Removes neurons or heads from every layer of `model` and writes the smaller folder.
    func pruneStructured(_ unit: StructuredUnit, fraction: Double, model: BertSource, to output: URL, start: Date,
                         hashSource: Bool, progress: ((Int, Int, String) -> Void)?) throws -> CompressionReport {
        let source = model.folder, file = model.file, c = model.config, d = c.headDim, h = c.hiddenSize
        let hessians = try calibrationHessians(source)
        func floats(_ name: String) throws -> (values: [Float], shape: [Int]) {
            guard let t = file.tensors.first(where: { $0.name == name }) else {
                throw SlimError.malformedFile(path: file.path, detail: "structured pruning needs the dense tensor '\(name)' (low-rank or packed layers cannot be sliced)")
            }
            return (try file.floats(t), t.shape)
        }
        func expect(_ name: String, _ shape: [Int], _ expected: [Int]) throws {
            guard shape == expected else {
                throw SlimError.malformedFile(path: file.path, detail: "tensor '\(name)' is \(shape) but the config implies \(expected)")
            }
        }

        var sliced = SlicedTensors(file: file)
        var layerRecords: [[String: Any]] = []
        var prunedHeads: [String: [Int]] = [:]
        var intermediateSizes: [Int] = []
        for layer in 0..<c.layers {
            progress?(layer, c.layers, "layer \(layer)")
            let p = "\(model.prefix)encoder.layer.\(layer)."
            // Heads are named by their index among the original heads, whatever earlier pruning left.
            let removedBefore = Set(c.prunedHeads[layer] ?? [])
            let present = (0..<c.heads).filter { !removedBefore.contains($0) }
            let (heads, attention) = (present.count, present.count * d)
            let wIn = try floats(p + "intermediate.dense.weight")
            let width = wIn.shape.first ?? 0
            try expect(p + "intermediate.dense.weight", wIn.shape, [width, h])
            var keptHeads = Array(0..<heads), keptNeurons = Array(0..<width)
            switch unit {
            case .neurons:
                let wOut = try floats(p + "output.dense.weight")
                try expect(p + "output.dense.weight", wOut.shape, [h, width])
                let norms = try hessians.map { all -> [Double] in
                    let hh = try Self.hessian(all, p + "output.dense.weight", width: width)
                    return (0..<width).map { (max(hh[$0 * width + $0], 0) / 2).squareRoot() }  // H = 2XᵀX: ‖X_j‖ = √(H_jj / 2)
                }
                let scores = StructuredImportance.neurons(wIn: wIn.values, wOut: wOut.values, hidden: h, width: width, activationNorms: norms)
                keptNeurons = try StructuredImportance.kept(scores, fraction: fraction, unit: "MLP neurons", layer: layer)
                let format = "neurons \(keptNeurons.count)/\(width)"
                try sliced.slice(p + "intermediate.dense.weight", rows: keptNeurons, report: true, format: format)
                try sliced.slice(p + "intermediate.dense.bias", rows: keptNeurons, report: false, format: format)
                try sliced.slice(p + "output.dense.weight", columns: keptNeurons, report: true, format: format)
            case .heads:
                let names = ["query", "key", "value"].map { p + "attention.self.\($0).weight" }
                let qkv = try names.map { name in
                    let t = try floats(name)
                    try expect(name, t.shape, [attention, h])
                    return t.values
                }
                let o = try floats(p + "attention.output.dense.weight")
                try expect(p + "attention.output.dense.weight", o.shape, [h, attention])
                let hh = try hessians.map { try Self.hessian($0, p + "attention.output.dense.weight", width: attention) }
                let scores = StructuredImportance.heads(q: qkv[0], k: qkv[1], v: qkv[2], o: o.values, hidden: h, heads: heads,
                                                        headDim: d, hessian: hh)
                keptHeads = try StructuredImportance.kept(scores, fraction: fraction, unit: "attention heads", layer: layer)
                let rows = MatrixSlice.headIndices(keptHeads, headDim: d)
                let format = "heads \(keptHeads.count)/\(heads)"
                for name in ["query", "key", "value"].map({ p + "attention.self.\($0)" }) {
                    try sliced.slice(name + ".weight", rows: rows, report: true, format: format)
                    try sliced.slice(name + ".bias", rows: rows, report: false, format: format)
                }
                try sliced.slice(p + "attention.output.dense.weight", columns: rows, report: true, format: format)
            }
            let keptOriginal = keptHeads.map { present[$0] }
            let removed = (0..<c.heads).filter { !keptOriginal.contains($0) }
            if !removed.isEmpty { prunedHeads[String(layer)] = removed }
            intermediateSizes.append(keptNeurons.count)
            layerRecords.append(["layer": layer, "heads": keptOriginal.count, "heads_kept": keptOriginal,
                                 "neurons": keptNeurons.count, "neurons_kept": keptNeurons,
                                 "heads_before": heads, "neurons_before": width])
        }
        progress?(c.layers, c.layers, "writing")
        let entries = try file.tensors.map { try sliced.entries[$0.name] ?? model.unchanged($0) }
        let parametersBefore = file.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let parametersAfter = entries.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let description: [String: Any] = [
            "pattern": pattern.description, "method": method.rawValue, "structured": true, "fraction": fraction,
            "removes": unit == .neurons ? "MLP neurons (rows of intermediate.dense, columns of output.dense)"
                : "attention heads (rows of query/key/value, columns of attention.output.dense)",
            "layers": layerRecords, "parameters_before": parametersBefore, "parameters_after": parametersAfter,
        ]
        return try CompressedFolder.write(from: source, to: output, entries: entries, configKey: "sparsity_config",
                                          configValue: description,
                                          configUpdates: ["pruned_heads": prunedHeads, "slim_intermediate_sizes": intermediateSizes],
                                          maxShardBytes: maxShardBytes) { bytesAfter in
            CompressionReport(source: source.path, sourceSHA256: model.sha256(hashSource),
                              method: "prune-\(method.rawValue)", format: pattern.description, layers: sliced.report,
                              bytesBefore: file.fileBytes, bytesAfter: bytesAfter, seconds: Date().timeIntervalSince(start),
                              calibration: method == .magnitude ? "none (magnitude needs no data)"
                                  : "\(calibration?.texts.count ?? 0) texts from \(calibration?.source ?? "?")")
        }

    }
}

/// The tensors structured pruning rewrote, and the report of each weight.
private struct SlicedTensors {
    let file: any TensorFile
    var entries: [String: SafeTensorsWriter.Entry] = [:]
    var report: [CompressionReport.Layer] = []

    /// Keeps `rows` (or, of a matrix, `columns`) of the tensor `name`. A weight's
    /// reported error is the relative norm of what was removed.
    mutating func slice(_ name: String, rows: [Int]? = nil, columns: [Int]? = nil, report reported: Bool, format: String) throws {
        let t = try file.tensor(named: name), w = try file.floats(t)
        let values: [Float], shape: [Int]
        if let rows {
            let k = t.shape.dropFirst().reduce(1, *)
            values = MatrixSlice.rows(w, columns: k, keeping: rows)
            shape = [rows.count] + t.shape.dropFirst()
        } else {
            let columns = columns ?? []
            values = MatrixSlice.columns(w, rows: t.shape[0], columns: t.shape[1], keeping: columns)
            shape = [t.shape[0], columns.count]
        }
        if reported {
            let kept = StructuredImportance.sumOfSquares(values[...]), all = StructuredImportance.sumOfSquares(w[...])
            report.append(.init(name: name, format: format, relativeError: (max(all - kept, 0) / max(all, .leastNormalMagnitude)).squareRoot()))
        }
        entries[name] = .init(name: name, kind: .f32, shape: shape, data: values.withUnsafeBytes { Data($0) })
    }
}
