import Foundation
import SlimCore
import Testing

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's crosses many blocks and the length encoding.
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        var h = SHA256()
        h.update(Array("hello ".utf8))
        h.update(Array(repeating: 0x20, count: 100))
        h.update("world")
        let oneShot = SHA256.hex(Array("hello ".utf8) + Array(repeating: 0x20, count: 100) + Array("world".utf8))
        let incremental = h.finalize().map { String(format: "%02x", $0) }.joined()
        // One-shot hashing is update-then-finalize too: pin both to Python's hashlib, not only to each other.
        #expect(oneShot == "f8ef4ad2e74572d2bc90c2531dcbb6cc77a50257cbe4fa92da51199e9c95a3cc")
        #expect(incremental == oneShot)
    }
}

@Suite struct ShapeAndTypes {
    @Test func shapeParsingAndCounts() {
        #expect(Shape(parsing: "64x4096x4096") == [64, 4096, 4096])
        #expect(Shape(parsing: "64x") == nil)
        #expect(Shape(parsing: "0x3") == nil)
        let s: Shape = [2, 3, 5]
        #expect(s.elementCount == 30 && s.outerCount == 6 && s.innermost == 5 && s[-1] == 5)
        #expect(DType.q4.byteCount(elements: 7) == 4)
        #expect(DType.f32.byteCount(elements: 7) == 28)
    }

    @Test func gemmShapeResolution() throws {
        let gemm = GemmShape(m: 64, n: 4096, k: 4096)
        #expect(gemm.flops == 2 * 64 * 4096 * 4096)
    }

    @Test func backendChoiceParsing() throws {
        #expect(try BackendChoice(parsing: "auto") == .auto)
        #expect(try BackendChoice(parsing: "OpenCL") == .opencl)
        #expect(throws: SlimError.unknownBackend("metal")) { try BackendChoice(parsing: "metal") }
    }

    @Test func layoutValidation() throws {
        let dense = try BlockSparseLayout.dense(queryLength: 100, keyLength: 100, blockSize: 32)
        #expect(dense.keptBlocks == 16 && dense.queryBlocks == 4)
        #expect(throws: SlimError.self) {
            try BlockSparseLayout(queryLength: 64, keyLength: 64, blockSize: 32, rows: [[1, 0], [0]])
        }
    }

    @Test func errorsSayWhatWhereAndWhy() {
        let e = SlimError.openCL(call: "clCreateBuffer", status: -4, statusName: "CL_MEM_OBJECT_ALLOCATION_FAILURE", detail: "'w' [4096x4096] f32")
        #expect(e.description == "clCreateBuffer failed with CL_MEM_OBJECT_ALLOCATION_FAILURE (-4): 'w' [4096x4096] f32")
    }
}
