// One (query block × key block) step of the CPU backend's block-sparse
// attention, in C with its products in registers (see cpu_flash_attention.h).
// It replaced two sgemm calls per block whose fixed cost (argument checks,
// packing, dispatch) outweighed a 64×64×64 product's work.
//
// The operands are laid out so that every tile is full and needs no edge code:
// the query block scaled by the softmax scale with its rows padded to the tile
// height (once per query block, slim_attention_queries), Kᵀ of a whole head
// with 16 keys of padding past its end (once per call, slim_attention_keys: a
// score tile is then broadcast-Q × vector-K, like a GEMM's), and V in place, or copied with padded rows where the head dim is not
// a multiple of 16. Padded rows, keys and head-dim columns are computed and
// never read back.
#include "cpu_flash_attention.h"
#include "cpu_attention.h"
#include "cpu_gemm.h"
#include "cpu_paths.h"
#include "simd_math.h"
#include <math.h>
#include <string.h>

// C[MR × NV·LANES] (ldc apart) = A[MR × k] · B[k × NV·LANES] (ldb), plus C's
// old value when `add`. A's element (i, p) is a[i·lda + p·astep]: astep 1 is
// A row-major, lda 1 reads A transposed (the backward's Pᵀ·dO and dSᵀ·Q, with
// no transposed copy). The same register tile as cpu_gemm.c's, reading its
// operands in place (they are small and already in L1/L2).
#define ATTENTION_TILE(NAME, ATTR, LANES, MR, NV)                                                               \
    typedef float NAME##_vec __attribute__((vector_size((LANES) * 4), aligned(4)));                               \
    ATTR static void NAME(int k, const float *restrict a, long lda, long astep, const float *restrict b,         \
                          long ldb, float *restrict c, long ldc, int add) {                                      \
        NAME##_vec acc[MR][NV];                                                                                  \
        for (int i = 0; i < (MR); i++)                                                                           \
            for (int j = 0; j < (NV); j++)                                                                       \
                acc[i][j] = add ? *(const NAME##_vec *)(c + i * ldc + j * (LANES)) : (NAME##_vec){0};            \
        for (int p = 0; p < k; p++) {                                                                            \
            NAME##_vec bv[NV];                                                                                   \
            for (int j = 0; j < (NV); j++) bv[j] = *(const NAME##_vec *)(b + p * ldb + j * (LANES));             \
            const float *ap = a + p * astep;                                                                     \
            for (int i = 0; i < (MR); i++) {                                                                     \
                const NAME##_vec av = ap[i * lda] - (NAME##_vec){0}; /* a splat */                               \
                for (int j = 0; j < (NV); j++) acc[i][j] = av * bv[j] + acc[i][j];                                \
            }                                                                                                    \
        }                                                                                                        \
        for (int i = 0; i < (MR); i++)                                                                           \
            for (int j = 0; j < (NV); j++) *(NAME##_vec *)(c + i * ldc + j * (LANES)) = acc[i][j];               \
    }

// Tiles 16 columns wide (the column padding) and a divisor of 8 rows tall (the
// row padding), so the scratch layout does not depend on the level; each
// level's height fills its registers without spilling (accumulators + B + a splat).
ATTENTION_TILE(attn_portable, , 4, 4, 4)
#if defined(__x86_64__)
#define HAVE_X86 1
ATTENTION_TILE(attn_avx2, __attribute__((target("avx2,fma"))), 8, 4, 2)
ATTENTION_TILE(attn_avx512, __attribute__((target("avx512f,avx2,fma"))), 16, 8, 1)
#else
#define HAVE_X86 0
#endif

typedef struct {
    void (*run)(int, const float *, long, long, const float *, long, float *, long, int);
    int mr;
} tile_kernel;

static tile_kernel tile_for(int level) {
#if HAVE_X86
    if (level == SLIM_GEMM_AVX512) return (tile_kernel){attn_avx512, 8};
    if (level == SLIM_GEMM_AVX2) return (tile_kernel){attn_avx2, 4};
#endif
    (void)level;
    return (tile_kernel){attn_portable, 4};
}

// C[rows × cols] (+)= A · B over whole tiles (rows a multiple of 8, cols of
// 16), A's element (i, p) at a[i·lda + p·astep] (see ATTENTION_TILE).
static void multiply_strided(tile_kernel tile, int rows, int cols, int k, const float *a, long lda, long astep,
                             const float *b, long ldb, float *c, long ldc, int add) {
    for (int j = 0; j < cols; j += SLIM_ATTENTION_PAD_COLS)
        for (int i = 0; i < rows; i += tile.mr)
            tile.run(k, a + (long)i * lda, lda, astep, b + j, ldb, c + (long)i * ldc + j, ldc, add);
}

// The same with A row-major.
static void multiply(tile_kernel tile, int rows, int cols, int k, const float *a, long lda, const float *b, long ldb,
                     float *c, long ldc, int add) {
    multiply_strided(tile, rows, cols, k, a, lda, 1, b, ldb, c, ldc, add);
}

static int round_up(int x, int to) { return (x + to - 1) / to * to; }

void slim_attention_queries(const float *q, long ldq, int rows, int d, float scale, float *qs, long ldqs) {
    const int rp = round_up(rows, SLIM_ATTENTION_PAD_ROWS);
    for (int r = 0; r < rows; r++) {
        float *out = qs + (long)r * ldqs;
        const float *in = q + (long)r * ldq;
        for (int e = 0; e < d; e++) out[e] = scale * in[e];
        for (long e = d; e < ldqs; e++) out[e] = 0;
    }
    memset(qs + (long)rows * ldqs, 0, sizeof(float) * (size_t)((rp - rows) * ldqs));
}

void slim_attention_keys(const float *k, long ldk, int keys, int d, float *kt, long ldkt) {
    // 16 keys at a time: each row of Kᵀ gets 16 contiguous stores from 16 rows of K in L1.
    int t0 = 0;
    for (; t0 + 16 <= keys; t0 += 16)
        for (int e = 0; e < d; e++)
            for (int t = t0; t < t0 + 16; t++) kt[(long)e * ldkt + t] = k[(long)t * ldk + e];
    for (int t = t0; t < keys; t++)
        for (int e = 0; e < d; e++) kt[(long)e * ldkt + t] = k[(long)t * ldk + e];
    for (int e = 0; e < d; e++)
        for (long t = keys; t < ldkt; t++) kt[(long)e * ldkt + t] = 0;
}

void slim_attention_block(const float *qs, const float *kt, long ldkt, const float *v, long ldk, int rows, int cols, int d,
                          const int *first, const int *limit, int global, int careful, float *m, float *l, float *acc,
                          long ldacc, float *scratch, int isa) {
    const int level = slim_ran(SLIM_PATHS_GEMM, slim_gemm_level(isa));
    const tile_kernel tile = tile_for(level);
    const int rp = round_up(rows, SLIM_ATTENTION_PAD_ROWS), cp = round_up(cols, SLIM_ATTENTION_PAD_COLS);
    const int dp = round_up(d, SLIM_ATTENTION_PAD_COLS);
    float *vs = scratch, *s = vs + (long)cols * dp;
    // Scores for whole 16-key tiles: the keys past `cols` in Kᵀ (the next
    // block's, or padding) are computed and never read.
    multiply(tile, rp, cp, d, qs, d, kt, ldkt, s, cp, 0);
    // The online softmax: exp(s − new max) in place, masked keys 0, the running
    // max and sum updated, acc rescaled by exp(old max − new max). Padded rows
    // and keys are not touched: P·V below reads only the `cols` real keys, and
    // padded rows only reach acc's padded rows, which are never copied out.
    slim_attention_softmax_block(s, rows, cols, cp, first, limit, global, m, l, acc, d, ldacc, isa);
    if (careful) {
        // V holds NaN or ±∞: a masked key's weight 0 times its value would be NaN,
        // so only each row's visible keys are multiplied (as the OpenCL kernel does).
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < limit[r] && t < cols; t++) {
                if (t < first[r] && t >= global) continue;
                const float w = s[(long)r * cp + t];
                for (int e = 0; e < d; e++) acc[r * ldacc + e] += w * v[t * ldk + e];
            }
        return;
    }
    // V is read in place when its rows are whole tiles, else copied with its
    // rows padded to them.
    const float *vt = v;
    long ldv = ldk;
    if (d != dp) {
        for (int t = 0; t < cols; t++) {
            float *row = vs + (long)t * dp;
            memcpy(row, v + t * ldk, sizeof(float) * (size_t)d);
            for (int e = d; e < dp; e++) row[e] = 0;
        }
        vt = vs, ldv = dp;
    }
    multiply(tile, rp, dp, cols, s, cp, vt, ldv, acc, ldacc, 1);
}

long slim_attention_block_scratch(int block, int d) {
    const long rp = round_up(block, SLIM_ATTENTION_PAD_ROWS), cp = round_up(block, SLIM_ATTENTION_PAD_COLS);
    const long dp = round_up(d, SLIM_ATTENTION_PAD_COLS);
    return (long)block * dp + rp * cp;
}

// ---- Backward ----
//
// One (query block × key block) step of the FlashAttention backward, every
// product in the register tiles above: S = Qs·Kᵀ and dP = dO·Vᵀ (broadcast
// rows × 16 keys of Kᵀ/Vᵀ, like the forward's scores), then P = exp(S − lse)
// and dS = P ∘ (dP − Δ) in one pass over the block, then dV += Pᵀ·dO,
// dK += dSᵀ·Qs (Qs carries the softmax scale) and dQ += dS·K, the transposed
// products reading P and dS in place through the tile's strides. It replaced
// seven sgemm calls per block whose fixed cost outweighed a 64×64×32 product.

// P and dS of row r where key j is visible (j < limit, and j ≥ first or a
// global key), 0 elsewhere — selected, not multiplied: a masked key's score
// may be NaN (padding past a sequence's length) and dP − Δ may be NaN or ±∞
// on a row that saw nothing. A row whose log-sum-exp is −∞ (it saw no key)
// or NaN contributes nothing at all.
static void probabilities_row_portable(float *s, float *dp, int cols, int first, int limit, int global, float lse,
                                       float delta) {
    const int live = lse > -INFINITY;  // false for −∞ and NaN
    for (int j = 0; j < cols; j++) {
        const int visible = live && j < limit && (j >= first || j < global);
        const float p = visible ? expf(s[j] - lse) : 0.0f;
        dp[j] = visible ? p * (dp[j] - delta) : 0.0f;
        s[j] = p;
    }
}

#if HAVE_X86
// The same, eight keys at a time (cols is a multiple of 16).
__attribute__((target("avx2,fma"))) static void probabilities_row_avx2(float *s, float *dp, int cols, int first, int limit,
                                                                       int global, float lse, float delta) {
    if (!(lse > -INFINITY)) {
        for (int j = 0; j < cols; j++) s[j] = dp[j] = 0.0f;
        return;
    }
    const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lim = _mm256_set1_epi32(limit), lo = _mm256_set1_epi32(first - 1), glob = _mm256_set1_epi32(global);
    const __m256 vl = _mm256_set1_ps(lse), vd = _mm256_set1_ps(delta);
    for (int j = 0; j < cols; j += 8) {
        const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(j), step);
        const __m256i seen = _mm256_or_si256(_mm256_cmpgt_epi32(idx, lo), _mm256_cmpgt_epi32(glob, idx));
        const __m256 visible = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(lim, idx), seen));
        const __m256 p = _mm256_and_ps(visible, slim_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vl)));
        const __m256 ds = _mm256_and_ps(visible, _mm256_mul_ps(p, _mm256_sub_ps(_mm256_loadu_ps(dp + j), vd)));
        _mm256_storeu_ps(s + j, p);
        _mm256_storeu_ps(dp + j, ds);
    }
}
#endif

