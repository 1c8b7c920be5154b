import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimTrain
import Testing
import TestSupport

/// One full distillation step at MiniLM's real size (6-layer teacher, 3-layer
/// student, hidden 384, 12 heads, vocabulary 30,522) on the CPU and on OpenCL
/// from the same start: loss, gradient norm and every gradient agree within
/// fp32 tolerances, and each backend's AdamW update is the one its gradients call for.
@Suite struct FullSizeStep {
    @Test func distillationStepOnOpenCLMatchesTheCPU() throws {
        let opencl = try TestBackends.openCL()
        let teacher = ModelAssets.miniLM
        guard FileManager.default.fileExists(atPath: teacher.path) else {
            Issue.record("all-MiniLM-L6-v2 not found at \(teacher.path): run scripts/setup.sh")
            return
        }
        var o = DistillationOptions(teacher: teacher, studentLayers: 3, steps: 10)
        o.batch = 3
        o.sequence = 24
        // Large enough that the weight decay's part of the update (lr·λ·|w|) stands well above fp32 rounding.
        o.learningRate = 1e-3
        o.hiddenWeight = 1
        let texts = ["A watched pot never boils, but an unwatched one boils over.", "The early bird gets the worm.",
                     "Compressing transformer models lets a laptop run them without a GPU at all, said nobody in particular."]
        var runs: [(record: StepRecord, grads: [[Float]])] = []
        var names: [String] = []
        for backend in [CPUBackend(), opencl] as [any Backend] {
            let run = try Distillation(options: o, texts: texts, backend: backend)
            let before = try run.student.parameterValues()
            let record = try run.trainStep()
            names = run.student.parameters.map(\.name)
            let grads = try run.student.parameters.map { try backend.floats($0.grad) }
            let reference = AdamWReference(optimizer: AdamW(weightDecay: o.weightDecay, maxGradientNorm: o.maxGradientNorm),
                                           learningRate: record.learningRate, gradientNorm: record.gradientNorm)
            let worst = reference.expectFirstStep(names: names, decays: run.student.parameters.map(\.decays), before: before,
                                                  after: try run.student.parameterValues(), gradients: grads, on: "\(backend.id)")
            print("full-size step on \(backend.id): worst update error \(worst) lr against AdamW's first step")
            runs.append((record, grads))
        }
        let (cpu, cl) = (runs[0], runs[1])
        print("full-size step: loss cpu \(cpu.record.loss) opencl \(cl.record.loss); gradient norm \(cpu.record.gradientNorm) vs \(cl.record.gradientNorm)")
        #expect(cpu.record.gradientNorm > o.maxGradientNorm, "the step clips (so the reference's clipping is exercised): \(cpu.record.gradientNorm)")
        // fp32 through 9 encoder layers in different summation orders: 1e-4 relative.
        #expect(abs(cpu.record.loss - cl.record.loss) <= 1e-4 * cpu.record.loss)
        #expect(abs(cpu.record.gradientNorm - cl.record.gradientNorm) <= 1e-3 * cpu.record.gradientNorm)
        // The key bias's gradient is zero in exact arithmetic (softmax ignores a
        // constant added to every score of a row): both backends hold rounding
        // noise there, so each tensor is measured against at least 1e-3 of the
        // largest gradient of the step (the CPU's, the reference; it must not be 0).
        let global = Double(cpu.grads.flatMap { $0 }.map { abs($0) }.max() ?? 0)
        #expect(global > 0, "the CPU step has gradients")
        var worst = (0.0, "")
        #expect(cpu.grads.count == names.count && cl.grads.count == names.count)
        for (name, (a, b)) in zip(names, zip(cpu.grads, cl.grads)) {
            let largest = max(Double(a.map { abs($0) }.max() ?? 0), 1e-3 * global)
            // A tensor of another size, or none, is infinitely wrong (zip would compare the common part).
            let err = a.count == b.count ? Double(zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) : .infinity
            let ratio = err / largest
            if !(ratio <= worst.0), !worst.0.isNaN { worst = (ratio, name) }  // a NaN, once seen, stays
        }
        print("full-size step: worst gradient difference \(worst.0) of the tensor's largest gradient (\(worst.1))")
        // Each tensor's gradients to 1e-4 of its largest element (seen: 2e-6); NaN fails.
        #expect(worst.0 <= 1e-4, "\(worst.1)")
    }
}
