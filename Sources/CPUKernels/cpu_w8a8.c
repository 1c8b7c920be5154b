#include "cpu_w8a8.h"
#include "cpu_activations.h"
#include "cpu_isa.h"
#include "cpu_paths.h"
#include "cpu_neon.h"
#include <stdlib.h>
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

static float quantize_row_portable(const float *x, int k, int8_t *q) {
    float peak = 0.0f;
    for (int i = 0; i < k; i++) peak = fmaxf(peak, fabsf(x[i]));
    const float scale = peak / 127.0f, inv = scale == 0.0f ? 0.0f : 1.0f / scale;
    for (int i = 0; i < k; i++) q[i] = (int8_t)roundf(x[i] * inv);
    return scale;
}

static void gemm_w8a8_portable(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                               const float *bias, float *y, long ldy) {
    for (int r = 0; r < n; r++)
        for (int t = 0; t < m; t++) {
            int32_t s = 0;
            for (int i = 0; i < k; i++) s += (int32_t)qx[(long)t * k + i] * w[(long)r * k + i];
            y[t * ldy + r] = sx[t] * sw[r] * (float)s + (bias ? bias[r] : 0.0f);
        }
}

#if HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE __attribute__((always_inline)) inline

AVX2 static float quantize_row_avx2(const float *x, int k, int8_t *q) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 pv = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) pv = _mm256_max_ps(pv, _mm256_and_ps(_mm256_loadu_ps(x + i), absmask));
    __m128 p4 = _mm_max_ps(_mm256_castps256_ps128(pv), _mm256_extractf128_ps(pv, 1));
    p4 = _mm_max_ps(p4, _mm_movehl_ps(p4, p4));
    p4 = _mm_max_ss(p4, _mm_movehdup_ps(p4));
    float peak = _mm_cvtss_f32(p4);
    for (int j = i; j < k; j++) peak = fmaxf(peak, fabsf(x[j]));
    const float scale = peak / 127.0f, inv = scale == 0.0f ? 0.0f : 1.0f / scale;
    const __m256 vinv = _mm256_set1_ps(inv), half = _mm256_set1_ps(0.5f);
    for (i = 0; i + 8 <= k; i += 8) {
        // roundf exactly: truncate, then step away from zero when the dropped part is at least one half.
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(v, t), absmask), half, _CMP_GE_OQ);
        const __m256 sign = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(absmask, v));
        const __m256i r = _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, sign)));
        const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(s16, s16));
    }
    for (; i < k; i++) q[i] = (int8_t)roundf(x[i] * inv);
    return scale;
}

// Σ over lanes of four int32 accumulators, as four int32 in one register.
AVX2 static INLINE __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    const __m256i abcd = _mm256_hadd_epi32(ab, cd);
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

// R weight rows (1, 2 or 4) times T tokens (1...4) over k, written with the scales.
// maddubs multiplies unsigned by signed bytes, so |w| meets x with w's sign
// moved onto it; pairs of products stay within int16 (2·127·127 < 32768).
AVX2 static INLINE void block_avx2(const int8_t *qx, const float *sx, const int T, const int8_t *w, const float *sw,
                                   const int R, int k, const float *bias, float *y, long ldy) {
    __m256i acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < 4; t++) acc[r][t] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        __m256i x[4];
        for (int t = 0; t < T; t++) x[t] = _mm256_loadu_si256((const __m256i *)(qx + (long)t * k + i));
        for (int r = 0; r < R; r++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (long)r * k + i));
            const __m256i aw = _mm256_abs_epi8(wv);
            for (int t = 0; t < T; t++) {
                const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x[t], wv));
                acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(p, ones));
            }
        }
    }
    // The epilogue runs once per 32·k/32 multiply-adds of each pair, so it is
    // vectorised too: four token dots converted, scaled and biased at once.
    const __m128 sx4 = T == 4 ? _mm_loadu_ps(sx) : _mm_setr_ps(sx[0], T > 1 ? sx[1] : 0, T > 2 ? sx[2] : 0, 0);
    for (int r = 0; r < R; r++) {
        __m128i dots = sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
        if (i < k) {
            int32_t tail[4] = {0, 0, 0, 0};
            for (int t = 0; t < T; t++)
                for (int j = i; j < k; j++) tail[t] += (int32_t)qx[(long)t * k + j] * w[(long)r * k + j];
            dots = _mm_add_epi32(dots, _mm_loadu_si128((const __m128i *)tail));
        }
        __m128 v = _mm_mul_ps(_mm_mul_ps(sx4, _mm_set1_ps(sw[r])), _mm_cvtepi32_ps(dots));
        if (bias) v = _mm_add_ps(v, _mm_set1_ps(bias[r]));
        float out[4];
        _mm_storeu_ps(out, v);
        for (int t = 0; t < T; t++) y[t * ldy + r] = out[t];
    }
}

#define FOR_T(R, call)                                   \
    switch (T_count) {                                   \
    case 1: { const int T = 1; (void)T; call; } break;   \
    case 2: { const int T = 2; (void)T; call; } break;   \
    case 3: { const int T = 3; (void)T; call; } break;   \
    default: { const int T = 4; (void)T; call; } break;  \
    }

