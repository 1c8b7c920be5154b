import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// Structured pruning: the ranking of neurons and heads against float64
/// references, the slicing's exactness, and the pruned MiniLM against the
/// unpruned one with the same units masked.
@Suite struct StructuredImportanceTests {
    /// The indices of the `keep` largest scores, ascending (float64, ties to the lower index).
    func topIndices(_ scores: [Double], keep: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(keep)).sorted()
    }

    @Test(.seeded) func keptNeuronsAreTheTopScoresOfAFloat64Reference() throws {
        let (hidden, width, tokens) = (8, 20, 30)
        var g = SplitMix64(seed: TestSeed.current)
        let wIn = g.matrix(width * hidden), wOut = g.matrix(hidden * width), x = g.matrix(tokens * width)
        // Magnitude: ‖W_in[j, :]‖ · ‖W_out[:, j]‖.
        let magnitude = (0..<width).map { j in
            (0..<hidden).reduce(0.0) { $0 + pow(Double(wIn[j * hidden + $1]), 2) }.squareRoot()
                * (0..<hidden).reduce(0.0) { $0 + pow(Double(wOut[$1 * width + j]), 2) }.squareRoot()
        }
        let kept = try StructuredImportance.kept(StructuredImportance.neurons(wIn: wIn, wOut: wOut, hidden: hidden, width: width, activationNorms: nil),
                                                 fraction: 0.25, unit: "neurons", layer: 0)
        #expect(kept == topIndices(magnitude, keep: 15), "round(0.25 · 20) = 5 neurons go, the 15 largest stay")
        // Wanda: the Frobenius norm of the neuron's contribution X_j · W_out[:, j]ᵀ, computed outright.
        let contribution = (0..<width).map { j in
            (0..<tokens).reduce(0.0) { total, t in
                total + (0..<hidden).reduce(0.0) { $0 + pow(Double(x[t * width + j]) * Double(wOut[$1 * width + j]), 2) }
            }.squareRoot()
        }
        let norms = (0..<width).map { j in (0..<tokens).reduce(0.0) { $0 + pow(Double(x[$1 * width + j]), 2) }.squareRoot() }
        let wanda = try StructuredImportance.kept(StructuredImportance.neurons(wIn: wIn, wOut: wOut, hidden: hidden, width: width, activationNorms: norms),
                                                  fraction: 0.5, unit: "neurons", layer: 0)
        #expect(wanda == topIndices(contribution, keep: 10))
    }

    @Test(.seeded) func keptHeadsAreTheTopScoresOfAFloat64Reference() throws {
        let (hidden, heads, d, tokens) = (12, 6, 4, 25)
        let width = heads * d
        var g = SplitMix64(seed: TestSeed.current)
        let q = g.matrix(width * hidden), k = g.matrix(width * hidden), v = g.matrix(width * hidden)
        let o = g.matrix(hidden * width), x = g.matrix(tokens * width)
        func norm(_ values: [Double]) -> Double { values.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        // Magnitude: the head's Q, K, V rows together times its O columns.
        let magnitude = (0..<heads).map { h in
            let rows = h * d * hidden..<(h + 1) * d * hidden
            return norm(rows.flatMap { [Double(q[$0]), Double(k[$0]), Double(v[$0])] })
                * norm((0..<hidden).flatMap { r in (h * d..<(h + 1) * d).map { Double(o[r * width + $0]) } })
        }
        let kept = try StructuredImportance.kept(StructuredImportance.heads(q: q, k: k, v: v, o: o, hidden: hidden, heads: heads, headDim: d, hessian: nil),
                                                 fraction: 0.34, unit: "heads", layer: 0)
        #expect(kept == topIndices(magnitude, keep: 4), "round(0.34 · 6) = 2 heads go")
        // Wanda: ‖X_h · W_o[:, h]ᵀ‖ computed as the product itself, against the score from H = 2XᵀX.
        let contribution = (0..<heads).map { h in
            norm((0..<tokens).flatMap { t in
                (0..<hidden).map { r in (h * d..<(h + 1) * d).reduce(0.0) { $0 + Double(x[t * width + $1]) * Double(o[r * width + $1]) } }
            })
        }
        var hessian = [Double](repeating: 0, count: width * width)
        for t in 0..<tokens { for a in 0..<width { for b in 0..<width { hessian[a * width + b] += 2 * Double(x[t * width + a]) * Double(x[t * width + b]) } } }
        let scores = StructuredImportance.heads(q: q, k: k, v: v, o: o, hidden: hidden, heads: heads, headDim: d, hessian: hessian)
        for (s, c) in zip(scores, contribution) {
            #expect(abs(s - c) <= 1e-9 * c, "the score is the head's contribution norm: \(s) vs \(c)")
        }
        let wanda = try StructuredImportance.kept(scores, fraction: 0.5, unit: "heads", layer: 0)
        #expect(wanda == topIndices(contribution, keep: 3))
    }

    @Test(.seeded) func removingANeuronWithAZeroOutputColumnChangesNothing() throws {
        let (hidden, width, tokens) = (8, 16, 5)
        var g = SplitMix64(seed: TestSeed.current)
        let wIn = g.matrix(width * hidden), bIn = g.matrix(width), x = g.matrix(tokens * hidden)
        var wOut = g.matrix(hidden * width)
        for r in 0..<hidden { wOut[r * width + 5] = 0 }
        // Magnitude scores neuron 5 zero, so it is the one of 16 that round(0.05 · 16) = 1 removes.
        let kept = try StructuredImportance.kept(StructuredImportance.neurons(wIn: wIn, wOut: wOut, hidden: hidden, width: width, activationNorms: nil),
                                                 fraction: 0.05, unit: "neurons", layer: 0)
        #expect(kept == (0..<width).filter { $0 != 5 })
        /// y = W_out · GELU(W_in x + b) in float64, summed in index order.
        func mlp(_ wIn: [Float], _ bIn: [Float], _ wOut: [Float], width n: Int) -> [Double] {
            (0..<tokens).flatMap { t -> [Double] in
                let a = (0..<n).map { j -> Double in
                    let z = (0..<hidden).reduce(Double(bIn[j])) { $0 + Double(wIn[j * hidden + $1]) * Double(x[t * hidden + $1]) }
                    return 0.5 * z * (1 + erf(z / 2.0.squareRoot()))
                }
                return (0..<hidden).map { r in (0..<n).reduce(0.0) { $0 + Double(wOut[r * n + $1]) * a[$1] } }
            }
        }
        let full = mlp(wIn, bIn, wOut, width: width)
        let sliced = mlp(MatrixSlice.rows(wIn, columns: hidden, keeping: kept), MatrixSlice.rows(bIn, columns: 1, keeping: kept),
                         MatrixSlice.columns(wOut, rows: hidden, columns: width, keeping: kept), width: kept.count)
        // Exact: the removed term was +0.0 in every sum, and the order of the others is unchanged.
        #expect(full == sliced)

        // The same through the CPU backend's GEMMs (Linear), whose blocking may differ with the width:
        // a relative 1e-6 is fp32 rounding over 16 terms.
        let cpu = CPUBackend()
        func run(_ wIn: [Float], _ bIn: [Float], _ wOut: [Float], width n: Int) throws -> [Float] {
            let up = Linear(weights: .dense(try cpu.tensor(wIn, shape: [n, hidden])), bias: try cpu.tensor(bIn, shape: [n]), in: hidden, out: n)
            let down = Linear(weights: .dense(try cpu.tensor(wOut, shape: [hidden, n])), in: n, out: hidden)
            let input = try cpu.tensor(x, shape: [tokens, hidden]), mid = try cpu.allocate([tokens, n]), y = try cpu.allocate([tokens, hidden])
            try up.apply(input, into: mid, epilogue: .gelu, on: cpu)
            try down.apply(mid, into: y, on: cpu)
            return try cpu.floats(y)
        }
        let a = try run(wIn, bIn, wOut, width: width)
        let b = try run(MatrixSlice.rows(wIn, columns: hidden, keeping: kept), MatrixSlice.rows(bIn, columns: 1, keeping: kept),
                        MatrixSlice.columns(wOut, rows: hidden, columns: width, keeping: kept), width: kept.count)
        // The scale comes from the float64 reference, not from the outputs under test (two runs that
        // both returned zeros would otherwise agree), and the full-width run must be that reference.
        let scale = full.map { abs($0) }.max()!
        #expect(a.count == full.count && b.count == full.count)
        #expect(zip(a, full).allSatisfy { abs(Double($0) - $1) <= 1e-5 * scale }, "the backend's MLP against float64")
        #expect(zip(a, b).allSatisfy { abs(Double($0 - $1)) <= 1e-6 * scale })
    }

    @Test func narrowedLayersFallBackToAGroupThatTilesThem() {
        let c = BertConfig(vocabSize: 30522, hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536,
                           maxPositions: 512, typeVocabSize: 2, layerNormEpsilon: 1e-12)
        // 9 heads of 32: K = 288 takes groups of 32, not 128 or 64.
        #expect(ModelCompressor.format(.int4(groupSize: 128, symmetric: false), forNarrowed: 288, config: c) == .int4(groupSize: 32, symmetric: false))
        #expect(ModelCompressor.format(.int4(groupSize: 128, symmetric: true), forNarrowed: 1152, config: c) == .int4(groupSize: 128, symmetric: true))
        // 1075 neurons: no block of 32 tiles them; int8 per channel does.
        #expect(ModelCompressor.format(.q4_0, forNarrowed: 1075, config: c) == .int8PerChannel)
        // An unpruned width keeps the requested format, so a group that cannot tile it stays an error.
        #expect(ModelCompressor.format(.int4(groupSize: 256, symmetric: true), forNarrowed: 384, config: c) == .int4(groupSize: 256, symmetric: true))
    }

    @Test func patternsParseAndBadOnesAreClearErrors() throws {
        #expect(try PruningPattern(parsing: "neurons:0.25") == .neurons(0.25))
        #expect(try PruningPattern(parsing: "heads:0.25") == .heads(0.25))
        #expect(try PruningPattern(parsing: "heads:0.25").isStructured && !(try PruningPattern(parsing: "2:4").isStructured))
        for bad in ["neurons:1.0", "neurons:1", "heads:0", "heads:-0.5", "neurons:", "heads:half", "rows:0.5", "neurons:0.2:3"] {
            do {
                _ = try PruningPattern(parsing: bad)
                Issue.record("'\(bad)' parsed")
            } catch let e as SlimError {
                #expect(e.description.contains(bad), "the error names the pattern: \(e)")
            }
        }
        #expect(throws: SlimError.self) { try StructuredImportance.kept([1, 2, 3, 4], fraction: 0.9, unit: "heads", layer: 2) }
    }
}

