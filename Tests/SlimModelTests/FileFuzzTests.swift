import Foundation
import SlimCore
import SlimModel
import Testing
import TestSupport

/// Corrupts files the ways disks, downloads and hostile writers do.
enum Mutator {
    /// Values that sit on the edges of length and count checks.
    static let edgeValues: [UInt64] = [0, 1, 2, 7, 8, 31, 32, 33, 255, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32,
                                       1 << 62, UInt64(Int64.max), UInt64.max - 7, UInt64.max]

    /// 1–4 mutations, restricted to bytes below `focus` when given (the header of a large file).
    static func mutate(_ data: [UInt8], focus: Int? = nil, using rng: inout SplitMix64) -> [UInt8] {
        var b = data
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let limit = max(1, min(b.count, focus ?? b.count))
            let at = Int.random(in: 0..<limit, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0 where !b.isEmpty:
                b[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !b.isEmpty:
                b[at] = UInt8.random(in: 0...255, using: &rng)
            case 2, 3:
                // A length, count or offset field replaced by an edge value or a random one.
                let width = Bool.random(using: &rng) ? 8 : 4
                let value = Bool.random(using: &rng) ? edgeValues.randomElement(using: &rng) ?? 0 : UInt64.random(in: 0...UInt64.max, using: &rng)
                for k in 0..<width where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
            case 4:
                b.removeSubrange(at...)
            case 5:
                b.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 6:
                b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...32, using: &rng)))
            case 7:
                b.insert(contentsOf: Array(b[at..<min(b.count, at + Int.random(in: 1...32, using: &rng))]), at: at)
            default:
                if !b.isEmpty { b[at] = [0x00, 0xFF, 0x22, 0x5C, 0x7B, 0x5B, 0x80].randomElement(using: &rng) ?? 0 }
            }
        }
        return b
    }

    /// Parses `cases` mutants of `seeds` (and reads every tensor of the ones that parse): each must parse or
    /// throw a SlimError. Returns how many parsed and how many were refused.
    static func run(_ seeds: [[UInt8]], cases: Int, seed: UInt64, focus: Int? = nil,
                    parse: (MappedFile) throws -> any TensorFile) -> (parsed: Int, refused: Int) {
        var parsed = 0, refused = 0
        for i in 0..<cases {
            var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x1_0000_0001)
            let mutant = mutate(seeds[i % seeds.count], focus: focus, using: &rng)
            let file = MappedFile(data: Data(mutant), path: "/fuzz/case-\(i)")
            do {
                let f = try parse(file)
                for t in f.tensors {
                    #expect(try f.bytes(of: t).count == t.byteRange.count)
                    if t.kind.elementBytes == nil || [.f32, .f16, .bf16, .f64].contains(t.kind) {
                        #expect(try f.floats(t).count == t.elementCount, "case \(i) (seed \(seed)), tensor '\(t.name)'")
                    }
                }
                parsed += 1
            } catch is SlimError {
                refused += 1
            } catch {
                Issue.record("case \(i) (seed \(seed)) threw \(type(of: error)), not a SlimError: \(error)")
            }
        }
        return (parsed, refused)
    }
}

