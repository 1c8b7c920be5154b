import Foundation
import SlimCore

/// Linear warm-up to the peak learning rate, then cosine decay to `floor · peak` at the last step.
public struct LearningRateSchedule: Sendable, Equatable {
    public var peak: Double, warmupSteps: Int, totalSteps: Int, floor: Double
    public init(peak: Double, warmupSteps: Int, totalSteps: Int, floor: Double = 0) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.floor = floor
    }

    /// The rate of 1-based step `step`.
    public func rate(at step: Int) -> Double {
        if step <= warmupSteps { return peak * Double(step) / Double(max(warmupSteps, 1)) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        return peak * (floor + (1 - floor) * 0.5 * (1 + cos(.pi * progress)))
    }
}

/// AdamW over a list of parameters, after scaling every gradient so that the
/// global L2 norm is at most `maxGradientNorm` (PyTorch's `clip_grad_norm_`).
public struct AdamW: Sendable {
    public var weightDecay: Float = 0.01
    public var maxGradientNorm: Double = 1
    public var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    public init(weightDecay: Float = 0.01, maxGradientNorm: Double = 1) {
        self.weightDecay = weightDecay
        self.maxGradientNorm = maxGradientNorm
    }

    /// The global L2 norm of the gradients (float64 sum of per-row sums of squares).
    public static func gradientNorm(_ parameters: [Parameter], on b: any Backend) throws -> Double {
        var total = 0.0
        for p in parameters {
            let rows = p.grad.shape.rank == 1 ? 1 : p.grad.shape.outerCount
            let sums = try b.allocate([rows], name: "grad.sumsq")
            try b.reduceRows(try p.grad.reshaped([rows, p.grad.elementCount / rows]), .sumOfSquares, into: sums)
            total += try b.floats(sums).reduce(0.0) { $0 + Double($1) }
        }
        return total.squareRoot()
    }

    /// One update of every parameter at 1-based `step` with rate `learningRate`; returns the gradient norm before clipping.
    @discardableResult
    public func step(_ parameters: [Parameter], step: Int, learningRate: Double, on b: any Backend) throws -> Double {
        let norm = try Self.gradientNorm(parameters, on: b)
        guard norm.isFinite else { throw SlimError.invalidArgument("the gradient norm is \(norm) at step \(step): training diverged") }
        let clip = norm > maxGradientNorm ? Float(maxGradientNorm / (norm + 1e-6)) : 1
        for p in parameters {
            var s = AdamWStep(learningRate: Float(learningRate), step: step)
            s.beta1 = beta1; s.beta2 = beta2; s.epsilon = epsilon
            s.weightDecay = p.decays ? weightDecay : 0
            s.gradientScale = clip
            try b.adamW(p.value, gradient: p.grad, state: p.state, step: s)
        }
        return norm
    }
}
