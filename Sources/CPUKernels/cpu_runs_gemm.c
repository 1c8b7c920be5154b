// Prompts (many tokens) times 4-bit rows with int8 activations on AVX-512
// VNNI: a tiled GEMM in place of the row kernels, which decode every weight
// run again for each pair of tokens.
//
// Each panel of 16 weight rows is decoded once per call into a packed copy
// (one byte per weight: 64 KiB at K = 4096, so it stays in L2 while all the
// tokens pass over it): for run r and
// dword group g (weights 4g...4g+3 of the run), the 16 rows' four unsigned
// levels u side by side, so one 512-bit load holds them for all 16 rows, and
// each row's (a, b) of the run as two vectors of 16 floats. The tokens then
// come T at a time: vpdpbusd multiplies the 16 rows' levels by the token's
// four activations (an embedded broadcast) into 16 int32 lanes, one per
// row; after the run's eight groups each lane holds the row's exact run dot,
// which one convert and two FMAs take into the float sums:
//   acc += (a · xd) · dot + b · xsum
// (w = a·u + b as slim_qrow_u4 defines it; xsum = xd·Σq as
// slim_quantize_runs_i8 writes it). Results are stored 16 rows at a time.
#include "cpu_runs_gemm.h"
#include "cpu_paths.h"
#include "cpu_u4_layout.h"
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE __attribute__((always_inline)) inline

VNNI static inline float half_f16c(const uint8_t *p) { return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); }
DEFINE_U4_PARAMS(u4_params_vnni, VNNI, half_f16c)

enum { PANEL = 16, MAX_T = 6 };

// Rows [r0, r0 + rows) (rows ≤ 16) into the packed panel: levels [runs][8][16][4]
// bytes, a and b [runs][16] floats; missing rows are zero (their lanes are never stored).
VNNI static void pack_panel(const uint8_t *data, long row_bytes, int r0, int rows, int runs, int kind, int group_shift,
                            const float *scales, const uint8_t *zeros, int groups, uint8_t *levels, float *a, float *b) {
    const __m128i low4 = _mm_set1_epi8(0x0F);
    for (int run = 0; run < runs; run++) {
        uint32_t tmp[PANEL][8];
        for (int i = 0; i < PANEL; i++) {
            float ai = 0, bi = 0;
            __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
            if (i < rows) {
                const long r = r0 + i;
                const uint8_t *row = data + r * row_bytes;
                u4_params_vnni(row, run, kind, group_shift, scales ? scales + r * groups : 0, zeros ? zeros + r * groups : 0,
                               &ai, &bi);
                const __m128i q = _mm_loadu_si128((const __m128i *)u4_nibbles(row, run, kind));
                lo = _mm_and_si128(q, low4);
                hi = _mm_and_si128(_mm_srli_epi16(q, 4), low4);
            }
            _mm_storeu_si128((__m128i *)tmp[i], lo);  // weights 0-15 of the run
            _mm_storeu_si128((__m128i *)(tmp[i] + 4), hi);  // weights 16-31
            a[run * PANEL + i] = ai;
            b[run * PANEL + i] = bi;
        }
        uint32_t *out = (uint32_t *)(levels + (long)run * 8 * PANEL * 4);
        for (int g = 0; g < 8; g++)
            for (int i = 0; i < PANEL; i++) out[g * PANEL + i] = tmp[i][g];
    }
}

// T tokens (1...MAX_T, constant after inlining) times the packed panel: out[t·os + i] for rows i < rows.
VNNI static INLINE void panel_tokens(const int8_t *qx, long xs, const int T, const float *xd, const float *xsum, int runs,
                                     const uint8_t *levels, const float *a, const float *b, int rows, float *out, long os) {
    __m512 acc[MAX_T];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int run = 0; run < runs; run++) {
        const __m512i *w = (const __m512i *)(levels + (long)run * 8 * PANEL * 4);
        __m512i dot[MAX_T];
        for (int t = 0; t < T; t++) dot[t] = _mm512_setzero_si512();
        for (int g = 0; g < 8; g++) {
            const __m512i wg = _mm512_loadu_si512((const void *)(w + g));
            for (int t = 0; t < T; t++) {
                int32_t x4;
                __builtin_memcpy(&x4, qx + t * xs + run * 32 + 4 * g, 4);
                dot[t] = _mm512_dpbusd_epi32(dot[t], wg, _mm512_set1_epi32(x4));
            }
        }
        const __m512 av = _mm512_loadu_ps(a + run * PANEL), bv = _mm512_loadu_ps(b + run * PANEL);
        for (int t = 0; t < T; t++) {
            const long at = (long)t * runs + run;
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(av, _mm512_set1_ps(xd[at])), _mm512_cvtepi32_ps(dot[t]), acc[t]);
            acc[t] = _mm512_fmadd_ps(bv, _mm512_set1_ps(xsum[at]), acc[t]);
        }
    }
    const __mmask16 keep = (__mmask16)((1u << rows) - 1);
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(out + t * os, keep, acc[t]);
}

VNNI int slim_runs_gemm_i8_vnni(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                                const uint8_t *data, long row_bytes, int first, int count, int runs, int kind, int group_shift,
                                const float *scales, const uint8_t *zeros, int groups, float *out, long os) {
    uint8_t *levels = malloc((size_t)runs * 8 * PANEL * 4);
    float *ab = malloc(sizeof(float) * (size_t)runs * PANEL * 2);
    if (!levels || !ab) {
        free(levels), free(ab);
        return 0;
    }
    for (int r0 = first; r0 < first + count; r0 += PANEL) {
        const int rows = first + count - r0 < PANEL ? first + count - r0 : PANEL;
        pack_panel(data, row_bytes, r0, rows, runs, kind, group_shift, scales, zeros, groups, levels, ab, ab + runs * PANEL);
        for (int t0 = 0; t0 < tokens; t0 += MAX_T) {
            const int tc = tokens - t0 < MAX_T ? tokens - t0 : MAX_T;
            const int8_t *x = qx + (long)t0 * xs;
            const float *d = xd + (long)t0 * runs, *s = xsum + (long)t0 * runs;
            float *o = out + (long)t0 * os + r0;
            const float *a = ab, *b = ab + runs * PANEL;
            switch (tc) {
            case 1: panel_tokens(x, xs, 1, d, s, runs, levels, a, b, rows, o, os); break;
            case 2: panel_tokens(x, xs, 2, d, s, runs, levels, a, b, rows, o, os); break;
            case 3: panel_tokens(x, xs, 3, d, s, runs, levels, a, b, rows, o, os); break;
            case 4: panel_tokens(x, xs, 4, d, s, runs, levels, a, b, rows, o, os); break;
            case 5: panel_tokens(x, xs, 5, d, s, runs, levels, a, b, rows, o, os); break;
            default: panel_tokens(x, xs, 6, d, s, runs, levels, a, b, rows, o, os); break;
            }
        }
    }
    free(levels), free(ab);
    return 1;
}
#else
int slim_runs_gemm_i8_vnni(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *data,
                           long row_bytes, int first, int count, int runs, int kind, int group_shift, const float *scales,
                           const uint8_t *zeros, int groups, float *out, long os) {
    (void)qx, (void)xs, (void)tokens, (void)xd, (void)xsum, (void)data, (void)row_bytes, (void)first, (void)count;
    (void)runs, (void)kind, (void)group_shift, (void)scales, (void)zeros, (void)groups, (void)out, (void)os;
    return 0;
}
#endif
