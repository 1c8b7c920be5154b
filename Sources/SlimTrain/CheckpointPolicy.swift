import Foundation
import SlimCore
import SlimModel

/// When a training run may write its checkpoint file: a checkpoint is never
/// written over a file that is not a Slim checkpoint of this same run (a
/// teacher's weights, a text file, another run's progress), and an existing
/// checkpoint of this run is replaced only when the user says so.
extension Distillation {
    /// The `format` a checkpoint's metadata carries.
    static let checkpointFormat = "slim-distill-checkpoint"

    /// Claims `url` as this run's checkpoint for the whole run (locked like an
    /// output). `inputs` are the files the run reads; `output` its model folder.
    public func claimCheckpoint(_ url: URL, inputs: [URL], output: URL, resume: Bool, overwrite: Bool) throws -> OutputClaim {
        let path = OutputPolicy.canonical(url)
        if OutputPolicy.canonical(output) == path || OutputPolicy.contains(OutputPolicy.canonical(output), path) {
            throw SlimError.invalidArgument("checkpoint \(url.path) is inside the output folder \(output.path), which is replaced when the model is written; put it beside the folder")
        }
        return try OutputPolicy.claimFile(url, inputs: inputs, overwrite: overwrite) { existing in
            try judgeExistingCheckpoint(existing, resume: resume, overwrite: overwrite)
        }
    }

    private func judgeExistingCheckpoint(_ url: URL, resume: Bool, overwrite: Bool) throws {
        let metadata: [String: String]
        do { metadata = try SafeTensorsFile(contentsOf: url).metadata } catch {
            throw SlimError.io(path: url.path, detail: "exists and is not a Slim checkpoint (\(error)); not overwriting it: choose another --checkpoint")
        }
        guard metadata["format"] == Self.checkpointFormat else {
            throw SlimError.io(path: url.path, detail: "exists and is not a Slim checkpoint; not overwriting it: choose another --checkpoint")
        }
        if resume { return }  // resume(from:) checks the configuration and says what differs
        let differing = fingerprint.filter { metadata["run." + $0.key] != $0.value }.keys.sorted()
        guard differing.isEmpty else {
            throw SlimError.io(path: url.path, detail: "is the checkpoint of another run (differs in \(differing.joined(separator: ", "))); not overwriting it: delete it or choose another --checkpoint")
        }
        guard overwrite else {
            throw SlimError.io(path: url.path, detail: "a checkpoint of this run exists (step \(metadata["step"] ?? "?")): pass --resume to continue from it, or --overwrite to start over")
        }
    }
}