AVX2 static void gemm_w8a8_avx2_rows(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n,
                                     int k, const float *bias, float *y, long ldy, int block);

AVX2 static void gemm_w8a8_avx2(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                                const float *bias, float *y, long ldy) {
    // Token blocks of about 128 KiB stay in L2 while every weight row passes over them.
    int block = (128 << 10) / (k > 0 ? k : 1);
    block = block < 4 ? 4 : block / 4 * 4;
    if (m <= 1) {
        // Decoding: few tokens, so four weight rows per step keep more loads in flight.
        int r = 0;
        for (; r + 4 <= n; r += 4) {
            const int T_count = m;
            FOR_T(4, block_avx2(qx, sx, T, w + (long)r * k, sw + r, 4, k, bias ? bias + r : 0, y + r, ldy))
        }
        if (r < n) gemm_w8a8_avx2_rows(qx, sx, m, w + (long)r * k, sw + r, n - r, k, bias ? bias + r : 0, y + r, ldy, block);
        return;
    }
    gemm_w8a8_avx2_rows(qx, sx, m, w, sw, n, k, bias, y, ldy, block);
}

AVX2 static void gemm_w8a8_avx2_rows(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n,
                                     int k, const float *bias, float *y, long ldy, int block) {
    for (int t0 = 0; t0 < m; t0 += block)
    for (int r = 0; r < n; r += 2) {
        const int R = n - r >= 2 ? 2 : 1;
        const int t_end = m < t0 + block ? m : t0 + block;
        for (int t = t0; t < t_end; t += 4) {
            const int T_count = t_end - t >= 4 ? 4 : t_end - t;
            const int8_t *xt = qx + (long)t * k, *wr = w + (long)r * k;
            float *yt = y + t * ldy + r;
            const float *b = bias ? bias + r : 0;
            if (R == 2) { FOR_T(2, block_avx2(xt, sx + t, T, wr, sw + r, 2, k, b, yt, ldy)) }
            else { FOR_T(1, block_avx2(xt, sx + t, T, wr, sw + r, 1, k, b, yt, ldy)) }
        }
    }
}

// ---------------------------------------------------------------- AVX-512 VNNI
// vpdpbusd adds four unsigned×signed byte products straight into each int32
// lane. Signed weights become unsigned by flipping their top bit (w + 128,
// once per weight row and step, shared by the four tokens), so
//   Σ (w + 128)·x = Σ w·x + 128·Σ x,
// and the token's Σ x, summed once per call, takes the offset back off: the
// dot products stay exact int32 (|Σ (w + 128)·x| ≤ 255·127·k, no wrap below
// k = 66,000, and even a wrap cancels modulo 2³²).
#define VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

// R weight rows (1...4) times T tokens (1...4) over k in 64-byte steps, 16
// int32 accumulators in registers; the last partial step loads through a
// mask, and the zero x bytes it reads add nothing to either sum.
VNNI static INLINE void block_vnni(const int8_t *qx, const float *sx, const int32_t *xsum, const int T, const int8_t *w,
                                   const float *sw, const int R, int k, const float *bias, float *y, long ldy) {
    __m512i acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int i = 0;
    for (; i + 64 <= k; i += 64) {
        __m512i x[4];
        for (int t = 0; t < T; t++) x[t] = _mm512_loadu_si512((const void *)(qx + (long)t * k + i));
        for (int r = 0; r < R; r++) {
            const __m512i wu = _mm512_xor_si512(_mm512_loadu_si512((const void *)(w + (long)r * k + i)), flip);
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], wu, x[t]);
        }
    }
    if (i < k) {
        const __mmask64 mask = k - i >= 64 ? ~0ULL : (1ULL << (k - i)) - 1;
        __m512i x[4];
        for (int t = 0; t < T; t++) x[t] = _mm512_maskz_loadu_epi8(mask, qx + (long)t * k + i);
        for (int r = 0; r < R; r++) {
            const __m512i wu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, w + (long)r * k + i), flip);
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], wu, x[t]);
        }
    }
    const __m128 sx4 = T == 4 ? _mm_loadu_ps(sx) : _mm_setr_ps(sx[0], T > 1 ? sx[1] : 0, T > 2 ? sx[2] : 0, 0);
    const __m128i xs4 = T == 4 ? _mm_loadu_si128((const __m128i *)xsum)
                               : _mm_setr_epi32(xsum[0], T > 1 ? xsum[1] : 0, T > 2 ? xsum[2] : 0, 0);
    const __m128i offset = _mm_slli_epi32(xs4, 7);
    for (int r = 0; r < R; r++) {
        __m256i h[4];
        for (int t = 0; t < 4; t++)
            h[t] = t < T ? _mm256_add_epi32(_mm512_castsi512_si256(acc[r][t]), _mm512_extracti64x4_epi64(acc[r][t], 1))
                         : _mm256_setzero_si256();
        const __m128i dots = _mm_sub_epi32(sum4(h[0], h[1], h[2], h[3]), offset);
        __m128 v = _mm_mul_ps(_mm_mul_ps(sx4, _mm_set1_ps(sw[r])), _mm_cvtepi32_ps(dots));
        if (bias) v = _mm_add_ps(v, _mm_set1_ps(bias[r]));
        float out[4];
        _mm_storeu_ps(out, v);
        for (int t = 0; t < T; t++) y[t * ldy + r] = out[t];
    }
}

