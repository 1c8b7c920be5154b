import Foundation
import SlimCore
import SlimModel
import SlimParallel

extension DecoderCompressor {
    /// The state of one compression as it moves down the blocks: the
    /// calibration activations at the current block's input, and what has
    /// been written so far.
    struct Run {
        let compressor: DecoderCompressor
        let source: DecoderSource
        let overrides: [String: QuantFormat?]
        /// Calibration only: the parts that run around the blocks, and each sequence's activations at the next block's input.
        let parts: DecoderParts?
        var inputs: [Tensor] = []
        var calibrationUsed = (sequences: 0, tokens: 0)

        /// Where tensors go as they are made (the output's shard writer).
        var writer: CheckpointWriter?
        /// A rank other than 0: tensors are made (the next block needs them) but not written.
        var discardsOutput = false
        var layers: [CompressionReport.Layer] = []
        var packedFormats: [String: String] = [:]

        var config: DecoderConfig { source.config }

        init(compressor: DecoderCompressor, source: DecoderSource, overrides: [String: QuantFormat?]) throws {
            (self.compressor, self.source, self.overrides) = (compressor, source, overrides)
            guard compressor.method != .rtn, compressor.hessians == nil else { parts = nil; return }
            guard let calibration = compressor.calibration else {
                throw SlimError.invalidArgument("\(compressor.method.rawValue) needs calibration texts")
            }
            let parts = try DecoderParts(source, on: calibration.backend)
            self.parts = parts
            let sequences = try DecoderCompressor.sequences(of: calibration.texts, tokenizer: source.tokenizer,
                                                            length: min(compressor.calibrationContext, config.contextLength),
                                                            count: compressor.calibrationSequences)
            let ranks = compressor.collective
            guard sequences.count >= ranks.size else {
                throw SlimError.invalidArgument("\(sequences.count) calibration sequences for \(ranks.size) ranks: each rank needs at least one (more text, or fewer ranks)")
            }
            // This rank's share, in order: the exact Hessian sums make the split invisible in the result.
            for ids in sequences[ranks.share(of: sequences.count)] { inputs.append(try parts.embed(ids)) }
            calibrationUsed = (sequences.count, sequences.reduce(0) { $0 + $1.count })
        }

        /// Calibrates, quantizes and writes block `i`, and moves the activations past it.
        mutating func block(_ i: Int) throws {
            var weights = try DecoderBlockWeights(source, block: i)
            var hessians = try Hessians(run: &self, weights: weights)
            var quantized = weights.store()
            if compressor.method == .awq { quantized.inputScales = try awqFold(&weights, &hessians) }
            quantized.floatTensors = weights.store().floatTensors
            try quantize(weights, &hessians, into: &quantized, block: i)
            try agreeAcrossRanks(on: quantized, block: i)
            try write(block: weights, quantized)
            if let parts, compressor.sequential, i + 1 < config.layers {
                try forward(try DecoderBlock(index: i, config: config, store: quantized, names: .huggingFace, on: parts.backend), on: parts)
            }
        }

