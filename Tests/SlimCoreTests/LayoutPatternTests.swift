import SlimCore
import Testing
import TestSupport

/// Every layout generator against the pattern's definition, element by element.
@Suite struct LayoutPatternTests {
    func expectPattern(_ layout: BlockSparseLayout, _ name: String, _ want: (Int, Int) -> Bool,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        var wrong = 0, first = ""
        for i in 0..<layout.queryLength {
            for j in 0..<layout.keyLength where layout.sees(query: i, key: j) != want(i, j) {
                if wrong == 0 { first = "query \(i), key \(j): layout says \(layout.sees(query: i, key: j))" }
                wrong += 1
            }
        }
        #expect(wrong == 0, "\(name): \(wrong) elements differ, first at \(first)", sourceLocation: sourceLocation)
        // The transposed lists hold exactly the kept blocks.
        for c in 0..<layout.keyBlocks {
            let rows = layout.transposedRows[Int(layout.transposedStarts[c])..<Int(layout.transposedStarts[c + 1])].map(Int.init)
            let want = (0..<layout.queryBlocks).filter { layout.keptColumns(ofRow: $0).contains(c) }
            #expect(rows == want, "\(name): transposed column \(c)", sourceLocation: sourceLocation)
        }
    }

    @Test func causalAndWindows() throws {
        expectPattern(try .causal(queryLength: 100, blockSize: 16), "causal") { i, j in j <= i }
        expectPattern(try .causal(queryLength: 30, keyLength: 130, blockSize: 16), "causal after a cache") { i, j in j <= i + 100 }
        expectPattern(try .window(queryLength: 90, blockSize: 16, left: 13, right: 7), "window") { i, j in j >= i - 13 && j <= i + 7 }
        expectPattern(try .window(queryLength: 77, blockSize: 16, left: 20, right: 0, causal: true), "causal window") { i, j in
            j <= i && j >= i - 20
        }
        expectPattern(try BlockSparseLayout.window(queryLength: 90, blockSize: 16, left: 13, right: 7).addingGlobalTokens(5),
                      "window + global") { i, j in i < 5 || j < 5 || (j >= i - 13 && j <= i + 7) }
    }

    @Test func blockPatterns() throws {
        let bs = 16
        expectPattern(try .dilated(length: 200, blockSize: bs, reach: 2, dilation: 3), "dilated") { i, j in
            [0, 3, 6].contains(abs(i / bs - j / bs))
        }
        expectPattern(try .dilated(length: 200, blockSize: bs, reach: 2, dilation: 3, causal: true), "causal dilated") { i, j in
            [0, 3, 6].contains(i / bs - j / bs) && j <= i
        }
        expectPattern(try .strided(length: 250, blockSize: bs, stride: 64), "strided") { i, j in
            let (r, c) = (i / bs, j / bs)
            return j <= i && (r - c < 4 || c % 4 == r % 4)
        }
        expectPattern(try .fixed(length: 250, blockSize: bs, stride: 64), "fixed") { i, j in
            let (r, c) = (i / bs, j / bs)
            return j <= i && (c / 4 == r / 4 || c % 4 == 3)
        }
        expectPattern(try .blockDiagonal(lengths: [32, 48, 20], blockSize: bs), "block-diagonal") { i, j in
            let segment = { (t: Int) in t < 32 ? 0 : t < 80 ? 1 : 2 }
            return segment(i) == segment(j)
        }
        let mask = (0..<5).map { r in (0..<4).map { c in (r + c) % 3 == 0 } }
        expectPattern(try .custom(queryLength: 70, keyLength: 60, blockSize: bs, blockMask: mask), "custom") { i, j in
            mask[i / bs][j / bs]
        }
    }

    @Test(.seeded) func bigBirdIsSeededWindowGlobalAndRandom() throws {
        let seed = TestSeed.current
        let a = try BlockSparseLayout.bigBird(length: 320, blockSize: 16, windowBlocks: 1, globalBlocks: 1, randomBlocks: 3, seed: seed)
        let b = try BlockSparseLayout.bigBird(length: 320, blockSize: 16, windowBlocks: 1, globalBlocks: 1, randomBlocks: 3, seed: seed)
        let c = try BlockSparseLayout.bigBird(length: 320, blockSize: 16, windowBlocks: 1, globalBlocks: 1, randomBlocks: 3, seed: seed &+ 1)
        #expect(a == b, "the same seed gives the same layout")
        #expect(a != c, "another seed gives other random blocks")
        #expect(a.keptColumns(ofRow: 0) == Array(0..<20), "global row sees everything")
        for r in 1..<20 {
            let kept = Set(a.keptColumns(ofRow: r))
            let fixed = Set(max(0, r - 1)...min(19, r + 1)).union([0])
            #expect(fixed.isSubset(of: kept) && kept.count == fixed.count + 3, "row \(r): window, global and 3 random blocks")
        }
    }

    @Test func sizeGrowsWithKeptBlocksNotSquared() throws {
        let sizes = try [2048, 4096, 8192, 16384].map {
            try BlockSparseLayout.window(queryLength: $0, blockSize: 64, left: 128, right: 128).byteCount
        }
        for (small, large) in zip(sizes, sizes.dropFirst()) {
            #expect(Double(large) / Double(small) < 2.1, "doubling the length about doubles the layout: \(sizes)")
        }
    }

    @Test func badArgumentsAreErrors() {
        #expect(throws: SlimError.self) { try BlockSparseLayout.causal(queryLength: 10, blockSize: 8) }
        #expect(throws: SlimError.self) { try BlockSparseLayout.window(queryLength: 10, blockSize: 16, left: -1, right: 0) }
        #expect(throws: SlimError.self) { try BlockSparseLayout.strided(length: 100, blockSize: 16, stride: 20) }
        #expect(throws: SlimError.self) { try BlockSparseLayout.blockDiagonal(lengths: [10, 20], blockSize: 16) }
        #expect(throws: SlimError.self) {
            try BlockSparseLayout.custom(queryLength: 32, keyLength: 32, blockSize: 16, blockMask: [[true], [true]])
        }
    }
}
