import Foundation
import SlimCore
import SlimModel

/// Which teacher layers a student of fewer layers starts from (DistilBERT takes every other one).
public enum StudentInitialization: String, Sendable, CaseIterable {
    case everyOther = "every-other", first, last

    /// The teacher layer each of the `student` layers copies, for a teacher of `teacher` layers.
    public func teacherLayers(student: Int, teacher: Int) -> [Int] {
        switch self {
        case .everyOther: (0..<student).map { $0 * teacher / student }
        case .first: Array(0..<student)
        case .last: Array(teacher - student..<teacher)
        }
    }
}

extension StudentBert {
    /// A student of `layers` layers copying the teacher's embeddings and the
    /// layers `initialization` picks, from a model folder's `model.safetensors`.
    public convenience init(teacher folder: URL, layers: Int, initialization: StudentInitialization, backend: any Backend) throws {
        guard case let .bert(tc) = try ModelConfig.load(folder.appendingPathComponent("config.json")) else {
            throw SlimError.unsupported(op: "distill", backend: "model", reason: "\(folder.path) is not a BERT encoder")
        }
        guard tc.prunedHeads.isEmpty, tc.intermediateSizes == nil else {
            throw SlimError.unsupported(op: "distill", backend: "model", reason: "a teacher with pruned heads or MLP widths")
        }
        guard (1...tc.layers).contains(layers) else {
            throw SlimError.invalidArgument("--student-layers \(layers): the teacher has \(tc.layers) layers; a student needs 1...\(tc.layers)")
        }
        let store = try Self.weights(of: folder)
        let prefix = store.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        let map = initialization.teacherLayers(student: layers, teacher: tc.layers)
        var c = tc
        c.layers = layers
        try self.init(config: c, backend: backend) { name, shape in
            var source = name
            if name.hasPrefix("encoder.layer.") {
                let rest = name.dropFirst("encoder.layer.".count)
                let index = Int(rest.prefix { $0 != "." })!
                source = "encoder.layer.\(map[index])" + rest.drop { $0 != "." }
            }
            let actual = try store.shape(of: prefix + source)
            guard actual == shape.dims else {
                throw SlimError.malformedFile(path: store.origin, detail: "tensor '\(prefix + source)' is \(actual) but the config implies \(shape.dims)")
            }
            return try store.floats(prefix + source)
        }
    }
}

extension StudentBert {
    /// A folder's weights as fp32 values: a quantized folder's packed weights
    /// decoded (fine-tuning starts from a GPTQ or RTN result), a pruned folder's
    /// as stored. Low-rank factors and AWQ input scales have no trainable
    /// dense form here and are refused by name.
    public static func weights(of folder: URL) throws -> any WeightStore {
        let file = try HuggingFaceCheckpoint.open(folder: folder)
        let packed = try PackedWeightStore(file: file, config: folder.appendingPathComponent("config.json"))
        if let odd = file.tensors.first(where: {
            $0.name.hasSuffix(PackedNames.factorA("")) || $0.name.hasSuffix(PackedNames.inputScale(""))
        }) {
            throw SlimError.unsupported(op: "train", backend: "model",
                                        reason: "\(folder.path) stores '\(odd.name)' (low-rank factors or AWQ input scales); start from an fp32, pruned, RTN or GPTQ folder")
        }
        return packed.formats.isEmpty ? TensorFileWeightStore(file: file) : packed
    }
}

extension StudentBert {
    /// The student a run of `o` trains: teacher layers (distillation) or the
    /// source folder at full depth (fine-tuning), then fake quantization (QAT,
    /// scales from the source's packed weights when it stores this format) and
    /// fixed sparsity masks, as `o` asks.
    static func start(_ o: DistillationOptions, backend: any Backend) throws -> StudentBert {
        let student: StudentBert
        if let source = o.studentSource {
            guard case let .bert(c) = try ModelConfig.load(source.appendingPathComponent("config.json")) else {
                throw SlimError.unsupported(op: "finetune", backend: "model", reason: "\(source.path) is not a BERT encoder")
            }
            guard c.layers == o.studentLayers else {
                throw SlimError.invalidArgument("\(source.path) has \(c.layers) layers, but the run expects \(o.studentLayers)")
            }
            student = try StudentBert(teacher: source, layers: c.layers, initialization: .first, backend: backend)
        } else {
            student = try StudentBert(teacher: o.teacher, layers: o.studentLayers, initialization: o.initialization, backend: backend)
        }
        if o.keepMask {
            let source = o.studentSource ?? o.teacher
            let config = try FileReading.jsonObject(at: source.appendingPathComponent("config.json"))
            // Rounding sends small weights to 0 too; only a pruning's zeros are a mask worth keeping.
            guard config["quantization_config"] == nil || config["sparsity_config"] != nil else {
                throw SlimError.invalidArgument("--keep-mask: \(source.path) is quantized and was not pruned (its config.json has a quantization_config but no sparsity_config): its zero weights are values that rounded to 0, not a pruning mask; prune the original first, or drop --keep-mask")
            }
            guard try student.fixSparsity() > 0 else {
                throw SlimError.invalidArgument("--keep-mask: \((o.studentSource ?? o.teacher).path) has no zero weights in its linear layers; prune it first")
            }
        }
        if let format = o.studentQuantization {
            let store = try o.studentSource.map { try weights(of: $0) }
            try student.quantize(format, learnsScales: o.learnScales) { name, wanted in
                guard let store, let p = try store.packed(store.contains(name) ? name : "bert." + name), p.format == wanted else {
                    return nil
                }
                return p.encoded
            }
        }
        return student
    }
}