/// The pruned MiniLM against the unpruned one with the same units masked.
@Suite(.serialized) struct StructuredPruningMiniLMTests {
    /// MiniLM's weights with the removed heads' columns of `attention.output.dense` and the
    /// removed neurons' columns of `output.dense` zeroed: what those units contribute is then
    /// exactly zero, so this model computes what the pruned one should.
    struct MaskedStore: WeightStore {
        let base: PackedWeightStore
        let heads: [Int: [Int]], neurons: [Int: [Int]], headDim: Int
        var origin: String { base.origin }
        func contains(_ name: String) -> Bool { base.contains(name) }
        func shape(of name: String) throws -> [Int] { try base.shape(of: name) }
        func floats(_ name: String) throws -> [Float] {
            var w = try base.floats(name)
            let parts = name.split(separator: ".")
            guard parts.count > 3, parts[0] == "encoder", let layer = Int(parts[2]) else { return w }
            let removed: [Int]
            if name.hasSuffix("attention.output.dense.weight") {
                removed = (heads[layer] ?? []).flatMap { $0 * headDim..<($0 + 1) * headDim }
            } else if name.hasSuffix(".output.dense.weight") {
                removed = neurons[layer] ?? []
            } else { return w }
            let k = try shape(of: name)[1]
            for r in 0..<w.count / k { for c in removed { w[r * k + c] = 0 } }
            return w
        }
    }

