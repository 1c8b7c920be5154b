import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import SlimParallel
import Testing
import TestSupport

/// Issue 16: the layer-wise decoder pipeline. It loads one block at a time; what
/// it writes must not depend on that, and its options must do what they say.
@Suite struct LayerwiseCompressionTests {
    static let wisdom = "/usr/share/games/fortunes/wisdom"

    static func calibrationTexts() throws -> [String] {
        guard FileManager.default.fileExists(atPath: wisdom) else {
            // Short fortunes-like lines, so the test runs without Debian's fortunes package too.
            return (0..<40).map { "A wise saying number \($0) is worth more than gold, and time is short, said the \($0 % 7)th sage." }
        }
        return try Calibration.samples(from: URL(fileURLWithPath: wisdom), count: 200)
    }

    /// Every tensor of a written folder (all shards), by name: kind, shape and bytes.
    static func tensors(_ folder: URL) throws -> [String: (StoredKind, [Int], [UInt8])] {
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        var result: [String: (StoredKind, [Int], [UInt8])] = [:]
        for t in file.tensors { result[t.name] = (t.kind, t.shape, Array(try file.bytes(of: t))) }
        return result
    }

    /// Streaming, block by block, writes exactly what the same quantizer writes from
    /// Hessians collected over the whole model loaded at once (the pipeline before
    /// issue 16): same inputs per block, same fp32 sums in the same order, so the
    /// packed bytes are equal, bit for bit, for every tensor.
    @Test(arguments: ["qwen2", "phi3", "gemma"])
    func streamedEqualsWholeModelCalibration(family: String) throws {
        let source = try TestAssets.fixture("decoders/\(family)")
        let folder = try Temporary.folder("layerwise-\(family)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let backend = CPUBackend()
        let texts = Array(try Self.calibrationTexts().prefix(60))
        var streamed = DecoderCompressor(format: .int4(groupSize: 32, symmetric: true), method: .gptq)
        (streamed.calibration, streamed.calibrationContext, streamed.calibrationSequences) = ((texts, backend, "test texts"), 48, 6)
        streamed.sequential = false
        streamed.actOrder = true
        _ = try streamed.compress(source, to: folder.appendingPathComponent("streamed"))

        // The whole model in memory, its Hessians from one observer over all blocks.
        let (model, tokenizer) = try DecoderModel.load(source, backend: backend)
        // Exact sums, as the streamed pipeline takes them (issue 20).
        let collector = HessianCollector(backend: backend, exactOver: SingleProcess()) { name in
            [".self_attn.q_proj.weight", ".self_attn.o_proj.weight", ".mlp.gate_proj.weight", ".mlp.down_proj.weight"]
                .contains { name.hasSuffix($0) } ? name : nil
        }
        let tokens = texts.flatMap { tokenizer.encode($0 + "\n", parseSpecial: false) }
        for s in 0..<6 { _ = try model.hiddenStates(Array(tokens[s * 48..<(s + 1) * 48]), observer: collector.observe) }
        var whole = streamed
        whole.hessians = try collector.hessians()
        _ = try whole.compress(source, to: folder.appendingPathComponent("whole"))

        let a = try Self.tensors(folder.appendingPathComponent("streamed")), b = try Self.tensors(folder.appendingPathComponent("whole"))
        #expect(a.keys.sorted() == b.keys.sorted())
        let differing = a.keys.filter { a[$0]!.2 != b[$0]?.2 }.sorted()
        #expect(differing.isEmpty, "\(differing.count) tensors differ, e.g. \(differing.prefix(3))")
        #expect(a.keys.contains { $0.hasSuffix(".qdata") }, "packed tensors were written")
    }
}
