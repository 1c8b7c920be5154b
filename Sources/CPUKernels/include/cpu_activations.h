#ifndef SLIM_CPU_ACTIVATIONS_H
#define SLIM_CPU_ACTIVATIONS_H
// Elementwise epilogues of the CPU backend, vectorised: the exact GELU needs
// erfc, and a libm call per element costs more than the GEMM it follows.
// Each runs at most the instruction-set level `isa` (a SLIM_ISA_ value, see
// cpu_isa.h): AVX2/FMA or plain C.

/// Whether the AVX2/FMA/F16C kernels run on this CPU.
int slim_cpu_has_avx2(void);

/// For `rows` rows of `n` floats `ldc` apart: y = y + bias (bias may be NULL),
/// then, if `gelu`, y = y·Φ(y) with Φ through erfc (relative error ≤ 3e-7).
void slim_bias_gelu(float *y, int rows, int n, long ldc, const float *bias, int gelu, int isa);

/// out[i] = x[i]·Φ(x[i]) for n elements (x and out may alias).
void slim_gelu(const float *x, float *out, long n, int isa);

/// dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i])), the exact GELU's derivative (the
/// backward of slim_gelu; dx may alias dy).
void slim_gelu_backward(const float *x, const float *dy, float *dx, long n, int isa);

/// The activations of a gated MLP's gate (`activation` of slim_gated_activation).
enum { SLIM_GATE_SILU = 0, SLIM_GATE_GELU_TANH = 1 };

/// out[i] = act(gate[i])·up[i] for n elements: SiLU g/(1 + e^−g) (Llama's
/// SwiGLU) or the tanh-approximated GELU 0.5·g·(1 + tanh(√(2/π)(g + 0.044715·g³)))
/// (Gemma). Written as g·σ(z) with z = g or 2√(2/π)(g + 0.044715·g³), since
/// 0.5·(1 + tanh(u)) = σ(2u): a large |g| saturates σ instead of overflowing,
/// and a negative g loses nothing to 1 + tanh cancelling. NaN stays NaN.
void slim_gated_activation(const float *gate, const float *up, float *out, long n, int activation, int isa);

#endif
