import SlimCore

/// The domain checks of a model's hyper-parameters, each failure an
/// ``SlimError/invalidConfig(path:key:detail:)`` naming the file and the key
/// as that file spells it (`layer_norm_eps` in config.json,
/// `llama.attention.layer_norm_rms_epsilon` in a GGUF). A value outside its
/// domain never reaches a kernel: a negative epsilon gave NaN, a zero size
/// empty tensors, and neither said which number was wrong.
struct ConfigCheck {
    let path: String

    func bad(_ key: String, _ detail: String) -> SlimError { .invalidConfig(path: path, key: key, detail: detail) }

    /// Sizes and counts: layers, heads, widths, vocabulary.
    func positive(_ value: Int, _ key: String) throws(SlimError) {
        guard value > 0 else { throw bad(key, "is \(value); it must be a positive integer") }
    }

    /// Epsilons and rotary bases, checked as the fp32 the kernels receive
    /// (1e-50 is a positive Double but a zero Float).
    func positiveFinite(_ value: Float, _ key: String, given: Double? = nil) throws(SlimError) {
        guard value.isFinite, value > 0 else {
            let shown = given.map { "\($0)" + (Double(value) != $0 ? " (\(value) in fp32)" : "") } ?? "\(value)"
            throw bad(key, "is \(shown); it must be a finite number greater than 0 (in fp32)")
        }
    }

    /// `part` (a head count) must divide `whole` (a width), named by `wholeKey`.
    func divides(_ part: Int, _ key: String, _ whole: Int, _ wholeKey: String) throws(SlimError) {
        guard whole % part == 0 else { throw bad(key, "is \(part), which does not divide \(wholeKey) = \(whole)") }
    }
}
