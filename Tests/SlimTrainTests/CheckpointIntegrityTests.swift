import Foundation
import SlimCore
import SlimCPU
import SlimModel
import SlimTrain
import Testing
import TestSupport

/// A checkpoint whose bytes changed on disk (a bad sector, a copy cut short
/// and patched) is refused by `resume`, naming the file and the tensor,
/// instead of training on from NaNs.
@Suite struct CheckpointIntegrity {
    static func run(_ teacher: URL) throws -> Distillation {
        var o = DistillationOptions(teacher: teacher, studentLayers: 1, steps: 4)
        o.batch = 2
        o.sequence = 8
        return try Distillation(options: o, texts: TrainingAwareCompression.texts, backend: CPUBackend())
    }

    @Test(.seeded) func aFlippedByteInACheckpointStopsTheResumeNamingTheTensor() throws {
        let teacher = try StudentLoading.folder("checkpoint-teacher", seed: TestSeed.current)
        let checkpoint = teacher.appendingPathExtension("checkpoint.safetensors")
        defer { for f in [teacher, checkpoint] { try? FileManager.default.removeItem(at: f) } }
        let first = try Self.run(teacher)
        try first.trainStep()
        try first.saveCheckpoint(to: checkpoint)
        try Self.run(teacher).resume(from: checkpoint)  // intact: resumes

        let tensor = "adam_v.encoder.layer.0.output.dense.weight"
        let range = try SafeTensorsFile(contentsOf: checkpoint).tensor(named: tensor).byteRange
        var data = try Data(contentsOf: checkpoint)
        data[range.lowerBound + range.count / 2] ^= 0x01
        try data.write(to: checkpoint)
        do {
            try Self.run(teacher).resume(from: checkpoint)
            Issue.record("resumed from a corrupt checkpoint")
        } catch let SlimError.malformedFile(path, detail) {
            #expect(path == checkpoint.path)
            #expect(detail.contains("tensor '\(tensor)'") && detail.contains("checksum"), "\(detail)")
        }
    }
}
