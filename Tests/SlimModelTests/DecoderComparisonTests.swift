import Foundation
import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import Testing
import TestSupport

/// KL divergence, top-1 agreement and Δp of two decoders' next-token
/// distributions (issue 16), against float64 references and end to end.
@Suite struct DecoderComparisonTests {
    /// The float64 reference: probabilities by plain softmax (no log-sum-exp),
    /// KL as Σ p·log(p/q).
    static func referenceKL(_ a: [Float], _ b: [Float]) -> Double {
        func softmax(_ z: [Float]) -> [Double] {
            let peak = Double(z.max()!), e = z.map { exp(Double($0) - peak) }, s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        let p = softmax(a), q = softmax(b)
        return zip(p, q).reduce(0.0) { $0 + ($1.0 > 0 ? $1.0 * log($1.0 / $1.1) : 0) }
    }

    @Test func aHandComputedThreeTokenCase() {
        // P = softmax(0, ln 2, 0) = (¼, ½, ¼), Q = softmax(0, 0, ln 2) = (¼, ¼, ½), each shifted by a large
        // constant (softmax ignores it; a naive exp would overflow at 100).
        let a: [Float] = [100, 100 + Float(log(2.0)), 100], b: [Float] = [-7, -7, -7 + Float(log(2.0))]
        let first = PositionComparison(original: a[...], compressed: b[...], target: 1)
        // KL = ¼ ln 1 + ½ ln 2 + ¼ ln ½ = ¼ ln 2.
        #expect(abs(first.kl - log(2.0) / 4) < 1e-6, "\(first.kl)")  // the logits are fp32: ln 2 rounds at 1e-7 relative
        #expect(first.top1Original == 1 && first.top1Compressed == 2)
        #expect(abs(first.deltaP - (0.25 - 0.5)) < 1e-6 && abs(first.nllOriginal - log(2.0)) < 1e-6)
        #expect(abs(first.confidenceOriginal - 0.5) < 1e-6 && abs(first.confidenceCompressed - 0.5) < 1e-6)
        // P = (½, ¼, ¼) against the uniform Q: KL(P‖Q) = ln 3 − H(P) = ln 3 − 1.5 ln 2, while the other
        // direction is (5/3) ln 2 − ln 3; both pick token 0 (the first of equals, for Q).
        let half: [Float] = [Float(log(2.0)), 0, 0], uniform: [Float] = [5, 5, 5]
        let second = PositionComparison(original: half[...], compressed: uniform[...], target: 0)
        #expect(abs(second.kl - (log(3.0) - 1.5 * log(2.0))) < 1e-6, "\(second.kl)")
        #expect(second.top1Original == 0 && second.top1Compressed == 0)
        var c = DecoderComparison()
        c.append(first)
        c.append(second)
        c.append(PositionComparison(original: b[...], compressed: b[...], target: 2))
        #expect(c.count == 3)
        #expect(abs(c.klMean - (log(3.0) - 1.25 * log(2.0)) / 3) < 1e-6)
        #expect(abs(c.klMax - log(2.0) / 4) < 1e-6)
        #expect(abs(c.top1Agreement - 2.0 / 3) < 1e-12)
        // Δp: ¼ − ½, ⅓ − ½, 0.
        #expect(abs(c.deltaPMean - (-0.25 - 1.0 / 6) / 3) < 1e-6)
        // NLLs: original ln 2 three times → PPL 2; compressed ln 4, ln 3, ln 2 → 24^(1/3).
        #expect(abs(c.perplexityOriginal - 2) < 1e-5 && abs(c.perplexityCompressed - pow(24, 1.0 / 3)) < 1e-5)
    }

    @Test func percentileInterpolatesBetweenRanks() {
        let v = (0...100).map(Double.init).shuffled()
        #expect(DecoderComparison.percentile(v, 0.99) == 99)
        #expect(DecoderComparison.percentile([0, 10], 0.99) == 9.9)
        #expect(DecoderComparison.percentile([3], 0.99) == 3 && DecoderComparison.percentile([], 0.99) == 0)
    }

    /// Random logits of a real vocabulary's size: equal rows give KL 0 and full agreement;
    /// different rows match the float64 reference.
    @Test(.seeded) func matchesTheFloat64ReferenceOnRandomLogits() {
        var rng = SplitMix64(seed: TestSeed.current)
        let vocab = 4096, rows = 6
        let a = (0..<vocab * rows).map { _ in rng.uniform() * 8 }
        let b = a.map { $0 + rng.uniform() * 0.5 }
        let targets = (0..<rows).map { _ in Int32.random(in: 0..<Int32(vocab), using: &rng) }
        var same = DecoderComparison()
        same.append(original: a, compressed: a, vocab: vocab, targets: targets)
        #expect(same.klMax < 1e-12 && same.top1Agreement == 1 && same.deltaPMean == 0)
        #expect(same.perplexityOriginal == same.perplexityCompressed)
        var different = DecoderComparison()
        different.append(original: a, compressed: b, vocab: vocab, targets: targets)
        for (r, position) in different.positions.enumerated() {
            let rows = r * vocab..<(r + 1) * vocab
            let reference = Self.referenceKL(Array(a[rows]), Array(b[rows]))
            // Both in double from the same fp32 logits: only the order of sums differs.
            #expect(abs(position.kl - reference) <= 1e-12 + 1e-9 * reference, "row \(r): \(position.kl) vs \(reference)")
            #expect(position.top1Original == a[rows].indices.max { a[$0] < a[$1] }! - rows.lowerBound)
        }
    }

    /// A tiny decoder against itself and against a copy with one weight damaged.
    @Test(.seeded) func aDamagedWeightShowsAsDivergence() throws {
        let source = try TinyLlama.write(seed: TestSeed.current)
        let folder = source.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }
        let damaged = folder.appendingPathComponent("damaged.gguf")
        try TinyLlama.gguf(seed: TestSeed.current) { _, tensors in
            // 32 weights of the last block's MLP output set far outside their ±0.2 range, alternating in sign:
            // one weight alone left every argmax in place for some seeds (5357417510428268578), so agreement stayed 1.
            let i = tensors.firstIndex { $0.name == "blk.1.ffn_down.weight" }!
            tensors[i].data.withUnsafeMutableBytes { bytes in
                for j in 0..<32 { bytes.storeBytes(of: Float(j % 2 == 0 ? 8 : -8), toByteOffset: 4 * (5 + 97 * j), as: Float.self) }
            }
        }.write(to: damaged)
        let backend = CPUBackend()
        let (model, tokenizer) = try DecoderModel.load(source, backend: backend)
        let (broken, _) = try DecoderModel.load(damaged, backend: backend)
        var rng = SplitMix64(seed: TestSeed.current &+ 1)
        let tokens = tokenizer.encode(TinyLlama.text(80, using: &rng), addBOS: false, parseSpecial: false)
        let same = try Evaluation.compare(original: model, compressed: model, tokens: tokens, context: 32, chunks: 3, bos: nil)
        #expect(same.chunks == 3 && same.comparison.count == 3 * 15)
        #expect(same.comparison.klMax == 0 && same.comparison.top1Agreement == 1)
        let run = try Evaluation.compare(original: model, compressed: broken, tokens: tokens, context: 32, chunks: 3, bos: nil)
        let c = run.comparison
        print("damaged tiny Llama: KL mean \(c.klMean), p99 \(c.klP99), max \(c.klMax), agreement \(c.top1Agreement)")
        #expect(c.klMean > 1e-3 && c.top1Agreement < 1, "KL \(c.klMean), agreement \(c.top1Agreement)")
        // The same positions as `perplexity`, scored the same way.
        let pplA = try model.perplexity(tokens: tokens, context: 32, chunks: 3), pplB = try broken.perplexity(tokens: tokens, context: 32, chunks: 3)
        #expect(abs(c.perplexityOriginal / pplA.perplexity - 1) < 1e-12 && abs(c.perplexityCompressed / pplB.perplexity - 1) < 1e-12)
        #expect(zip(c.positions.map(\.nllOriginal), pplA.tokenNLL).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(pplA.tokenNLL.count == pplA.tokensScored)
    }
}
