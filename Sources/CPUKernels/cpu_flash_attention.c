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
#include <string.h>

// C[MR × NV·LANES] (ldc apart) = A[MR × k] (row-major, lda) · B[k × NV·LANES]
// (ldb), plus C's old value when `add`. The same register tile as cpu_gemm.c's,
// reading its operands in place (they are small and already in L1/L2).
#define ATTENTION_TILE(NAME, ATTR, LANES, MR, NV)                                                               \
    typedef float NAME##_vec __attribute__((vector_size((LANES) * 4), aligned(4)));                               \
    ATTR static void NAME(int k, const float *restrict a, long lda, const float *restrict b, long ldb,           \
                          float *restrict c, long ldc, int add) {                                                \
        NAME##_vec acc[MR][NV];                                                                                  \
        for (int i = 0; i < (MR); i++)                                                                           \
            for (int j = 0; j < (NV); j++)                                                                       \
                acc[i][j] = add ? *(const NAME##_vec *)(c + i * ldc + j * (LANES)) : (NAME##_vec){0};            \
        for (int p = 0; p < k; p++) {                                                                            \
            NAME##_vec bv[NV];                                                                                   \
            for (int j = 0; j < (NV); j++) bv[j] = *(const NAME##_vec *)(b + p * ldb + j * (LANES));             \
            for (int i = 0; i < (MR); i++) {                                                                     \
                const NAME##_vec av = a[i * lda + p] - (NAME##_vec){0}; /* a splat */                             \
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
    void (*run)(int, const float *, long, const float *, long, float *, long, int);
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

// C[rows × cols] (+)= A · B over whole tiles (rows a multiple of 8, cols of 16).
static void multiply(tile_kernel tile, int rows, int cols, int k, const float *a, long lda, const float *b, long ldb,
                     float *c, long ldc, int add) {
    for (int j = 0; j < cols; j += SLIM_ATTENTION_PAD_COLS)
        for (int i = 0; i < rows; i += tile.mr)
            tile.run(k, a + (long)i * lda, lda, b + j, ldb, c + (long)i * ldc + j, ldc, add);
}

static int round_up(int x, int to) { return (x + to - 1) / to * to; }

void slim_attention_queries(const float *q, long ldq, int rows, int d, float scale, float *qs) {
    const int rp = round_up(rows, SLIM_ATTENTION_PAD_ROWS);
    for (int r = 0; r < rp; r++)
        for (int e = 0; e < d; e++) qs[(long)r * d + e] = r < rows ? scale * q[r * ldq + e] : 0;
}

void slim_attention_keys(const float *k, long ldk, int keys, int d, float *kt, long ldkt) {
    for (int t = 0; t < keys; t++)
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