        /// Quantizes the block's linears into `quantized`, each group of linears sharing an input
        /// (``LinearShares``) on one rank, then gathers them: every rank ends with the whole block.
        private mutating func quantize(_ weights: DecoderBlockWeights, _ hessians: inout Hessians,
                                       into quantized: inout MemoryWeightStore, block i: Int) throws {
            let ranks = compressor.collective
            var targets: [Part: QuantFormat] = [:], shapes: [Part: (rows: Int, columns: Int)] = [:]
            for part in Part.linears {
                let name = weights.name(part), shape = try weights.shape(part)
                shapes[part] = shape
                if let override = overrides[name], override == nil { continue }  // stays float
                targets[part] = try compressor.layerFormat(overrides[name].flatMap { $0 } ?? compressor.format,
                                                           rows: shape.rows, columns: shape.columns, name: name)
            }
            let groups = LinearShares.groups
            let owners = LinearShares.owners(costs: groups.map { g in
                LinearShares.cost(shapes: g.members.filter { targets[$0] != nil }.map { shapes[$0]! },
                                  hessian: compressor.method == .gptq && hessians.has(g.shared))
            }, ranks: ranks.size)
            var mine: [LinearShares.Message] = []
            for (g, group) in groups.enumerated() {
                let owned = owners[g] == ranks.rank
                // One factorisation of H⁻¹ serves every layer reading the same input; H leaves memory once factored.
                // Every rank takes the group's Hessian (its sum over ranks is collective); its owner alone factors it.
                var factor: GPTQ.Factor?, taken = false
                for part in group.members {
                    let name = weights.name(part)
                    if targets[part] == nil {
                        let l = try weights.linear(part)
                        quantized.floatTensors[name] = (l.weights, [l.rows, l.columns])
                        continue
                    }
                    let target = targets[part]!
                    let gptq = compressor.method == .gptq && (taken || hessians.has(group.shared))
                        ? GPTQ(format: target, actOrder: compressor.actOrder, damping: compressor.damping) : nil
                    if let gptq, !taken {
                        let h = try hessians.take(group.shared)!
                        taken = true
                        if owned { factor = try gptq.factor(hessian: h, columns: shapes[part]!.columns, name: name) }
                    }
                    guard owned else { continue }
                    let l = try weights.linear(part)
                    let encoded = try gptq.map { try $0.quantize(l.weights, rows: l.rows, columns: l.columns, factor: factor!, name: name) }
                        ?? QuantCodec.encode(l.weights, rows: l.rows, columns: l.columns, format: target, name: name)
                    // Against the weight as stored (AWQ-scaled): the scales are exact in floats, only the rounding loses.
                    let error = relativeError(l.weights, try QuantCodec.decode(encoded, rows: l.rows, columns: l.columns, format: target))
                    mine.append(.init(part: Part.linears.firstIndex(of: part)!, relativeError: error, encoded: encoded))
                }
            }
            let all = try LinearShares.gather(mine, over: ranks, block: i)
            for part in Part.linears {
                guard let target = targets[part] else { continue }
                guard let m = all[part] else {
                    throw SlimError.collective(rank: owners[groups.firstIndex { $0.members.contains(part) }!], ranks: ranks.size,
                                               step: "gathering block \(i)'s quantized linears", detail: "it sent no \(weights.name(part))")
                }
                let (name, shape) = (weights.name(part), shapes[part]!)
                quantized.packedTensors[name] = PackedWeight(format: target, rows: shape.rows, columns: shape.columns, encoded: m.encoded)
                layers.append(.init(name: name, format: target.description, relativeError: m.relativeError))
            }
        }

        /// Every rank quantizes the block from the same summed Hessians; if one got other bits (another
        /// CPU path, another library) its sequences would move on through another block and the output
        /// would silently mix two models. The packed bytes' hash is compared instead, and a difference ends the job.
        private func agreeAcrossRanks(on quantized: MemoryWeightStore, block i: Int) throws {
            let ranks = compressor.collective
            guard ranks.size > 1 else { return }
            var digest = ""
            for name in quantized.packedTensors.keys.sorted() {
                let e = quantized.packedTensors[name]!.encoded
                let scales = e.scales.withUnsafeBytes { XXHash64.hash($0) }
                digest += "\(name) \(e.data.withUnsafeBytes { XXHash64.hash($0) }) \(scales) \(e.zeros.withUnsafeBytes { XXHash64.hash($0) });"
            }
            try ranks.agree(on: digest, what: "quantized block \(i)")
        }

        /// The Hessians of one block's shared inputs, handed out one at a time: collected over
        /// the calibration sequences by this run, or given by the caller.
        struct Hessians {
            private let collector: HessianCollector?
            private var given: [Part: [Double]] = [:]
            private let names: [Part: String]

            init(run: inout Run, weights: DecoderBlockWeights) throws {
                names = Dictionary(uniqueKeysWithValues: Run.sharedParts.map { ($0, weights.name($0)) })
                if let parts = run.parts {
                    collector = try run.calibrate(weights, on: parts)
                } else {
                    collector = nil
                    for (part, name) in names { given[part] = run.compressor.hessians?[name] }
                }
            }

            func has(_ part: Part) -> Bool { collector?.has(names[part]!) ?? (given[part] != nil) }

            mutating func take(_ part: Part) throws -> [Double]? {
                if let collector { return try collector.take(names[part]!) }
                return given.removeValue(forKey: part)
            }
        }

        /// The parts whose inputs other linears share (Q for K and V, gate for up) and the two that read their own.
        static let sharedParts: [Part] = [.query, .attentionOutput, .gate, .down]

