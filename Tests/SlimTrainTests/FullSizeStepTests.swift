import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimOpenCL
import SlimTrain
import Testing

/// One full distillation step at MiniLM's real size (6-layer teacher, 3-layer
/// student, hidden 384, 12 heads, vocabulary 30,522) on the CPU and on OpenCL
/// from the same start: loss, gradient norm, every gradient and every updated
/// weight agree within fp32 tolerances.
@Suite struct FullSizeStep {
    @Test func distillationStepOnOpenCLMatchesTheCPU() throws {
        guard let opencl = Tiny.openCL else { print("note: no OpenCL device, skipped"); return }
        let teacher = ModelAssets.miniLM
        guard FileManager.default.fileExists(atPath: teacher.path) else {
            Issue.record("all-MiniLM-L6-v2 not found at \(teacher.path): run scripts/setup.sh")
            return
        }
        var o = DistillationOptions(teacher: teacher, studentLayers: 3, steps: 10)
        o.batch = 3
        o.sequence = 24
        o.learningRate = 1e-4
        o.hiddenWeight = 1
        let texts = ["A watched pot never boils, but an unwatched one boils over.", "The early bird gets the worm.",
                     "Compressing transformer models lets a laptop run them without a GPU at all, said nobody in particular."]
        var runs: [(record: StepRecord, grads: [[Float]], values: [[Float]])] = []
        var names: [String] = []
        for backend in [CPUBackend(), opencl] as [any Backend] {
            let run = try Distillation(options: o, texts: texts, backend: backend)
            let record = try run.trainStep()
            names = run.student.parameters.map(\.name)
            runs.append((record, try run.student.parameters.map { try backend.floats($0.grad) }, try run.student.parameterValues()))
        }
        let (cpu, cl) = (runs[0], runs[1])
        print("full-size step: loss cpu \(cpu.record.loss) opencl \(cl.record.loss); gradient norm \(cpu.record.gradientNorm) vs \(cl.record.gradientNorm)")
        // fp32 through 9 encoder layers in different summation orders: 1e-4 relative.
        #expect(abs(cpu.record.loss - cl.record.loss) <= 1e-4 * cpu.record.loss)
        #expect(abs(cpu.record.gradientNorm - cl.record.gradientNorm) <= 1e-3 * cpu.record.gradientNorm)
        // The key bias's gradient is zero in exact arithmetic (softmax ignores a
        // constant added to every score of a row): both backends hold rounding
        // noise there, so each tensor is measured against at least 1e-3 of the
        // largest gradient of the step.
        let global = Double(cpu.grads.flatMap { $0 }.map { abs($0) }.max() ?? 0)
        var worst = (0.0, "")
        for (name, (a, b)) in zip(names, zip(cpu.grads, cl.grads)) {
            let largest = max(Double(a.map { abs($0) }.max() ?? 0), 1e-3 * global)
            let err = Double(zip(a, b).map { abs($0 - $1) }.max()!)
            if err / largest > worst.0 { worst = (err / largest, name) }
        }
        print("full-size step: worst gradient difference \(worst.0) of the tensor's largest gradient (\(worst.1))")
        // Each tensor's gradients to 1e-4 of its largest element (seen: 2e-6).
        #expect(worst.0 <= 1e-4, "\(worst.1)")
        // The first AdamW step moves each weight by about ±lr: equal to 2·lr where gradients near 0 flip sign.
        for (a, b) in zip(cpu.values, cl.values) { #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 2e-4 }) }
    }
}
