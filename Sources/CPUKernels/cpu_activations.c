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

// GELU's derivative Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
static inline float gelu_slope_scalar(float x) {
    return 0.5f * erfcf(-x * 0.70710678118654752f) + x * expf(-0.5f * x * x) * 0.39894228040143268f;
}

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

// Φ(x), the standard normal CDF.
AVX2 static inline __m256 normal_cdf_avx2(__m256 x) {
    const __m256 t = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    const __m256 half_erfc = _mm256_mul_ps(_mm256_set1_ps(0.5f), erfc_pos_avx2(t));
    const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc, negative);
}

AVX2 static inline __m256 gelu_avx2(__m256 x) { return _mm256_mul_ps(x, normal_cdf_avx2(x)); }

// dx = dy·(Φ(x) + x·φ(x)).
AVX2 static void gelu_backward_avx2(const float *x, const float *dy, float *dx, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 pdf = _mm256_mul_ps(slim_exp_avx2(_mm256_mul_ps(_mm256_mul_ps(v, v), _mm256_set1_ps(-0.5f))),
                                         _mm256_set1_ps(0.39894228040143268f));
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), _mm256_fmadd_ps(v, pdf, normal_cdf_avx2(v))));
    }
    for (; i < n; i++) dx[i] = dy[i] * gelu_slope_scalar(x[i]);
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

#if defined(__aarch64__)
// The AVX2 kernels above on four NEON lanes: the same erfc fit and exp
// (simd_math.h), so the error bounds are theirs. All ARM64 CPUs have NEON:
// the level is SLIM_ISA_NEON (no dot products here).
static inline float32x4_t erfc_pos_neon(float32x4_t t) {
    const float32x4_t tau = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), t, vdupq_n_f32(0.5f)));
    static const float c[] = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                              -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f};
    float32x4_t p = vdupq_n_f32(c[0]);
    for (int i = 1; i < 10; i++) p = vfmaq_f32(vdupq_n_f32(c[i]), p, tau);
    return vmulq_f32(tau, slim_exp_neon(vfmsq_f32(p, t, t)));
}

static inline float32x4_t normal_cdf_neon(float32x4_t x) {
    const float32x4_t t = vmulq_n_f32(vabsq_f32(x), 0.70710678118654752f);
    const float32x4_t half_erfc = vmulq_n_f32(erfc_pos_neon(t), 0.5f);
    return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), half_erfc, vsubq_f32(vdupq_n_f32(1.0f), half_erfc));
}

static inline float32x4_t gelu_neon(float32x4_t x) { return vmulq_f32(x, normal_cdf_neon(x)); }

static void gelu_backward_neon(const float *x, const float *dy, float *dx, long n) {
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        const float32x4_t pdf = vmulq_n_f32(slim_exp_neon(vmulq_n_f32(vmulq_f32(v, v), -0.5f)), 0.39894228040143268f);
        vst1q_f32(dx + i, vmulq_f32(vld1q_f32(dy + i), vfmaq_f32(normal_cdf_neon(v), v, pdf)));
    }
    for (; i < n; i++) dx[i] = dy[i] * gelu_slope_scalar(x[i]);
}

static void bias_gelu_neon(float *y, int rows, int n, long ldc, const float *bias, int gelu) {
    for (int r = 0; r < rows; r++) {
        float *row = y + r * ldc;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            float32x4_t v = vld1q_f32(row + j);
            if (bias) v = vaddq_f32(v, vld1q_f32(bias + j));
            if (gelu) v = gelu_neon(v);
            vst1q_f32(row + j, v);
        }
        for (; j < n; j++) {
            float v = row[j] + (bias ? bias[j] : 0.0f);
            row[j] = gelu ? gelu_scalar(v) : v;
        }
    }
}

static void gated_activation_neon(const float *gate, const float *up, float *out, long n, int activation) {
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gate + i);
        float32x4_t z = g;
        if (activation == SLIM_GATE_GELU_TANH)
            z = vmulq_n_f32(vfmaq_f32(g, vdupq_n_f32(GELU_TANH_KAPPA), vmulq_f32(vmulq_f32(g, g), g)), GELU_TANH_2BETA);
        const float32x4_t e = slim_exp_neon(vnegq_f32(z));
        vst1q_f32(out + i, vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), vld1q_f32(up + i)));
    }
    for (; i < n; i++) out[i] = gate_scalar(gate[i], activation) * up[i];
}

static void gelu_neon_array(const float *x, float *out, long n) {
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, gelu_neon(vld1q_f32(x + i)));
    for (; i < n; i++) out[i] = gelu_scalar(x[i]);
}

// At the top of each entry point: NEON when the limit allows it.
#define NEON_ACTIVATION(isa, call)                                 \
    if (slim_isa_within(isa) >= SLIM_ISA_NEON) {                   \
        slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_NEON);           \
        call;                                                      \
        return;                                                    \
    }
#else
#define NEON_ACTIVATION(isa, call)
#endif

void slim_bias_gelu(float *y, int rows, int n, long ldc, const float *bias, int gelu, int isa) {
    NEON_ACTIVATION(isa, bias_gelu_neon(y, rows, n, ldc, bias, gelu))
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
    NEON_ACTIVATION(isa, gelu_neon_array(x, out, n))
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
    NEON_ACTIVATION(isa, gated_activation_neon(gate, up, out, n, activation))
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

void slim_gelu_backward(const float *x, const float *dy, float *dx, long n, int isa) {
    NEON_ACTIVATION(isa, gelu_backward_neon(x, dy, dx, n))
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_AVX2);
        gelu_backward_avx2(x, dy, dx, n);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_ELEMENTWISE, SLIM_ISA_PORTABLE);
    for (long i = 0; i < n; i++) dx[i] = dy[i] * gelu_slope_scalar(x[i]);
}
