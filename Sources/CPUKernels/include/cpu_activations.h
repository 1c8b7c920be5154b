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

/// out[i] = g·up[i] / (1 + e^−g) with g = gate[i] (SiLU-gated product, Llama's MLP).
void slim_swiglu(const float *gate, const float *up, float *out, long n, int isa);

#endif
