#include "cpu_activations.h"
#include <math.h>
#include "simd_math.h"
#include "cpu_paths.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

// Φ(x) = erfc(-x/√2)/2, written with erfc of |x|/√2 on both sides so neither
// tail cancels: x < 0 takes erfc(t)/2, x ≥ 0 takes 1 - erfc(t)/2.
static inline float gelu_scalar(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }

// 2·√(2/π) and GELU-tanh's cubic coefficient: its σ argument is 2u.
#define GELU_TANH_2BETA 1.5957691216057308f
#define GELU_TANH_KAPPA 0.044715f

// The gate's activation as g·σ(z) (see cpu_activations.h).
static inline float gate_scalar(float g, int activation) {
    const float z = activation == SLIM_GATE_GELU_TANH ? GELU_TANH_2BETA * (g + GELU_TANH_KAPPA * g * g * g) : g;
    return g / (1.0f + expf(-z));
}

#if HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))


// erfc(t) for t ≥ 0 with fractional error < 1.2e-7 (the Chebyshev fit of
// Numerical Recipes' erfcc): τ·exp(-t² + P(τ)), τ = 1/(1 + t/2).
AVX2 static inline __m256 erfc_pos_avx2(__m256 t) {
    const __m256 tau = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(t, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
    static const float c[] = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                              -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f};
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 10; i++) p = _mm256_fmadd_ps(p, tau, _mm256_set1_ps(c[i]));
    return _mm256_mul_ps(tau, slim_exp_avx2(_mm256_fnmadd_ps(t, t, p)));
}

AVX2 static inline __m256 gelu_avx2(__m256 x) {
    const __m256 t = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    const __m256 half_erfc = _mm256_mul_ps(_mm256_set1_ps(0.5f), erfc_pos_avx2(t));
    const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc, negative);
    return _mm256_mul_ps(x, phi);
}

AVX2 static void bias_gelu_avx2(float *y, int rows, int n, long ldc, const float *bias, int gelu) {
    for (int r = 0; r < rows; r++) {
        float *row = y + r * ldc;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 v = _mm256_loadu_ps(row + j);
            if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
            if (gelu) v = gelu_avx2(v);
            _mm256_storeu_ps(row + j, v);
        }
        for (; j < n; j++) {
            float v = row[j] + (bias ? bias[j] : 0.0f);
            row[j] = gelu ? gelu_scalar(v) : v;
        }
    }
}

AVX2 static void gated_activation_avx2(const float *gate, const float *up, float *out, long n, int activation) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 beta2 = _mm256_set1_ps(GELU_TANH_2BETA), kappa = _mm256_set1_ps(GELU_TANH_KAPPA);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        __m256 z = g;
        if (activation == SLIM_GATE_GELU_TANH) {
            const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(g, g), g);
            z = _mm256_mul_ps(beta2, _mm256_fmadd_ps(kappa, cube, g));
        }
        const __m256 e = slim_exp_avx2(_mm256_sub_ps(zero, z));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) out[i] = gate_scalar(gate[i], activation) * up[i];
}

AVX2 static void gelu_avx2_array(const float *x, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu_avx2(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = gelu_scalar(x[i]);
}
#endif

void slim_bias_gelu(float *y, int rows, int n, long ldc, const float *bias, int gelu, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_AVX2);
        bias_gelu_avx2(y, rows, n, ldc, bias, gelu);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_PORTABLE);
    for (int r = 0; r < rows; r++) {
        float *row = y + r * ldc;
        for (int j = 0; j < n; j++) {
            float v = row[j] + (bias ? bias[j] : 0.0f);
            row[j] = gelu ? gelu_scalar(v) : v;
        }
    }
}

void slim_gelu(const float *x, float *out, long n, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_AVX2);
        gelu_avx2_array(x, out, n);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_PORTABLE);
    for (long i = 0; i < n; i++) out[i] = gelu_scalar(x[i]);
}

void slim_gated_activation(const float *gate, const float *up, float *out, long n, int activation, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_AVX2);
        gated_activation_avx2(gate, up, out, n, activation);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_PORTABLE);
    for (long i = 0; i < n; i++) out[i] = gate_scalar(gate[i], activation) * up[i];
}