        /// Runs the source block over the calibration sequences, summing the Hessians of its
        /// linears' inputs; without `sequential` its outputs are the next block's inputs.
        fileprivate mutating func calibrate(_ weights: DecoderBlockWeights, on parts: DecoderParts) throws -> HessianCollector {
            let keys = Set(Self.sharedParts.map { weights.name($0) })
            let collector = HessianCollector(backend: parts.backend, exactOver: compressor.collective) { keys.contains($0) ? $0 : nil }
            let kept = inputs
            try forward(try weights.sourceBlock(on: parts.backend), on: parts, observer: collector.observe)
            if compressor.sequential { inputs = kept }
            return collector
        }

        /// Moves every calibration sequence through `block`.
        private mutating func forward(_ block: DecoderBlock, on parts: DecoderParts, observer: LinearInputObserver? = nil) throws {
            var scratch: (tokens: Int, s: DecoderScratch)?
            for (n, x) in inputs.enumerated() {
                let tokens = x.shape[0]
                if scratch?.tokens != tokens { scratch = (tokens, try DecoderScratch(tokens: tokens, config: config, on: parts.backend)) }
                // A fresh copy: `inputs` may still be needed (sequential keeps the source block's inputs for the quantized pass).
                let y = try parts.backend.allocate(x.shape, name: "block \(block.index) sequence \(n)")
                try parts.backend.copy(x, to: y)
                // The block's weights are in Hugging Face's row order (GGUF's query and key rows were put back), so its rotary pairs are halves.
                try block.forward(y, step: try parts.step(tokens: tokens, ropeStyle: .halves), scratch: scratch!.s, observer: observer)
                inputs[n] = y
            }
        }

        /// AWQ's scales, searched per group of linears that share an input and
        /// folded into what precedes them where the block allows it; the output
        /// projection keeps a run-time input scale (with grouped-query heads one
        /// V row feeds several heads, so it cannot fold into V). Returns the run-time scales by weight name.
        private func awqFold(_ weights: inout DecoderBlockWeights, _ hessians: inout Hessians) throws -> [String: [Float]] {
            func search(_ group: [Part]) throws -> [Float]? {
                guard let h = try hessians.take(Self.sharedInput(group[0])) else { return nil }
                let matrices = try group.map { try weights.linear($0) }
                let columns = matrices[0].columns, rows = matrices.reduce(0) { $0 + $1.rows }
                let target = try compressor.layerFormat(compressor.format, rows: rows, columns: columns, name: weights.name(group[0]))
                let inverse = try AWQ(format: target).quantize(matrices.flatMap(\.weights), rows: rows, columns: columns, hessian: h,
                                                               name: group.map { weights.name($0) }.joined(separator: " + ")).inputScale
                try weights.scaleColumns(group, by: inverse)
                return inverse
            }
            let offset = config.architecture.normOffset
            if let inverse = try search([.query, .key, .value]) { weights.foldIntoNorm(.attentionNorm, inverse, offset: offset) }
            if let inverse = try search([.gate, .up]) { weights.foldIntoNorm(.ffnNorm, inverse, offset: offset) }
            if let inverse = try search([.down]) { try weights.scaleRows(.up, by: inverse) }
            // A file with no run-time scales (GGUF) quantizes the output projection without one.
            guard compressor.runtimeInputScales else { return [:] }
            return try search([.attentionOutput]).map { [weights.name(.attentionOutput): $0] } ?? [:]
        }

        /// Block `i`'s tensors: norms and biases in their source's element type (fp32 where AWQ changed them),
        /// packed linears (Phi-3's fused back into the source's layout), AWQ's run-time scales.
        private mutating func write(block weights: DecoderBlockWeights, _ quantized: MemoryWeightStore) throws {
            for (name, f) in weights.floats.sorted(by: { $0.key < $1.key }) {
                try emit(try SafeTensorsWriter.Entry.floats(name, f.values, shape: f.shape, as: weights.changed.contains(name) ? .f32 : f.kind))
            }
            var groups: [(name: String, parts: [Part])] = Part.linears.map { (weights.name($0), [$0]) }
            if config.architecture.fusedProjections {
                groups = FusedWeightStore.fusedLayout(block: weights.index, config: config).map { fused in (fused.fused + ".weight", fused.parts.map(\.0)) }
                    + [(weights.name(.attentionOutput), [.attentionOutput]), (weights.name(.down), [.down])]
            }
            for (name, group) in groups {
                let packed = try group.map { try quantized.packed(weights.name($0)) }
                if packed.allSatisfy({ $0 != nil }) {
                    let whole = packed.dropFirst().reduce(packed[0]!) { $0.appending($1!) }
                    packedFormats[name] = whole.format.description
                    try emit(PackedEntries.make(name, whole.encoded, rows: whole.rows))
                } else {
                    // Float (a --layer NAME=fp32 exception): every part of a fused weight stays float with it.
                    let values = try group.flatMap { try quantized.floats(weights.name($0)) }
                    let columns = try weights.shape(group[0]).columns
                    try emit(try SafeTensorsWriter.Entry.floats(name, values, shape: [values.count / columns, columns],
                                                     as: source.storedKind(name)))
                }
                if let scale = quantized.inputScales[name] {
                    try emit(try SafeTensorsWriter.Entry.floats(PackedNames.inputScale(name), scale, shape: [scale.count], as: .f32))
                }
            }
        }

