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
        let store = TensorFileWeightStore(file: try SafeTensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors")))
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
