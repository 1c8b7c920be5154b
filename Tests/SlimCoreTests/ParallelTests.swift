import Foundation
import SlimCore
import SlimParallel
import Testing
import TestSupport

/// Issue 20: the pieces every data-parallel job is built from — exact sums that
/// give the same bits however they are split, ranks as threads, agreement checks.
@Suite struct ParallelTests {
    /// Values over 60 binades (2^-30 … 2^30), both signs: float32 or float64 accumulation would
    /// depend on the order here.
    static func contributions(_ count: Int, length: Int, rng: inout SplitMix64) -> [[Float]] {
        (0..<count).map { _ in (0..<length).map { _ in rng.uniform() * Float(pow(2.0, Double(Int.random(in: -30...30, using: &rng)))) } }
    }

    /// 11 contributions of 1001 values, summed by one rank and split over 1, 2, 3 and 4 thread ranks
    /// (uneven shares): the same bits everywhere, and within the truncation bound of a float64
    /// reference (each value loses less than 2^-64, then one rounding to double).
    @Test(.seeded) func exactSumIsTheSameBitsHoweverSplit() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let parts = Self.contributions(11, length: 1001, rng: &rng)
        var one = ExactSum(count: 1001, name: "test")
        for p in parts { try one.add(p) }
        let single = try one.total(over: SingleProcess(), step: "test")
        // Reference: a compensated (TwoSum) float64 sum, error far below the bound checked.
        for i in 0..<1001 {
            var s = 0.0, c = 0.0
            for p in parts {
                let v = Double(p[i]), t = s + v
                c += abs(s) >= abs(v) ? (s - t) + v : (v - t) + s
                s = t
            }
            let reference = s + c, bound = 11 * pow(2.0, -64) + abs(reference) * pow(2.0, -52)
            #expect(abs(single[i] - reference) <= bound, "element \(i): \(single[i]) vs \(reference)")
        }
        for size in 1...4 {
            let results = onRanks(size) { ranks in
                var mine = ExactSum(count: 1001, name: "test")
                for p in parts[ranks.share(of: parts.count)] { try mine.add(p) }
                return try mine.total(over: ranks, step: "test")
            }
            for (r, result) in results.enumerated() {
                let total = try result.get()
                #expect(total.map(\.bitPattern) == single.map(\.bitPattern), "\(size) ranks, rank \(r): not the one-rank bits")
            }
        }
    }

    /// A symmetric matrix's sum kept as its packed upper triangle (the Hessians' half-memory form)
    /// holds, bit for bit, what the full sum holds in those places, split over ranks or not; and a
    /// sum longer than one exchange chunk crosses the chunk boundaries intact.
    @Test(.seeded) func upperTriangleSumIsTheFullSumsUpperHalf() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let side = 37, parts = Self.contributions(5, length: side * side, rng: &rng)
        var full = ExactSum(count: side * side, name: "full")
        for p in parts { try full.add(p) }
        let fullTotal = try full.total(over: SingleProcess(), step: "test")
        let upper = (0..<side).flatMap { i in (i..<side).map { j in fullTotal[i * side + j] } }
        for size in 1...3 {
            let results = onRanks(size) { ranks in
                var mine = ExactSum(count: side * (side + 1) / 2, name: "triangle")
                for p in parts[ranks.share(of: parts.count)] { try mine.addUpperTriangle(p, side: side) }
                return try mine.total(over: ranks, step: "test")
            }
            for (r, result) in results.enumerated() {
                #expect(try result.get().map(\.bitPattern) == upper.map(\.bitPattern), "\(size) ranks, rank \(r)")
            }
        }
        // Past one exchange chunk, over 2 ranks: every element lands in its place.
        let long = ExactSum.exchangeChunk + 3
        let results = onRanks(2) { ranks in
            var mine = ExactSum(count: long, name: "long")
            try mine.add((0..<long).map { Float($0 % 1000) * (ranks.rank == 0 ? 1 : 2) })
            return try mine.total(over: ranks, step: "test")
        }
        for result in results {
            let total = try result.get()
            let wrong = (0..<long).first { total[$0] != Double($0 % 1000) * 3 }
            #expect(wrong == nil, "element \(wrong ?? -1) of \(long)")
        }
        var bad = ExactSum(count: 6, name: "H t")
        do { try bad.addUpperTriangle([1, 2, 3, 9, 4, .nan, 9, 9, 5], side: 3); Issue.record("NaN was summed") } catch {
            #expect("\(error)".contains("H t") && "\(error)".contains("element 4"), "\(error)")
        }
    }

    @Test func exactSumRefusesWhatItCannotHold() throws {
        var sum = ExactSum(count: 3, name: "H q")
        #expect(throws: SlimError.self) { try sum.add([1, .nan, 2] as [Float]) }
        #expect(throws: SlimError.self) { try sum.add([1, 0x1p62, 2] as [Double]) }
        #expect(throws: SlimError.self) { try sum.add([1, 2] as [Float]) }
        do { try sum.add([1, .infinity, 2] as [Float]); Issue.record("∞ was summed") } catch {
            #expect("\(error)".contains("H q") && "\(error)".contains("element 1"), "\(error)")
        }
    }

    /// Shares are contiguous, in rank order, cover every item once and differ by at most one.
    @Test func sharesCoverEveryItemInOrder() {
        for count in [0, 1, 7, 128, 129] {
            for size in 1...9 {
                let shares = (0..<size).map { SingleProcess.share(of: count, rank: $0, size: size) }
                #expect(shares.flatMap { Array($0) } == Array(0..<count), "\(count) items over \(size) ranks")
                #expect((shares.map(\.count).max() ?? 0) - (shares.map(\.count).min() ?? 0) <= 1)
            }
        }
    }

    /// A rank that never arrives ends the collective with an error naming it, after the timeout, not a hang.
    @Test func aMissingRankIsNamedAfterTheTimeout() throws {
        let start = Date()
        let results = onRanks(3, timeout: 0.5) { ranks -> [Int64] in
            guard ranks.rank != 2 else { return [] }
            return try ranks.allReduceSum([1], step: "step 7: summing gradients")
        }
        #expect(Date().timeIntervalSince(start) < 10)
        for r in 0..<2 {
            #expect(throws: SlimError.self) { try results[r].get() }
            if case .failure(let error) = results[r] {
                #expect("\(error)".contains("rank 2 of 3") && "\(error)".contains("step 7"), "\(error)")
            }
        }
    }

    /// The start-of-job check names the rank whose command line differs from rank 0's.
    @Test func agreementNamesTheDisagreeingRank() throws {
        let results = onRanks(4) { ranks in
            try ranks.agree(on: ranks.rank == 2 ? "slim distill --steps 6" : "slim distill --steps 5", what: "command line")
        }
        for result in results {
            #expect(throws: SlimError.self) { try result.get() }
            if case .failure(let error) = result { #expect("\(error)".contains("rank 2 of 4"), "\(error)") }
        }
        let agreeing = onRanks(4) { try $0.agree(on: "same", what: "command line") }
        for result in agreeing { #expect(throws: Never.self) { try result.get() } }
    }

    /// All-gather returns every rank's values in rank order; sums of int64 are exact.
    @Test func gatherAndSumOverThreads() throws {
        let results = onRanks(3) { ranks -> ([[Double]], [Int64]) in
            (try ranks.allGather([Double(ranks.rank), -1], step: "test"), try ranks.allReduceSum([Int64(ranks.rank) << 40, 1], step: "test"))
        }
        for result in results {
            let (gathered, sums) = try result.get()
            #expect(gathered == [[0, -1], [1, -1], [2, -1]])
            #expect(sums == [3 << 40, 3])
        }
    }
}
