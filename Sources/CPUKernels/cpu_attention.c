#include "cpu_attention.h"
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

// The running maximum of a row's visible scores, NaN if any is NaN (IEEE
// `maximum`, not `maxNum`): a NaN score then makes the row's weights, sum and
// output NaN, as the OpenCL kernel's arithmetic does. Skipping it left an
// all-NaN row looking empty (-inf), so a NaN query came out as zeros.
static inline float row_peak(const float *row, int valid, float peak) {
    for (int j = 0; j < valid; j++) peak = (row[j] > peak || row[j] != row[j]) ? row[j] : peak;
    return peak;
}

#if HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))

// row_peak eight lanes at a time (the scalar loop's compare-and-select per key
// was a quarter of the attention step): lane maxima plus a flag for any NaN.
AVX2 static inline float row_peak_avx2(const float *row, int valid, float peak) {
    __m256 top = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= valid; j += 8) {
        const __m256 x = _mm256_loadu_ps(row + j);
        top = _mm256_max_ps(top, x);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) return NAN;
    float lanes[8];
    _mm256_storeu_ps(lanes, top);
    return row_peak(row + j, valid - j, row_peak(lanes, 8, peak));
}


AVX2 static void softmax_block_avx2(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                    float *m, float *l, float *o, int d, long ldo) {
    for (int r = 0; r < rows; r++) {
        float *row = s + r * lds;
        const int valid = limit[r] < 0 ? 0 : (limit[r] > cols ? cols : limit[r]);
        // Keys under the window's lower edge (and not global) drop out like padding.
        for (int j = global < 0 ? 0 : global; j < first[r] && j < valid; j++) row[j] = -INFINITY;
        const float peak = row_peak_avx2(row, valid, m[r]);
        if (peak == -INFINITY) {  // nothing visible yet: no weights, nothing to rescale
            for (int j = 0; j < cols; j++) row[j] = 0.0f;
            continue;
        }
        const float alpha = expf(m[r] - peak);
        const __m256 vp = _mm256_set1_ps(peak);
        __m256 acc = _mm256_setzero_ps();
        int j = 0;
        for (; j + 8 <= valid; j += 8) {
            const __m256 e = slim_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + j), vp));
            _mm256_storeu_ps(row + j, e);
            acc = _mm256_add_ps(acc, e);
        }
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float sum = _mm_cvtss_f32(h);
        for (; j < valid; j++) { row[j] = expf(row[j] - peak); sum += row[j]; }
        for (; j < cols; j++) row[j] = 0.0f;
        l[r] = l[r] * alpha + sum;
        m[r] = peak;
        if (alpha != 1.0f) {
            float *orow = o + r * ldo;
            for (int e = 0; e < d; e++) orow[e] *= alpha;
        }
    }
}
#endif

static void softmax_block_portable(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                   float *m, float *l, float *o, int d, long ldo) {
    for (int r = 0; r < rows; r++) {
        float *row = s + r * lds;
        const int valid = limit[r] < 0 ? 0 : (limit[r] > cols ? cols : limit[r]);
        // Keys under the window's lower edge (and not global) drop out like padding.
        for (int j = global < 0 ? 0 : global; j < first[r] && j < valid; j++) row[j] = -INFINITY;
        const float peak = row_peak(row, valid, m[r]);
        if (peak == -INFINITY) {
            for (int j = 0; j < cols; j++) row[j] = 0.0f;
            continue;
        }
        const float alpha = expf(m[r] - peak);
        float sum = 0.0f;
        for (int j = 0; j < cols; j++) {
            row[j] = j < valid ? expf(row[j] - peak) : 0.0f;
            sum += row[j];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = peak;
        for (int e = 0; e < d; e++) o[r * ldo + e] *= alpha;
    }
}

void slim_attention_softmax_block(float *s, int rows, int cols, long lds, const int *first, const int *limit, int global,
                                  float *m, float *l, float *o, int d, long ldo, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_ATTENTION, SLIM_ISA_AVX2);
        softmax_block_avx2(s, rows, cols, lds, first, limit, global, m, l, o, d, ldo);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_ATTENTION, SLIM_ISA_PORTABLE);
    softmax_block_portable(s, rows, cols, lds, first, limit, global, m, l, o, d, ldo);
}