void slim_attention_backward_block(const float *qs, const float *dos, long ldqs, const float *kt, const float *vt, long ldkt,
                                   const float *k, long ldk, int rows, int cols, int d, const int *first, const int *limit,
                                   int global, const float *lse, const float *delta, float *dq, float *dk, float *dv,
                                   long ldg, float *scratch, int isa) {
    const int level = slim_ran(SLIM_PATHS_GEMM, slim_gemm_level(isa));
    const tile_kernel tile = tile_for(level);
    const int rp = round_up(rows, SLIM_ATTENTION_PAD_ROWS), cp = round_up(cols, SLIM_ATTENTION_PAD_COLS);
    const int kp = round_up(cols, SLIM_ATTENTION_PAD_ROWS), dp = round_up(d, SLIM_ATTENTION_PAD_COLS);
    float *p = scratch, *ds = scratch + (long)rp * cp;
    // Scores and dP for whole tiles; keys past `cols` (the next block's, or
    // padding) and padded rows are computed, then zeroed below.
    multiply(tile, rp, cp, d, qs, ldqs, kt, ldkt, p, cp, 0);
    multiply(tile, rp, cp, d, dos, ldqs, vt, ldkt, ds, cp, 0);
#if HAVE_X86
    const int vector = slim_isa_within(isa) >= SLIM_ISA_AVX2;
    slim_ran(SLIM_PATHS_ATTENTION, vector ? SLIM_ISA_AVX2 : SLIM_ISA_PORTABLE);
#else
    const int vector = 0;
    slim_ran(SLIM_PATHS_ATTENTION, SLIM_ISA_PORTABLE);
#endif
    for (int r = 0; r < rp; r++) {
        float *pr = p + (long)r * cp, *dsr = ds + (long)r * cp;
        if (r >= rows) {  // padding: zero, so the products below add nothing from it
            memset(pr, 0, sizeof(float) * (size_t)cp), memset(dsr, 0, sizeof(float) * (size_t)cp);
            continue;
        }
        const int lim = limit[r] < cols ? limit[r] : cols;
#if HAVE_X86
        if (vector) {
            probabilities_row_avx2(pr, dsr, cp, first[r], lim, global, lse[r], delta[r]);
            continue;
        }
#endif
        probabilities_row_portable(pr, dsr, cp, first[r], lim, global, lse[r], delta[r]);
    }
    (void)vector;
    int seen = 0;  // keys at or past every row's limit are never read from K
    for (int r = 0; r < rows; r++) seen = limit[r] > seen ? (limit[r] < cols ? limit[r] : cols) : seen;
    // dV += Pᵀ·dO and dK += dSᵀ·Qs over the block's real rows; the key rows
    // past `cols` up to the tile height get exact zeros added.
    multiply_strided(tile, kp, dp, rows, p, 1, cp, dos, ldqs, dv, ldg, 1);
    multiply_strided(tile, kp, dp, rows, ds, 1, cp, qs, ldqs, dk, ldg, 1);
    // dQ += dS·K over the keys some row sees: K past them may be anything.
    multiply(tile, rp, dp, seen, ds, cp, k, ldk, dq, ldg, 1);
}

long slim_attention_backward_scratch(int block) {
    const long rp = round_up(block, SLIM_ATTENTION_PAD_ROWS), cp = round_up(block, SLIM_ATTENTION_PAD_COLS);
    return 2 * rp * cp;
}
