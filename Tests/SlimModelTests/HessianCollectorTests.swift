import Foundation
@testable import SlimCompress
import SlimCore
import SlimCPU
import SlimParallel
import Testing
import TestSupport

/// The Hessian of a layer's inputs as the layer-wise pipeline sums it: exactly, kept as a packed
/// upper triangle (half the memory of the full matrix) and mirrored when taken.
@Suite struct HessianCollectorTests {
    /// Three sequences of 11×29 inputs (29 is no tile's multiple): the exact sum is symmetric, within
    /// float32 GEMM rounding of the float64 2·XᵀX, and equal bit for bit to the float32 device sum's
    /// upper triangle where every product is exact (small integers).
    @Test(.seeded) func exactHessianIsTheMirroredTriangleOfTwoXTX() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let backend = CPUBackend(), k = 29, tokens = 11
        let sequences = (0..<3).map { _ in (0..<tokens * k).map { _ in Float(Int(rng.uniform() * 17) - 8) } }
        // Panels of 3 rows (the last one 2): the product is read to the host in 10 pieces.
        let exact = HessianCollector(backend: backend, exactOver: SingleProcess(), panelElements: 3 * k + 5) { $0 }
        let onDevice = HessianCollector(backend: backend) { $0 }
        for x in sequences {
            let t = try backend.tensor(x, shape: [tokens, k], name: "x")
            try exact.observe("q", t)
            try onDevice.observe("q", t)
        }
        let h = try #require(try exact.take("q"))
        let reference = try #require(try onDevice.take("q"))
        #expect(h.count == k * k)
        for i in 0..<k {
            for j in 0..<k {
                var want = 0.0
                for x in sequences { for t in 0..<tokens { want += 2 * Double(x[t * k + i]) * Double(x[t * k + j]) } }
                #expect(h[i * k + j] == want, "H[\(i),\(j)] = \(h[i * k + j]), want \(want)")
                #expect(h[i * k + j].bitPattern == h[j * k + i].bitPattern)
                #expect(reference[i * k + j] == want)
            }
        }
        #expect(try exact.take("q") == nil, "taken twice")
    }

    @Test func symmetricFromTriangleMirrors() {
        var packed: [Double] = [1, 2, 3, 4, 5, 6]
        #expect(HessianCollector.symmetric(fromUpperTriangle: &packed) == [1, 2, 3, 2, 4, 5, 3, 5, 6])
        #expect(packed.isEmpty)
    }
}