        /// The final norm, the token table and an untied output projection, after the blocks.
        mutating func tables() throws {
            let c = config, names = source.names
            let norm = names.outputNorm + ".weight"
            try emit(try SafeTensorsWriter.Entry.floats(DecoderCompressor.hf.outputNorm + ".weight", try source.store.floats(norm, shape: [c.hiddenSize]),
                                             shape: [c.hiddenSize], as: source.storedKind(norm)))
            try table(names.tokenEmbedding + ".weight", as: DecoderCompressor.hf.tokenEmbedding + ".weight", default: .q8_0)
            if !c.tiedEmbeddings {
                try table(names.output + ".weight", as: DecoderCompressor.hf.output + ".weight", default: DecoderCompressor.outputProjectionFormat)
            }
        }

        /// A `[vocab, hidden]` table, quantized a slice of rows at a time (rows are independent in every
        /// format) so a large vocabulary never sits in memory as fp32; GGUF blocks already in the format are kept.
        private mutating func table(_ name: String, as outName: String, default format: QuantFormat) throws {
            let shape = try source.store.shape(of: name)
            guard shape.count == 2 else { throw SlimError.malformedFile(path: source.store.origin, detail: "tensor '\(name)' is \(shape), not a matrix") }
            let (rows, columns) = (shape[0], shape[1])
            let requested: QuantFormat? = overrides[outName] ?? format
            guard let requested else {
                try emit(try SafeTensorsWriter.Entry.floats(outName, try source.store.floats(name), shape: shape, as: source.storedKind(name)))
                return
            }
            let target = try compressor.layerFormat(requested, rows: rows, columns: columns, name: outName)
            if let p = try source.store.packed(name), p.format == target {
                packedFormats[outName] = target.description
                layers.append(.init(name: outName, format: target.description, relativeError: 0))
                try emit(PackedEntries.make(outName, p.encoded, rows: p.rows))
                return
            }
            let tensor = try source.file.tensor(named: name)
            // The packed parts are gathered straight into the entries' buffers (one copy), a slice of
            // rows at a time, and each slice's source pages are dropped once read.
            var data = Data(), scales = Data(), zeros = Data()
            var error = 0.0, norm = 0.0
            let slice = max(1, (4 << 20) / max(columns, 1))
            for first in stride(from: 0, to: rows, by: slice) {
                let count = min(slice, rows - first)
                let w = try source.file.floats(tensor, rows: first..<first + count)
                source.file.release(tensor)
                let encoded = try QuantCodec.encode(w, rows: count, columns: columns, format: target, name: outName)
                let restored = try QuantCodec.decode(encoded, rows: count, columns: columns, format: target)
                for (a, b) in zip(w, restored) { error += Double(a - b) * Double(a - b); norm += Double(a) * Double(a) }
                data.append(contentsOf: encoded.data)
                encoded.scales.withUnsafeBytes { scales.append(contentsOf: $0) }
                zeros.append(contentsOf: encoded.zeros)
            }
            packedFormats[outName] = target.description
            layers.append(.init(name: outName, format: target.description, relativeError: (error / max(norm, .leastNormalMagnitude)).squareRoot()))
            try emit(PackedEntries.make(outName, data: data, scales: scales, zeros: zeros, rows: rows))
        }

        private func emit(_ entry: SafeTensorsWriter.Entry) throws { try emit([entry]) }
        private func emit(_ entries: [SafeTensorsWriter.Entry]) throws {
            if discardsOutput { return }
            guard let writer else { throw SlimError.invalidArgument("internal: a decoder compression wrote before its output was open") }
            for e in entries { try writer.append(e) }
        }

        /// The layers whose Hessian `part` uses: Q's input feeds K and V, gate's feeds up.
        static func sharedInput(_ part: Part) -> Part {
            switch part {
            case .key, .value: .query
            case .up: .gate
            default: part
            }
        }
    }
}
