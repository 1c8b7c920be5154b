#include "cpu_kernels.h"
#include "cpu_paths.h"
#include <string.h>

int slim_kquant_block_bytes(int kind) {
    switch (kind) {
    case SLIM_K_Q4_K: return 144;
    case SLIM_K_Q6_K: return 210;
    case SLIM_K_Q5_0: return 22;
    default: return 24;
    }
}

int slim_kquant_block_weights(int kind) { return kind == SLIM_K_Q5_0 || kind == SLIM_K_Q5_1 ? 32 : 256; }

static inline float kq_half(const uint8_t *p) { return slim_half_to_float((uint16_t)(p[0] | (p[1] << 8))); }

// Q4_K's scale and minimum of sub-block s from the 12 packed bytes (llama.cpp's
// get_scale_min_k4): sub-blocks 0-3 in the low 6 bits of bytes 0-3 and 4-7,
// sub-blocks 4-7 in the nibbles of bytes 8-11 with their top 2 bits in the
// high bits of bytes 0-3 (scales) and 4-7 (minimums).
static inline void kq_scale_min(int s, const uint8_t *q, int *sc, int *m) {
    if (s < 4) {
        *sc = q[s] & 63;
        *m = q[s + 4] & 63;
    } else {
        *sc = (q[s + 4] & 0xF) | ((q[s - 4] >> 6) << 4);
        *m = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
    }
}

// Q6_K's 256 levels times their sub-block scales, sc·(q − 32): weight 128h + 32i + l
// has its low nibble in byte 64h + 32(i & 1) + l (low half for i < 2, high for i ≥ 2),
// its top two bits at bit 2i of byte 128 + 32h + l, and scale 8h + 2i + l / 16.
// (Fixed shifts per output, so the loop vectorises.)
static inline void kq_q6_scaled_levels(const uint8_t *blk, int16_t *v) {
    const int8_t *sc = (const int8_t *)(blk + 192);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
        for (int half = 0; half < 2; half++) {
            const int8_t *s = sc + 8 * h + half;
            int16_t *o = v + 128 * h + 16 * half;
            const uint8_t *l0 = ql + 16 * half, *l1 = ql + 32 + 16 * half, *hb = qh + 16 * half;
            for (int l = 0; l < 16; l++) {
                o[l] = (int16_t)(s[0] * (((l0[l] & 0xF) | ((hb[l] & 3) << 4)) - 32));
                o[l + 32] = (int16_t)(s[2] * (((l1[l] & 0xF) | (((hb[l] >> 2) & 3) << 4)) - 32));
                o[l + 64] = (int16_t)(s[4] * (((l0[l] >> 4) | (((hb[l] >> 4) & 3) << 4)) - 32));
                o[l + 96] = (int16_t)(s[6] * (((l1[l] >> 4) | ((hb[l] >> 6) << 4)) - 32));
            }
        }
    }
}

// Q5_0/Q5_1's 32 levels q = u | h << 4 (u: Q4_0's nibble layout; h: bit j of the
// little-endian uint32 qh), less `bias` (16 for Q5_0, 0 for Q5_1).
static inline void kq_q5_levels(const uint8_t *blk, int kind, int bias, int16_t *v) {
    const uint8_t *h = blk + (kind == SLIM_K_Q5_0 ? 2 : 4), *qs = h + 4;
    const uint32_t qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    for (int l = 0; l < 16; l++) {
        v[l] = (int16_t)(((qs[l] & 0xF) | ((qh >> l) & 1) << 4) - bias);
        v[l + 16] = (int16_t)(((qs[l] >> 4) | ((qh >> (l + 16)) & 1) << 4) - bias);
    }
}

// Integer levels and per-run (a, b) of a super-block for int8 activations (see cpu_kquants.h).
static inline void kq_levels(const uint8_t *blk, int kind, int16_t *v, float *a, float *b) {
    if (kind == SLIM_K_Q5_0 || kind == SLIM_K_Q5_1) {
        kq_q5_levels(blk, kind, kind == SLIM_K_Q5_0 ? 16 : 0, v);
        a[0] = kq_half(blk);
        b[0] = kind == SLIM_K_Q5_0 ? 0 : kq_half(blk + 2);
        return;
    }
    if (kind == SLIM_K_Q4_K) {
        const float d = kq_half(blk), dmin = kq_half(blk + 2);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            kq_scale_min(s, blk + 4, &sc, &m);
            a[s] = d * (float)sc;
            b[s] = -(dmin * (float)m);
        }
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = blk + 16 + 32 * c;
            for (int l = 0; l < 32; l++) {
                v[64 * c + l] = q[l] & 0xF;
                v[64 * c + 32 + l] = q[l] >> 4;
            }
        }
        return;
    }
    kq_q6_scaled_levels(blk, v);
    const float d = kq_half(blk + 208);
    for (int run = 0; run < 8; run++) (a[run] = d, b[run] = 0);
}

#define KQ(name) kq_##name##_portable
#include "cpu_kquants_body.h"
#undef KQ

#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define KQ_SIMD_ROWS_I8 1
#define KQ(name) kq_##name##_avx2
#include "cpu_kquants_body.h"
#define KQ_TARGET __attribute__((target("avx2,fma,f16c")))
#define DOT_U8S8(u, x) _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1))
#include "cpu_kquants_x86.h"
#undef DOT_U8S8
#undef KQ_TARGET
#undef KQ
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#define KQ(name) kq_##name##_avx512
#include "cpu_kquants_body.h"
#define KQ_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DOT_U8S8(u, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, x)
#include "cpu_kquants_x86.h"
#undef DOT_U8S8
#undef KQ_TARGET
#undef KQ
#pragma clang attribute pop
#undef KQ_SIMD_ROWS_I8
#define KQ_DISPATCH(level, name, ...)                                           \
    switch (slim_ran(SLIM_PATHS_QGEMM, level)) {                               \
    case SLIM_ISA_AVX512_VNNI: kq_##name##_avx512(__VA_ARGS__); break;         \
    case SLIM_ISA_AVX2: kq_##name##_avx2(__VA_ARGS__); break;                  \
    default: kq_##name##_portable(__VA_ARGS__); break;                         \
    }
#else
#define KQ_DISPATCH(level, name, ...)                                           \
    (void)level;                                                               \
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);                             \
    kq_##name##_portable(__VA_ARGS__);
#endif

void slim_rows_kquant(const float *x, long xs, int tokens, const uint8_t *data, long row_bytes, int first, int count,
                      int k, int kind, float *out, long os, int isa) {
    KQ_DISPATCH(slim_isa_within(isa), rows, x, xs, tokens, data, row_bytes, first, count, k, kind, out, os)
}

void slim_rows_kquant_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *data,
                         long row_bytes, int first, int count, int k, int kind, float *out, long os, int isa) {
    KQ_DISPATCH(slim_isa_within(isa), rows_i8, qx, xs, tokens, xd, xsum, data, row_bytes, first, count, k, kind, out, os)
}

void slim_kquant_dequant_row(const uint8_t *row, int k, int kind, float *out, int isa) {
    KQ_DISPATCH(slim_isa_within(isa), dequant_row, row, k, kind, out)
}
