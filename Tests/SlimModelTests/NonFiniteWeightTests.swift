import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimModel
import SlimOpenCL
import Testing

/// Issue 21, non-finite weights: every quantizer refuses NaN and ±∞ by the
/// tensor's name (they trapped converting NaN to Int), and loading a model
/// whose file holds one refuses it by tensor and file unless allowed.
@Suite struct NonFiniteWeightTests {
    static func poisoned(_ n: Int, _ k: Int, at i: Int, _ value: Float) -> [Float] {
        var w = (0..<n * k).map { Float(($0 * 7919) % 13) / 13 - 0.5 }
        w[i] = value
        return w
    }

    static func identityHessian(_ k: Int) -> [Double] { (0..<k * k).map { $0 / k == $0 % k ? 1 : 0 } }

    static func expectNonFinite(_ name: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("non-finite \(name) was accepted", sourceLocation: sourceLocation)
        } catch let SlimError.nonFinite(tensor, _, _) {
            #expect(tensor == name, sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [QuantFormat.int8PerChannel, .int4(groupSize: 32, symmetric: true), .int4(groupSize: 32, symmetric: false)])
    func gptqAndAWQRefuseNonFiniteWeights(_ format: QuantFormat) {
        for value in [Float.nan, .infinity, -.infinity] {
            let w = Self.poisoned(4, 64, at: 70, value)
            Self.expectNonFinite("blk.0.attn_q.weight") {
                _ = try GPTQ(format: format).quantize(w, rows: 4, columns: 64, hessian: Self.identityHessian(64), name: "blk.0.attn_q.weight")
            }
            Self.expectNonFinite("blk.0.attn_q.weight") {
                _ = try AWQ(format: format).quantize(w, rows: 4, columns: 64, hessian: Self.identityHessian(64), name: "blk.0.attn_q.weight")
            }
        }
    }

    /// A Hessian from NaN activations (a model loaded with --allow-nonfinite) is refused too.
    @Test func gptqAndAWQRefuseANonFiniteHessian() {
        var h = Self.identityHessian(64)
        h[65] = .nan
        let w = Self.poisoned(4, 64, at: 0, 0.25)
        #expect(throws: SlimError.self) { _ = try GPTQ(format: .int8PerChannel).quantize(w, rows: 4, columns: 64, hessian: h, name: "q") }
        #expect(throws: SlimError.self) { _ = try AWQ(format: .int8PerChannel).quantize(w, rows: 4, columns: 64, hessian: h, name: "q") }
    }

    /// `Backend.quantize` (round to nearest on the host, both backends) names the tensor.
    @Test func backendsQuantizingOnTheHostNameTheTensor() throws {
        var backends: [any Backend] = [CPUBackend()]
        if let device = try OpenCLBackend.preferredDevice() { backends.append(try OpenCLBackend(device: device)) }
        for b in backends {
            let w = try b.tensor(Self.poisoned(8, 64, at: 100, .nan), shape: [8, 64], name: "encoder.layer.3.output.dense.weight")
            for format in [QuantFormat.int8PerChannel, .int4(groupSize: 64, symmetric: true), .q4_1] {
                Self.expectNonFinite("encoder.layer.3.output.dense.weight") { _ = try b.quantize(w, format: format) }
            }
        }
    }

    /// A copy of MiniLM (links to its files) whose model.safetensors has one value replaced.
    static func miniLM(poisoning tensor: String, element: Int, with value: Float) throws -> URL {
        let source = try TestAssets.miniLM
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slim-nonfinite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "model.safetensors" {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        let url = source.appendingPathComponent("model.safetensors")
        let t = try SafeTensorsFile(contentsOf: url).tensor(named: tensor)
        var data = try Data(contentsOf: url)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.replaceSubrange(t.byteRange.lowerBound + 4 * element ..< t.byteRange.lowerBound + 4 * element + 4, with: $0) }
        try data.write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    @Test func loadingABertWithANaNWeightNamesTheTensorAndFileUnlessAllowed() throws {
        let name = "encoder.layer.2.attention.self.query.weight"
        let dir = try Self.miniLM(poisoning: name, element: 1234, with: .nan)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try SentenceEmbedder.load(folder: dir, backend: CPUBackend())
            Issue.record("a model with a NaN weight loaded")
        } catch let SlimError.nonFinite(tensor, origin, detail) {
            #expect(tensor == name && origin.hasSuffix("model.safetensors") && detail.contains("element 1234"), "\(detail)")
        }
        let allowed = try NonFiniteWeights.$allowed.withValue(true) { try SentenceEmbedder.load(folder: dir, backend: CPUBackend()) }
        #expect(allowed.encoder.config.layers == 6)
    }

    /// A NaN query weight (loaded anyway) makes every embedding NaN on every
    /// backend; the CPU's attention used to treat an all-NaN score row as
    /// empty and print finite, normal-looking vectors.
    @Test func aNaNQueryWeightGivesNaNEmbeddingsOnEveryBackend() throws {
        let dir = try Self.miniLM(poisoning: "encoder.layer.0.attention.self.query.weight", element: 0, with: .nan)
        defer { try? FileManager.default.removeItem(at: dir) }
        var backends: [any Backend] = [CPUBackend()]
        if let device = try OpenCLBackend.preferredDevice() { backends.append(try OpenCLBackend(device: device)) }
        for b in backends {
            let embedder = try NonFiniteWeights.$allowed.withValue(true) { try SentenceEmbedder.load(folder: dir, backend: b) }
            let vectors = try embedder.embed(tokenized: [[101, 1037, 2158, 102], [101, 7592, 102]])
            let name = b.id.description
            for v in vectors {
                let allNaN = v.allSatisfy { $0.isNaN }
                #expect(allNaN, "\(name): \(v.prefix(4))")
            }
        }
    }

    @Test func loadingAGGUFWithANaNNormWeightNamesTheTensorUnlessAllowed() throws {
        let data = try TinyLlama.gguf(seed: 3) { _, tensors in
            let i = tensors.firstIndex { $0.name == "blk.1.ffn_norm.weight" }!
            tensors[i].data.replaceSubrange(8..<12, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) })
        }
        let gguf = try TestGGUF.parse(data, path: "/test/nan-norm.gguf")
        do {
            _ = try DecoderModel(gguf: gguf, backend: CPUBackend())
            Issue.record("a GGUF with a NaN norm weight loaded")
        } catch let SlimError.nonFinite(tensor, origin, detail) {
            #expect(tensor == "blk.1.ffn_norm.weight" && origin == "/test/nan-norm.gguf" && detail.contains("element 2"), "\(detail)")
        }
        _ = try NonFiniteWeights.$allowed.withValue(true) { try DecoderModel(gguf: gguf, backend: CPUBackend()) }
    }

    /// GGUF blocks run packed, never decoded: their fp16 scales are checked instead.
    @Test func packedGGUFBlocksWithANonFiniteScaleAreRefused() throws {
        var block = [UInt8](repeating: 0, count: 34 * 2)
        block[34] = 0x00; block[35] = 0x7E  // the second block's fp16 scale: NaN
        let file = try TestGGUF.parse(TestGGUF.file(tensors: [.init(name: "w", type: 8, dims: [32, 2], data: block)]))
        Self.expectNonFinite("w") { _ = try TensorFileWeightStore(file: file).packed("w") }
        #expect(try NonFiniteWeights.$allowed.withValue(true) { try TensorFileWeightStore(file: file).packed("w") } != nil)
    }
}
