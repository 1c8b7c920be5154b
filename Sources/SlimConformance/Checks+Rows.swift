import Foundation
import SlimCore

extension ConformanceCatalogue {
    /// Row shapes [rows, width]: widths that are multiples of nothing, one past
    /// the GPU row's 256-wide reduction, and a row longer than a work-group's sweep.
    static func rowShapes(quick: Bool) -> [[Int]] { quick ? [[3, 37], [2, 259]] : [[7, 301], [33, 257], [1, 4097]] }

    /// The row-wise ops: softmax and its backward, layer norm (output and saved
    /// statistics) and its backward, RMSNorm, and every reduction.
    static func rowChecks(quick: Bool) -> [ConformanceCheck] {
        var checks: [ConformanceCheck] = []
        for dims in rowShapes(quick: quick) {
            let shape = Shape(dims), (rows, width) = (dims[0], dims[1]), label = "\(rows)x\(width)"
            checks.append(ConformanceCheck(op: "softmaxRows", detail: label) { backend, rng in
                let x = draw(rows * width, scale: 4, &rng), out = try poisoned(backend, shape)
                try backend.softmaxRows(try backend.tensor(x, shape: shape), into: out)
                return nmse(try backend.floats(out), referenceSoftmax(x, width: width))
            })
            checks.append(ConformanceCheck(op: "softmaxRowsBackward", detail: label) { backend, rng in
                let y = referenceSoftmax(draw(rows * width, scale: 4, &rng), width: width).map { Float($0) }, dy = draw(rows * width, &rng)
                let dx = try poisoned(backend, shape)
                try backend.softmaxRowsBackward(try backend.tensor(y, shape: shape), gradOutput: try backend.tensor(dy, shape: shape), into: dx)
                return nmse(try backend.floats(dx), softmaxBackwardReference(y.map(Double.init), dy.map(Double.init), width: width))
            })
            checks.append(ConformanceCheck(op: "layerNorm", detail: label) { backend, rng in
                // An offset mean, so a one-pass variance would lose digits.
                let x = draw(rows * width, &rng).map { $0 + 3 }, gamma = draw(width, &rng), beta = draw(width, &rng)
                let out = try poisoned(backend, shape), stats = NormStatistics(mean: try poisoned(backend, [rows]), rstd: try poisoned(backend, [rows]))
                try backend.layerNorm(try backend.tensor(x, shape: shape), gamma: try backend.tensor(gamma, shape: [width]),
                                      beta: try backend.tensor(beta, shape: [width]), epsilon: 1e-5, into: out, saving: stats)
                let want = referenceLayerNorm(x, gamma: gamma, beta: beta, eps: 1e-5, width: width)
                return worst([nmse(try backend.floats(out), want.y), nmse(try backend.floats(stats.mean), want.mean),
                              nmse(try backend.floats(stats.rstd), want.rstd)])
            })
            checks.append(ConformanceCheck(op: "layerNormBackward", detail: label) { backend, rng in
                let x = draw(rows * width, &rng), gamma = draw(width, &rng), dy = draw(rows * width, &rng)
                let tx = try backend.tensor(x, shape: shape), tg = try backend.tensor(gamma, shape: [width])
                let stats = NormStatistics(mean: try poisoned(backend, [rows]), rstd: try poisoned(backend, [rows]))
                try backend.layerNorm(tx, gamma: tg, beta: try backend.tensor(draw(width, &rng), shape: [width]), epsilon: 1e-5,
                                      into: try poisoned(backend, shape), saving: stats)
                let grads = LayerNormGradients(dx: try poisoned(backend, shape), dGamma: try poisoned(backend, [width]),
                                               dBeta: try poisoned(backend, [width]))
                try backend.layerNormBackward(tx, gamma: tg, stats: stats, gradOutput: try backend.tensor(dy, shape: shape), into: grads)
                let want = layerNormBackwardReference(x.map(Double.init), gamma: gamma.map(Double.init), dy: dy.map(Double.init),
                                                      width: width, eps: 1e-5)
                return worst([nmse(try backend.floats(grads.dx), want.dx), nmse(try backend.floats(grads.dGamma), want.dGamma),
                              nmse(try backend.floats(grads.dBeta), want.dBeta)])
            })
            checks.append(ConformanceCheck(op: "rmsNorm", detail: label) { backend, rng in
                let x = draw(rows * width, &rng), weight = draw(width, &rng), out = try poisoned(backend, shape)
                try backend.rmsNorm(try backend.tensor(x, shape: shape), weight: try backend.tensor(weight, shape: [width]), epsilon: 1e-5, into: out)
                let want = (0..<rows * width).map { i -> Double in
                    let row = x[i / width * width ..< (i / width + 1) * width].map(Double.init)
                    return Double(x[i]) / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-5).squareRoot() * Double(weight[i % width])
                }
                return nmse(try backend.floats(out), want)
            })
            for reduction in Reduction.allCases {
                checks.append(ConformanceCheck(op: "reduceRows", detail: "\(reduction) \(label)") { backend, rng in
                    let x = draw(rows * width, &rng), out = try poisoned(backend, [rows])
                    try backend.reduceRows(try backend.tensor(x, shape: shape), reduction, into: out)
                    let want = (0..<rows).map { r -> Double in
                        let row = x[r * width ..< (r + 1) * width].map(Double.init)
                        switch reduction {
                        case .sum: return row.reduce(0, +)
                        case .mean: return row.reduce(0, +) / Double(width)
                        case .max: return row.max()!
                        case .sumOfSquares: return row.reduce(0) { $0 + $1 * $1 }
                        }
                    }
                    return nmse(try backend.floats(out), want)
                })
            }
        }
        return checks
    }
}