    @Test func prunedMiniLMEqualsTheMaskedOriginalOnBothBackendsAndChainsIntoInt8() throws {
        let source = try TestAssets.miniLM
        let heads = Temporary.url("heads"), both = Temporary.url("heads-neurons"), quantized = Temporary.url("structured-int8")
        defer { for f in [heads, both, quantized] { try? FileManager.default.removeItem(at: f) } }
        // Heads first, then neurons of the result: the second step keeps the first's pruned_heads.
        let r1 = try ModelPruner(pattern: .heads(0.25), method: .magnitude).prune(source, to: heads, hashSource: false)
        let r2 = try ModelPruner(pattern: .neurons(0.25), method: .magnitude).prune(heads, to: both, hashSource: false)
        #expect(r1.layers.count == 6 * 4 && r2.layers.count == 6 * 2, "Q, K, V, O per block; then intermediate and down")
        // 12 → 9 heads and 1536 → 1152 neurons per block remove 6 · (4·384·96 + 2·384·384) weights and their biases.
        let removedParameters = 6 * (4 * 384 * 96 + 3 * 96 + 2 * 384 * 384 + 384)
        // The safetensors file shrinks by the removed fp32 values; its JSON header changes by a few hundred bytes.
        #expect(abs(r1.bytesBefore - r2.bytesAfter - 4 * removedParameters) < 20_000, "\(r1.bytesBefore) → \(r2.bytesAfter)")

        let config = try FileReading.jsonObject(at: both.appendingPathComponent("config.json"))
        let sparsity = try #require(config["sparsity_config"] as? [String: Any])
        let records = try #require(sparsity["layers"] as? [[String: Any]])
        let prunedHeads = try #require(config["pruned_heads"] as? [String: [Int]])
        #expect(config["slim_intermediate_sizes"] as? [Int] == Array(repeating: 1152, count: 6))
        var removedHeads: [Int: [Int]] = [:], removedNeurons: [Int: [Int]] = [:]
        for (layer, record) in records.enumerated() {
            let keptHeads = try #require(record["heads_kept"] as? [Int]), keptNeurons = try #require(record["neurons_kept"] as? [Int])
            #expect(keptHeads.count == 9 && keptNeurons.count == 1152)
            removedHeads[layer] = (0..<12).filter { !keptHeads.contains($0) }
            removedNeurons[layer] = (0..<1536).filter { !Set(keptNeurons).contains($0) }
            #expect(prunedHeads[String(layer)] == removedHeads[layer], "config.json keeps Hugging Face's pruned_heads")
        }

        let golden = try MiniLMGoldenTests.golden()
        let base = try PackedWeightStore(file: try SafeTensorsFile(contentsOf: source.appendingPathComponent("model.safetensors")),
                                         config: source.appendingPathComponent("config.json"))
        guard case let .bert(c) = try ModelConfig.load(source.appendingPathComponent("config.json")) else { Issue.record("MiniLM is BERT"); return }
        let store = MaskedStore(base: base, heads: removedHeads, neurons: removedNeurons, headDim: c.headDim)
        func compareWithTheMaskedOriginal(on backend: any Backend) throws {
            let pruned = try SentenceEmbedder.load(folder: both, backend: backend)
            #expect(pruned.encoder.layerWidths.allSatisfy { $0 == (9, 1152) }, "\(pruned.encoder.layerWidths)")
            let masked = SentenceEmbedder(encoder: try BertEncoder(config: c, weights: store, backend: backend),
                                          tokenizer: try WordPieceTokenizer(modelFolder: source))
            let a = try pruned.embed(golden.sentences), b = try masked.embed(golden.sentences)
            let cosines = zip(a, b).map { cosine($0.vector, $1.vector) }
            // fp32 GEMMs of different widths sum in different orders: 1e-5 of cosine is far above that noise
            // and far below what one wrongly sliced head or neuron costs.
            #expect(cosines.allSatisfy { $0 >= 0.99999 }, "\(backend.id): cosines to the masked original \(cosines)")
            // And the masking matters: the pruned model is not the original (whose golden vectors these are).
            let toOriginal = zip(a, golden.embeddings).map { cosine($0.vector, $1) }
            #expect(toOriginal.reduce(0, +) / Double(toOriginal.count) < 0.99, "pruning a quarter of everything changes the embeddings")
            print("pruned vs masked on \(backend.id): worst cosine \(cosines.min() ?? 0); vs the original: mean \(toOriginal.reduce(0, +) / Double(toOriginal.count))")
        }
        try compareWithTheMaskedOriginal(on: CPUBackend())

        // Prune, then quantize: the int8 folder keeps the narrower shapes and loads packed.
        _ = try ModelCompressor(format: .int8PerChannel).compress(both, to: quantized, hashSource: false)
        let q = try SentenceEmbedder.load(folder: quantized, backend: CPUBackend())
        #expect(q.encoder.layerWidths.allSatisfy { $0 == (9, 1152) })
        let fp32 = try SentenceEmbedder.load(folder: both, backend: CPUBackend())
        let text = [golden.sentences[0]]
        #expect(cosine(try q.embed(text)[0].vector, try fp32.embed(text)[0].vector) >= 0.99, "int8 of the pruned model stays close to it")

        // Last, as it ends the test where OpenCL is missing and not required.
        try compareWithTheMaskedOriginal(on: try TestBackends.openCL())
    }

