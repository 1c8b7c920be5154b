import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import SlimOpenCL
import SlimParallel
import Testing
import TestSupport

/// Issue 20: a decoder's GPTQ calibration and its perplexity split over ranks
/// (here threads of one process, each with its own backend, as devices would be;
/// `CLITests/MPICLITests` runs the same over MPI processes) give what one rank gives, bit for bit.
@Suite struct DataParallelTests {
    /// 7 calibration sequences over 1 and 3 ranks (shares 3, 2, 2): the same packed bytes in every
    /// tensor, because the Hessians are exact sums; sequential, so block i+1 calibrates on each
    /// rank's own sequences moved through the quantized block i.
    @Test(arguments: ["llama3", "qwen2"])
    func gptqOverRanksEqualsOneRank(family: String) throws {
        let source = try TestAssets.fixture("decoders/\(family)")
        let folder = try Temporary.folder("ranks-gptq-\(family)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let texts = Array(try LayerwiseCompressionTests.calibrationTexts().prefix(60))
        @Sendable func compressor(_ ranks: any Collective) -> DecoderCompressor {
            var c = DecoderCompressor(format: .int4(groupSize: 32, symmetric: false), method: .gptq)
            (c.calibration, c.calibrationContext, c.calibrationSequences) = ((texts, CPUBackend(), "test texts"), 40, 7)
            c.collective = ranks
            return c
        }
        _ = try compressor(SingleProcess()).compress(source, to: folder.appendingPathComponent("one"))
        let results = onRanks(3) { ranks in
            // Only rank 0 writes; the others' output path must stay untouched.
            _ = try compressor(ranks).compress(source, to: folder.appendingPathComponent("rank\(ranks.rank)"))
        }
        for (r, result) in results.enumerated() { #expect(throws: Never.self, "rank \(r)") { try result.get() } }
        for r in 1..<3 {
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("rank\(r)").path), "rank \(r) wrote")
        }
        let a = try LayerwiseCompressionTests.tensors(folder.appendingPathComponent("one"))
        let b = try LayerwiseCompressionTests.tensors(folder.appendingPathComponent("rank0"))
        #expect(a.keys.sorted() == b.keys.sorted())
        let differing = a.keys.filter { a[$0]!.2 != b[$0]?.2 }.sorted()
        #expect(differing.isEmpty, "\(differing.count) tensors differ over 3 ranks, e.g. \(differing.prefix(3))")
        #expect(a.keys.contains { $0.hasSuffix(".qdata") }, "packed tensors were written")
    }

    /// Several OpenCL devices in one process, a replica per device (`POCL_DEVICES="pthread pthread"`
    /// gives PoCL two; with one device present, two replicas share it, each with its own queue):
    /// the packed bytes equal one device's. Needs OpenCL (a visible skip, or a failure under SLIM_REQUIRE_OPENCL=1).
    @Test func gptqOverTwoOpenCLReplicasEqualsOne() throws {
        _ = try TestBackends.openCL()
        let devices = try OpenCLDevice.all()
        let pair = devices.count >= 2 ? [devices[0], devices[1]] : [devices[0], devices[0]]
        if devices.count < 2 { FileHandle.standardError.write(Data("note: one OpenCL device: two replicas share it\n".utf8)) }
        let source = try TestAssets.fixture("decoders/llama3")
        let folder = try Temporary.folder("ranks-opencl")
        defer { try? FileManager.default.removeItem(at: folder) }
        let texts = Array(try LayerwiseCompressionTests.calibrationTexts().prefix(60))
        @Sendable func compressor(_ ranks: any Collective, _ device: OpenCLDevice) throws -> DecoderCompressor {
            var c = DecoderCompressor(format: .int4(groupSize: 32, symmetric: false), method: .gptq)
            (c.calibration, c.calibrationContext, c.calibrationSequences) = ((texts, try OpenCLBackend(device: device), "test texts"), 40, 5)
            c.collective = ranks
            return c
        }
        _ = try compressor(SingleProcess(), pair[0]).compress(source, to: folder.appendingPathComponent("one"))
        let results = onRanks(2) { ranks in
            _ = try compressor(ranks, pair[ranks.rank]).compress(source, to: folder.appendingPathComponent("rank\(ranks.rank)"))
        }
        for (r, result) in results.enumerated() { #expect(throws: Never.self, "device \(r)") { try result.get() } }
        let a = try LayerwiseCompressionTests.tensors(folder.appendingPathComponent("one"))
        let b = try LayerwiseCompressionTests.tensors(folder.appendingPathComponent("rank0"))
        let differing = a.keys.filter { a[$0]!.2 != b[$0]?.2 }.sorted()
        #expect(!a.isEmpty && differing.isEmpty, "\(differing.count) tensors differ over two devices, e.g. \(differing.prefix(3))")
    }

    /// More ranks than calibration sequences: an error that says so, on every rank, not a rank with nothing to sum.
    @Test func moreRanksThanSequencesIsAnError() throws {
        let source = try TestAssets.fixture("decoders/llama3")
        let folder = try Temporary.folder("ranks-too-many")
        defer { try? FileManager.default.removeItem(at: folder) }
        let results = onRanks(3) { ranks in
            var c = DecoderCompressor(format: .int4(groupSize: 32, symmetric: false), method: .gptq)
            (c.calibration, c.calibrationContext, c.calibrationSequences) = ((["a short text"], CPUBackend(), "one text"), 40, 7)
            c.collective = ranks
            _ = try c.compress(source, to: folder.appendingPathComponent("out\(ranks.rank)"))
        }
        for result in results {
            if case .failure(let error) = result { #expect("\(error)".contains("for 3 ranks"), "\(error)") } else { Issue.record("ran") }
        }
    }

    /// 5 chunks over 2 ranks (3 + 2): every token's NLL, the running and the final perplexity the same bits.
    @Test func perplexityOverRanksEqualsOneRank() throws {
        let source = try TestAssets.fixture("decoders/llama3")
        let texts = try LayerwiseCompressionTests.calibrationTexts().joined(separator: "\n")
        let (model, tokenizer) = try DecoderModel.load(source, backend: CPUBackend())
        let tokens = tokenizer.encode(texts, parseSpecial: false)
        let one = try model.perplexity(tokens: tokens, context: 32, chunks: 5)
        let results = onRanks(2) { ranks -> [Double] in
            let (m, _) = try DecoderModel.load(source, backend: CPUBackend())
            let r = try m.perplexity(tokens: tokens, context: 32, chunks: 5, collective: ranks)
            return r.tokenNLL + r.running + [r.perplexity]
        }
        for (r, result) in results.enumerated() {
            let got = try result.get()
            #expect(got.map(\.bitPattern) == (one.tokenNLL + one.running + [one.perplexity]).map(\.bitPattern), "rank \(r)")
        }
    }
}
