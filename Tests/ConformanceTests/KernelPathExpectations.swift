import SlimConformance
import SlimCore
import SlimCPU
import Testing

/// The kernel paths a CPU op should report (``KernelPaths``), given the
/// subject's level: SlimCPU's dispatch rules written out again, so that a
/// change to them, or a bug in them (a VNNI subject quietly running its AVX2
/// kernels, a plain-C subject running AVX2), fails a test instead of passing
/// on correct numbers from the wrong kernel.
enum ExpectedPaths {
    typealias ISA = CPUBackend.ISA
    typealias Paths = [KernelPaths.Family: Set<ISA>]

    /// Kernels with no AVX-512 version (GELU, the gated activations, the GEMM epilogue,
    /// attention's softmax) run AVX2 at most, NEON on ARM64 (no sdot form);
    /// attention's softmax has no NEON version yet and runs plain C there.
    static func elementwise(_ level: ISA) -> Paths { [.elementwise: [min(level, .avx2)]] }
    static func attention(_ level: ISA) -> Paths {
        #if arch(arm64)
        [.attention: [.portable]]
        #else
        [.attention: [min(level, .avx2)]]
        #endif
    }
    /// The top level's special kernels (22-bit int8, the AVX-512 4-bit rows) exist on x86-64 only.
    static let topLevelKernels: Bool = {
        #if arch(x86_64)
        true
        #else
        false
        #endif
    }()

    /// A quantized product (CPUQuantized.swift, cpu_kernels.c):
    /// - int8 activations: the row kernels at the subject's level (VNNI's
    ///   vpdpbusd, AVX2's maddubs, plain C); the activations rounded to int8
    ///   by the AVX2 (or plain) loop.
    /// - fp32 activations, int8 weights: on VNNI, 22-bit fixed point at every
    ///   M (rounding and rows both VNNI); below it, fp32 row kernels (or, from
    ///   24 tokens, decoded tiles), nothing rounded.
    /// - fp32 activations, other formats: the AVX-512 4-bit kernel for one or
    ///   two tokens and at least four runs of 32 (never Q8_0); otherwise the
    ///   AVX2 (or plain) rows, or from 24 tokens the tiles' row decoder.
    /// - bf16 and f16 weights (cpu_w16.c): see below.
    /// - k-quants and Q5_0/Q5_1 (cpu_kquants.c): their own kernels at the subject's
    ///   level for fp32 rows, tiles and int8 activations alike.
    static func quantizedMatmul(_ level: ISA, _ format: QuantFormat, _ activations: ActivationPrecision, m: Int, k: Int) -> Paths {
        let capped = min(level, .avx2)
        if format.isKQuant || format.isQ5 {
            return [.quantizedMatmul: [level], .activationRounding: activations == .f32 ? [] : [capped]]
        }
        if activations != .f32 { return [.quantizedMatmul: [level], .activationRounding: [capped]] }
        if format.isFloat16 {
            // cpu_w16.c: rows widened at the subject's level (AVX-512 F on x86-64, NEON on ARM64);
            // from 24 tokens the tiles' widening, AVX2 (F16C) at most.
            return [.quantizedMatmul: [m >= 24 || !topLevelKernels ? capped : level], .activationRounding: []]
        }
        if format == .int8PerChannel {
            return level == .avx512VNNI && topLevelKernels ? [.quantizedMatmul: [level], .activationRounding: [level]]
                : [.quantizedMatmul: [capped], .activationRounding: []]
        }
        let wide = level == .avx512VNNI && topLevelKernels && format != .q8_0 && m <= 2 && k / 32 >= 4
        return [.quantizedMatmul: [wide ? .avx512VNNI : capped], .activationRounding: []]
    }
}

extension Subject {
    /// Runs `op`; on a CPU subject, expects each family `expected` names for
    /// this subject's level to have run at exactly those levels (an empty set:
    /// none of its kernels ran). OpenCL subjects just run `op`.
    func expectPaths(_ what: @autoclosure () -> String, _ expected: (CPUBackend.ISA) -> ExpectedPaths.Paths,
                     sourceLocation: SourceLocation = #_sourceLocation, _ op: () throws -> Void) rethrows {
        guard let level = cpuLevel else { return try op() }
        let ran = try KernelPaths.recording(op)
        for (family, levels) in expected(level) where ran[family] != levels {
            Issue.record("\(name) \(what()): \(family) kernels ran at \(ran[family].sorted()), expected \(levels.sorted()) (all: \(ran))",
                         sourceLocation: sourceLocation)
        }
    }
}
