import Foundation
import SlimCore
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Truncated SVD of a weight, W ≈ A·B with A `[rows, rank]` and B
/// `[rank, columns]`, stored as two factors and run as two GEMMs.
///
/// The singular vectors come from the eigenvectors of the smaller Gram matrix
/// (W·Wᵀ or Wᵀ·W, at most 384×384 for MiniLM) through LAPACK's `dsyevd` in
/// double precision, which keeps the leading directions accurate.
public struct LowRankFactors: Sendable {
    public let a: [Float], b: [Float]
    public let rows: Int, columns: Int, rank: Int

    /// The rank whose two factors hold `keep` of the weight's parameters.
    public static func rank(keeping keep: Double, rows: Int, columns: Int) -> Int {
        max(1, min(min(rows, columns), Int(keep * Double(rows * columns) / Double(rows + columns))))
    }

    public init(_ w: [Float], rows n: Int, columns k: Int, rank: Int) throws {
        let r = min(rank, min(n, k))
        guard r >= 1, w.count == n * k else { throw SlimError.invalidArgument("low rank: rank \(rank) for a \(n)x\(k) weight") }
        let wide = n <= k, m = wide ? n : k
        // The Gram matrix of the shorter side, in double.
        var gram = [Double](repeating: 0, count: m * m)
        for i in 0..<m {
            for j in i..<m {
                var s = 0.0
                if wide { for t in 0..<k { s += Double(w[i * k + t]) * Double(w[j * k + t]) } }
                else { for t in 0..<n { s += Double(w[t * k + i]) * Double(w[t * k + j]) } }
                gram[i * m + j] = s
                gram[j * m + i] = s
            }
        }
        let vectors = try Self.topEigenvectors(&gram, m, count: r)  // r columns of length m, row-major [m, r]
        self.rows = n; self.columns = k; self.rank = r
        if wide {
            // W = U Σ Vᵀ with U from W·Wᵀ: A = U_r, B = U_rᵀ·W.
            a = vectors.map(Float.init)
            var bb = [Float](repeating: 0, count: r * k)
            for c in 0..<r { for t in 0..<k { var s = 0.0; for i in 0..<n { s += vectors[i * r + c] * Double(w[i * k + t]) }; bb[c * k + t] = Float(s) } }
            b = bb
        } else {
            // V from Wᵀ·W: A = W·V_r, B = V_rᵀ.
            var aa = [Float](repeating: 0, count: n * r)
            for i in 0..<n { for c in 0..<r { var s = 0.0; for t in 0..<k { s += Double(w[i * k + t]) * vectors[t * r + c] }; aa[i * r + c] = Float(s) } }
            a = aa
            b = (0..<r * k).map { Float(vectors[($0 % k) * r + $0 / k]) }
        }
    }

    /// The product A·B, for error measurements.
    public var product: [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for c in 0..<rank { let x = a[i * rank + c]; for t in 0..<columns { out[i * columns + t] += x * b[c * columns + t] } } }
        return out
    }

    /// The eigenvectors of the `count` largest eigenvalues of a symmetric matrix, as columns of `[m, count]`.
    static func topEigenvectors(_ g: inout [Double], _ m: Int, count r: Int) throws -> [Double] {
        var eigenvalues = [Double](repeating: 0, count: m)
        var n = Int32(m), lda = Int32(m), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1, workSize = 0.0, iworkSize: Int32 = 0
        let jobz: CChar = 86 /* V */, uplo: CChar = 85 /* U */
        var jz = jobz, up = uplo
        dsyevd_(&jz, &up, &n, &g, &lda, &eigenvalues, &workSize, &lwork, &iworkSize, &liwork, &info)
        lwork = Int32(workSize); liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jz, &up, &n, &g, &lda, &eigenvalues, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw SlimError.invalidArgument("low rank: the eigensolver failed (LAPACK info \(info))") }
        // dsyevd returns ascending eigenvalues; column j of the column-major result is g[j*m ..< (j+1)*m].
        var out = [Double](repeating: 0, count: m * r)
        for c in 0..<r {
            let column = m - 1 - c
            for i in 0..<m { out[i * r + c] = g[column * m + i] }
        }
        return out
    }
}
