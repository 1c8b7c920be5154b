import SlimCore
import SlimModel

/// MiniLM / TinyBERT's attention-distribution loss for one student layer:
/// `weight · mean over (sequence, head, real query row) of KL(P_teacher ‖ P_student)`,
/// each `P` the softmax of a row of attention logits (temperature 1) over the
/// keys the row sees. Padded query rows are computed by the encoder but are
/// not tokens: they add nothing to the loss or its gradient.
enum AttentionKL {
    /// The loss and its gradient with respect to the student's logits
    /// (`[batch, heads, seq, seq]`, ready for ``Backend/attentionScoresBackward(_:_:gradScores:layout:options:accumulatingInto:dk:)``).
    /// `teacher` holds the teacher's logits, masked as ``Backend/attentionScores(_:_:layout:options:into:)`` writes them.
    static func evaluate(q: Tensor, k: Tensor, teacher: Tensor, batch: EncoderBatch, layout: BlockSparseLayout,
                         options: AttentionOptions, weight: Double, on b: any Backend) throws -> (loss: Double, gradScores: Tensor) {
        let heads = q.shape[2], L = batch.sequence
        let shape: Shape = [batch.batch, heads, L, L]
        guard teacher.shape.rank == 4, teacher.shape[1] == heads else {
            throw SlimError.shapeMismatch(op: "attention KL", detail: "teacher scores \(teacher.label) have \(teacher.shape.rank == 4 ? teacher.shape[1] : 0) heads but the student layer has \(heads): the KL compares head by head")
        }
        guard teacher.shape == shape else {
            throw SlimError.shapeMismatch(op: "attention KL", detail: "teacher scores \(teacher.label) for student scores \(shape) [batch, heads, seq, seq]")
        }
        let student = try b.allocate(shape, name: "student attention scores")
        try b.attentionScores(q, k, layout: layout, options: options, into: student)
        let count = Double(heads * batch.lengths.reduce(0, +))
        let perRow = try b.allocate([batch.batch * heads * L], name: "attention KL rows")
        let gradient = try b.allocate(shape, name: "dAttentionScores")
        try b.softmaxLossRows(student, target: .logits(teacher), temperature: 1, loss: perRow, gradient: gradient,
                              gradientScale: Float(weight / count))
        // Padded query rows: their gradient rows are zeroed, their losses skipped.
        let padded = batch.lengths.map { L - $0 }
        if let longest = padded.max(), longest > 0 {
            let zeros = try b.tensor([Float](repeating: 0, count: longest * L), shape: [longest * L], name: "zeros")
            for (s, n) in padded.enumerated() where n > 0 {
                for h in 0..<heads {
                    try b.copyElements(zeros, from: 0, to: gradient, at: ((s * heads + h) * L + L - n) * L, count: n * L)
                }
            }
        }
        let rows = try b.floats(perRow)
        var sum = 0.0
        for s in 0..<batch.batch { for h in 0..<heads { for i in 0..<batch.lengths[s] { sum += Double(rows[(s * heads + h) * L + i]) } } }
        return (weight * sum / count, gradient)
    }
}
