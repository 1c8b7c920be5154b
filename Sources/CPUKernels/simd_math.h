#ifndef SLIM_SIMD_MATH_H
#define SLIM_SIMD_MATH_H
// Vector math shared by the CPU kernels (internal: not part of the module's interface).
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

// e^x for x in [-87, 88]: 2^n · p(r) with r = x - n·ln2 and Cephes expf's
// degree-6 polynomial; relative error ~1e-7. Past the ends it answers as expf
// does (+inf above ln FLT_MAX, 0 below ln FLT_MIN: denormals flushed) and NaN
// stays NaN: a clamp alone turned NaN and +inf into e^88, so a NaN score or
// gate became a large finite number on the CPU only (issue 21).
__attribute__((target("avx2,fma"))) static inline __m256 slim_exp_avx2(__m256 input) {
    __m256 x = _mm256_max_ps(_mm256_min_ps(input, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(input, _mm256_set1_ps(88.7228394f), _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(input, _mm256_set1_ps(-87.3365479f), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, input, _mm256_cmp_ps(input, input, _CMP_UNORD_Q));
}
#elif defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>

// slim_exp_avx2's algorithm on four NEON lanes (the same constants, range
// handling and NaN rule), so both architectures' kernels round alike.
static inline float32x4_t slim_exp_neon(float32x4_t input) {
    const float32x4_t x = vmaxq_f32(vminq_f32(input, vdupq_n_f32(88.0f)), vdupq_n_f32(-87.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(bits));
    y = vbslq_f32(vcgtq_f32(input, vdupq_n_f32(88.7228394f)), vdupq_n_f32(INFINITY), y);
    y = vbslq_f32(vcltq_f32(input, vdupq_n_f32(-87.3365479f)), vdupq_n_f32(0.0f), y);
    return vbslq_f32(vceqq_f32(input, input), y, input);  // NaN stays NaN
}
#endif
#endif