// Token blocks of about 256 KiB stay in L2 (1 MiB on the EPYCs we run on)
// while each group of four weight rows (16 KiB at K = 4096, in L1) passes
// over them four tokens at a time.
VNNI static void gemm_w8a8_vnni(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                                const float *bias, float *y, long ldy) {
    int32_t small[64];
    int32_t *xsum = m <= 64 ? small : malloc(sizeof(int32_t) * (size_t)m);
    if (!xsum) { gemm_w8a8_avx2(qx, sx, m, w, sw, n, k, bias, y, ldy); return; }
    // Σ x per token, 64 bytes per vpdpbusd against ones (each core sums the
    // tokens again for its share of rows, so this must cost next to nothing).
    const __m512i ones = _mm512_set1_epi8(1);
    for (int t = 0; t < m; t++) {
        __m512i s = _mm512_setzero_si512();
        for (int i = 0; i < k; i += 64) {
            const __mmask64 mask = k - i >= 64 ? ~0ULL : (1ULL << (k - i)) - 1;
            s = _mm512_dpbusd_epi32(s, ones, _mm512_maskz_loadu_epi8(mask, qx + (long)t * k + i));
        }
        xsum[t] = _mm512_reduce_add_epi32(s);
    }
    int block = (256 << 10) / (k > 0 ? k : 1);
    block = block < 4 ? 4 : block / 4 * 4;
    for (int t0 = 0; t0 < m; t0 += block) {
        const int t_end = m < t0 + block ? m : t0 + block;
        for (int r = 0; r < n; r += 4) {
            const int R_count = n - r >= 4 ? 4 : n - r;
            const int8_t *wr = w + (long)r * k;
            const float *b = bias ? bias + r : 0;
            for (int t = t0; t < t_end; t += 4) {
                const int T_count = t_end - t >= 4 ? 4 : t_end - t;
                const int8_t *xt = qx + (long)t * k;
                float *yt = y + t * ldy + r;
                switch (R_count) {
                case 4: FOR_T(4, block_vnni(xt, sx + t, xsum + t, T, wr, sw + r, 4, k, b, yt, ldy)) break;
                case 3: FOR_T(3, block_vnni(xt, sx + t, xsum + t, T, wr, sw + r, 3, k, b, yt, ldy)) break;
                case 2: FOR_T(2, block_vnni(xt, sx + t, xsum + t, T, wr, sw + r, 2, k, b, yt, ldy)) break;
                default: FOR_T(1, block_vnni(xt, sx + t, xsum + t, T, wr, sw + r, 1, k, b, yt, ldy)) break;
                }
            }
        }
    }
    if (xsum != small) free(xsum);
}
#endif

float slim_quantize_row_i8(const float *x, int k, int8_t *q, int isa) {
    SLIM_NEON_RETURN(SLIM_PATHS_QUANTIZE_X, isa, SLIM_ISA_NEON, slim_neon_quantize_row_i8(x, k, q));
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_QUANTIZE_X, SLIM_ISA_AVX2);
        return quantize_row_avx2(x, k, q);
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QUANTIZE_X, SLIM_ISA_PORTABLE);
    return quantize_row_portable(x, k, q);
}

void slim_gemm_w8a8(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                    const float *bias, float *y, long ldy, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON_DOTPROD, slim_neon_gemm_w8a8(qx, sx, m, w, sw, n, k, bias, y, ldy, level == SLIM_ISA_NEON_DOTPROD));
#if HAVE_X86
    switch (slim_ran(SLIM_PATHS_QGEMM, slim_isa_within(isa))) {
    case SLIM_ISA_AVX512_VNNI: gemm_w8a8_vnni(qx, sx, m, w, sw, n, k, bias, y, ldy); return;
    case SLIM_ISA_AVX2: gemm_w8a8_avx2(qx, sx, m, w, sw, n, k, bias, y, ldy); return;
    default: break;
    }
#else
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    (void)isa;
#endif
    gemm_w8a8_portable(qx, sx, m, w, sw, n, k, bias, y, ldy);
}

void slim_quantize_runs_i8(const float *x, int k, int per_run, int8_t *q, float *xd, float *xsum, int isa) {
    const int runs = k / 32;
    const float row_scale = per_run ? 0.0f : slim_quantize_row_i8(x, k, q, isa);
    for (int r = 0; r < runs; r++) {
        float d = row_scale;
        // Quantized with the exact scale, rescaled with the stored (fp16) one, as llama.cpp does.
        if (per_run) d = (float)(_Float16)slim_quantize_row_i8(x + r * 32, 32, q + r * 32, isa);
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) sum += q[r * 32 + i];
        xd[r] = d;
        xsum[r] = d * (float)sum;
    }
}