/// Thousands of corrupted files through both parsers: every one must parse or be refused with a
/// SlimError; none may trap, read out of bounds or allocate what the file does not hold.
@Suite struct FileFuzzTests {
    static func syntheticSafeTensors() throws -> [UInt8] {
        let url = Temporary.url("fuzz-seed.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsWriter.write([
            .init(name: "embeddings.weight", kind: .f32, shape: [4, 3], data: Data((0..<48).map { UInt8($0) })),
            .init(name: "layer.0.bias", kind: .f16, shape: [3], data: Data([0, 0x3C, 0, 0x38, 0, 0xC0])),
            .init(name: "layer.0.scale", kind: .bf16, shape: [2], data: Data([0x80, 0x3F, 0, 0])),
            .init(name: "position_ids", kind: .i64, shape: [1, 2], data: Data(count: 16)),
            .init(name: "empty", kind: .u8, shape: [0], data: Data()),
        ], metadata: ["format": "pt"], to: url)
        return Array(try Data(contentsOf: url))
    }

    static func syntheticGGUF() -> [UInt8] {
        let q8 = [0x00, 0x38] + [UInt8](repeating: 3, count: 32)
        let q41 = [0x00, 0x38, 0x00, 0xC0] + [UInt8](repeating: 0x5A, count: 16)
        return Array(TestGGUF.file(metadata: [
            ("general.architecture", .string("llama")), ("llama.block_count", .u32(2)), ("general.alignment", .u32(32)),
            ("llama.rope.freq_base", .f32(10000)), ("tokenizer.ggml.add_bos_token", .bool(false)),
            ("tokenizer.ggml.tokens", .array(type: 8, [.string("<s>"), .string("a"), .string("ü")])),
            ("tokenizer.ggml.scores", .array(type: 6, [.f32(0), .f32(-1), .f32(-2)])),
            ("tokenizer.ggml.token_type", .array(type: 5, [.i32(3), .i32(1), .i32(1)])),
            ("nested", .array(type: 9, [.array(type: 0, [.u8(1)])])),
            ("big", .u64(1 << 40)), ("neg", .i64(-5)), ("f64", .f64(0.5)), ("i8", .i8(-1)), ("u16", .u16(9)), ("i16", .i16(-9)),
        ], tensors: [
            .init(name: "token_embd.weight", type: 8, dims: [32, 2], data: q8 + q8),
            .init(name: "blk.0.attn_q.weight", type: 3, dims: [32, 1], data: q41),
            .init(name: "blk.0.attn_k.weight", type: 2, dims: [32], data: [0x00, 0x34] + [UInt8](repeating: 0x81, count: 16)),
            .init(name: "output_norm.weight", type: 0, dims: [4], data: [UInt8](repeating: 0, count: 16)),
            .init(name: "half", type: 1, dims: [2], data: [0, 0x3C, 0, 0x38]),
        ]))
    }

    @Test(.seeded) func safeTensorsSurvivesMutations() throws {
        // The real MiniLM header (11 KB of JSON) with the start of its data, and a small complete file.
        let real = try MappedFile(url: try TestAssets.miniLM.appendingPathComponent("model.safetensors"))
        let headerEnd = 8 + Int(real.bytes.loadUnaligned(as: UInt64.self).littleEndian)
        let seeds = [try Self.syntheticSafeTensors(), Array(real.bytes.prefix(headerEnd + 4096))]
        let start = Date()
        let (parsed, refused) = Mutator.run(seeds, cases: 6000, seed: TestSeed.current) { try SafeTensorsFile($0) }
        print("safetensors fuzz: \(parsed) parsed, \(refused) refused in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(parsed > 0 && refused > 0, "mutations that touch only data parse; the rest are refused")
    }

    @Test(.seeded) func ggufSurvivesMutations() {
        let start = Date()
        let (parsed, refused) = Mutator.run([Self.syntheticGGUF()], cases: 10000, seed: TestSeed.current) { try GGUFFile($0) }
        print("GGUF fuzz: \(parsed) parsed, \(refused) refused in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(parsed > 0 && refused > 0)
    }

    /// The real SmolLM2 header (1.8 MB: 49152 tokens, 48900 merges, 272 tensor descriptions) with
    /// mutations inside it and the first 64 KB of its data; few cases, as each parses ~100k strings.
    /// The file is cut far before its tensors end, so every mutant must be refused (a SlimError,
    /// checked per case): one that parsed would hold tensors past the end of the file. (Keeping the
    /// 100 MB data section instead made the run take minutes, and 97% of mutants were refused anyway;
    /// the synthetic files above exercise the accepting path.)
    @Test(.seeded) func realGGUFHeaderSurvivesMutations() throws {
        let real = try MappedFile(url: try TestAssets.smolLM2)
        let header = try GGUFFile(real).dataOffset
        let seed = Array(real.bytes.prefix(header + 65536))
        let start = Date()
        let (parsed, refused) = Mutator.run([seed], cases: 64, seed: TestSeed.current, focus: header) { try GGUFFile($0) }
        print("real GGUF header fuzz: \(parsed) parsed, \(refused) refused in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(parsed == 0, "\(parsed) mutants of a file cut short parsed: their tensors run past its end")
    }

    /// Bytes that are not a model at all, of every small length.
    @Test(.seeded) func noiseIsRefused() {
        var rng = SplitMix64(seed: TestSeed.current)
        for n in 0..<300 {
            let noise = Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let file = MappedFile(data: noise, path: "/fuzz/noise-\(n)")
            #expect(throws: SlimError.self) { _ = try GGUFFile(file) }
            #expect(throws: SlimError.self) { _ = try SafeTensorsFile(file) }
        }
    }
}
