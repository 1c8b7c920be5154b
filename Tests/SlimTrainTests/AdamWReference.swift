import SlimTrain
import Testing

/// What AdamW's first step must do to every weight, in float64 from the
/// gradients the backend itself computed. At step 1 the bias-corrected moments
/// are m̂ = g and v̂ = g², so the update is
/// `w·(d − 1) − lr·g/(|g| + ε)` with g scaled by the clipping factor and
/// d = 1 − lr·λ the decay (matrices only). Comparing `after − before` with it
/// checks the update itself: comparing weights would not, as every weight moves
/// by about ±lr whatever the gradient, so two backends' weights agree to 2·lr
/// even when one of them updates wrongly.
struct AdamWReference {
    let optimizer: AdamW
    /// The rate the schedule gave step 1, and the gradient norm before clipping.
    let learningRate: Double, gradientNorm: Double

    /// Expects every element's update within 3 ulp of its weight (the fp32 multiply and
    /// subtract that apply it) plus 1e-5·lr (fp32 rounding of the step itself): a lost
    /// bias correction (3x the step), a flipped sign (2x) or a missing decay (lr·λ·|w|,
    /// 30x the bound at |w| = 0.1, lr = 1e-3) is far outside. Returns the worst error in units of lr.
    @discardableResult
    func expectFirstStep(names: [String], decays: [Bool], before: [[Float]], after: [[Float]], gradients: [[Float]],
                         on backend: String, sourceLocation: SourceLocation = #_sourceLocation) -> Double {
        let lr = Double(Float(learningRate)), epsilon = Double(optimizer.epsilon)
        let clip = gradientNorm > optimizer.maxGradientNorm ? optimizer.maxGradientNorm / (gradientNorm + 1e-6) : 1
        var worst = 0.0
        #expect(names.count == before.count && before.count == after.count && after.count == gradients.count,
                sourceLocation: sourceLocation)
        for (i, name) in names.enumerated() {
            // The decay factor as the optimizer rounds it to fp32.
            let d = decays[i] ? Double(1 - Float(learningRate) * optimizer.weightDecay) : 1
            var wrong = 0, first = ""
            #expect(before[i].count == after[i].count && after[i].count == gradients[i].count, "\(name)", sourceLocation: sourceLocation)
            for j in before[i].indices {
                let w = Double(before[i][j]), g = Double(gradients[i][j]) * clip
                let want = w * (d - 1) - lr * g / (abs(g) + epsilon)
                let got = Double(after[i][j]) - w
                let err = abs(got - want)
                worst = max(worst, err / lr)
                // Written so that NaN fails.
                if !(err <= 3 * Double(max(abs(before[i][j]), abs(after[i][j])).ulp) + 1e-5 * lr) {
                    if wrong == 0 { first = "[\(j)]: moved \(got), AdamW's first step \(want) (weight \(w), gradient \(g))" }
                    wrong += 1
                }
            }
            #expect(wrong == 0, "\(backend): \(wrong) updates of \(name) wrong, first \(first)", sourceLocation: sourceLocation)
        }
        return worst
    }
}