    @Test func removingEveryHeadIsRefusedAndLeavesNothingBehind() throws {
        let out = Temporary.url("all-heads")
        defer { try? FileManager.default.removeItem(at: out) }
        // round(0.99 · 12) = 12: every head of layer 0 would go.
        do {
            _ = try ModelPruner(pattern: .heads(0.99), method: .magnitude).prune(try TestAssets.miniLM, to: out, hashSource: false)
            Issue.record("a pruning that removes every head ran")
        } catch let e as SlimError {
            #expect(e.description.contains("all of them") && e.description.contains("layer 0"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// A MiniLM folder (links to its files) with `config.json` edited.
    func folder(editing edit: (inout [String: Any]) -> Void) throws -> URL {
        let source = try TestAssets.miniLM, dir = Temporary.url("structured-config")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "config.json" {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        var config = try FileReading.jsonObject(at: source.appendingPathComponent("config.json"))
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    @Test(arguments: [
        // Pruned heads the full-width weights do not have: the first tensor that disagrees is named.
        (#"{"pruned_heads": {"0": [1, 4]}}"#, "encoder.layer.0.attention.self.query.weight"),
        (#"{"slim_intermediate_sizes": [1536, 1024, 1536, 1536, 1536, 1536]}"#, "encoder.layer.1.intermediate.dense.weight"),
        (#"{"pruned_heads": {"0": [12]}}"#, "0..<12"),
        (#"{"pruned_heads": {"7": [1]}}"#, "'7' is not a layer"),
        (#"{"pruned_heads": {"2": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}"#, "none of its 12 heads"),
        (#"{"pruned_heads": {"1": [3, 3]}}"#, "distinct"),
        (#"{"pruned_heads": [1, 2]}"#, "pruned_heads"),
        (#"{"slim_intermediate_sizes": [1536]}"#, "slim_intermediate_sizes"),
    ])
    func configThatDisagreesWithTheWeightsIsAClearError(_ edit: String, _ expected: String) throws {
        let changes = try #require(try JSONSerialization.jsonObject(with: Data(edit.utf8)) as? [String: Any])
        let dir = try TestAssets.editedMiniLM { config in for (k, v) in changes { config[k] = v } }
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try SentenceEmbedder.load(folder: dir, backend: CPUBackend())
            Issue.record("\(edit) loaded")
        } catch let e as SlimError {
            #expect(e.description.contains(expected) && e.description.contains(dir.lastPathComponent), "\(e)")
        }
    }
}
