// ARM64 NEON kernels of the quantized GEMM (see cpu_neon.h for how the entry
// points reach them). fp32 activations: weights widened to fp32 and
// multiplied with FMAs, four lanes per vector. int8 activations: exact int32
// dot products, through sdot where the CPU has the dot-product extension
// (Apple M-series, Neoverse, Cortex-A55/A75 and later) and through smull +
// sadalp (int8 × int8 → int16, pairwise into int32) everywhere else.
// Checked against float64 at both levels by Tests/CKernels under qemu
// (scripts/check_c_kernels.sh aarch64).
#include "cpu_neon.h"
#include "cpu_u4_layout.h"

#if !defined(__aarch64__)
int slim_neon_isa(void) { return SLIM_ISA_PORTABLE; }
#else
#include <arm_neon.h>
#include <math.h>
#include <string.h>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#else
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)  // <asm/hwcap.h>'s bit, for C libraries that do not define it
#endif
#endif

int slim_neon_isa(void) {
    static int cached = -1;
    if (cached < 0) {
#if defined(__APPLE__)
        int has = 0;
        size_t size = sizeof has;
        const int dotprod = sysctlbyname("hw.optional.arm.FEAT_DotProd", &has, &size, NULL, 0) == 0 && has;
#else
        const int dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
        cached = dotprod ? SLIM_ISA_NEON_DOTPROD : SLIM_ISA_NEON;
    }
    return cached;
}

// sdot is compiled only into the functions marked DOTPROD and runs only when
// slim_neon_isa said the CPU has it; the attribute is spelled per compiler.
#if defined(__clang__)
#define DOTPROD __attribute__((target("dotprod")))
#else
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define INLINE __attribute__((always_inline)) inline

static inline float half_neon(const uint8_t *p) {
    __fp16 h;
    memcpy(&h, p, 2);
    return (float)h;
}
DEFINE_U4_PARAMS(u4_params_neon, , half_neon)

static INLINE float32x4_t widen_s8(int8x8_t v, int high) {
    const int16x8_t w = vmovl_s8(v);
    return vcvtq_f32_s32(vmovl_s16(high ? vget_high_s16(w) : vget_low_s16(w)));
}

// ---------------------------------------------------------------- fp32 activations
// int8 rows: 16 weights per step, four accumulators per token (FMA latency),
// per-lane sums as the AVX2 kernel keeps them: the error grows with k/16.
void slim_neon_qrow_int8(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
    for (int t0 = 0; t0 < tokens; t0 += 4) {
        const int tc = tokens - t0 < 4 ? tokens - t0 : 4;
        float32x4_t acc[4][4];
        for (int t = 0; t < tc; t++)
            for (int j = 0; j < 4; j++) acc[t][j] = vdupq_n_f32(0);
        int i = 0;
        for (; i + 16 <= k; i += 16) {
            const int8x16_t q = vld1q_s8(w + i);
            const float32x4_t wv[4] = {widen_s8(vget_low_s8(q), 0), widen_s8(vget_low_s8(q), 1), widen_s8(vget_high_s8(q), 0),
                                       widen_s8(vget_high_s8(q), 1)};
            for (int t = 0; t < tc; t++) {
                const float *xt = x + (long)(t0 + t) * xs + i;
                for (int j = 0; j < 4; j++) acc[t][j] = vfmaq_f32(acc[t][j], vld1q_f32(xt + 4 * j), wv[j]);
            }
        }
        for (int t = 0; t < tc; t++) {
            float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[t][0], acc[t][1]), vaddq_f32(acc[t][2], acc[t][3])));
            for (int j = i; j < k; j++) s += x[(long)(t0 + t) * xs + j] * w[j];
            out[(long)(t0 + t) * os] = scale * s;
        }
    }
}

// Run r's 32 levels as fp32, in run order: 4-bit u in 0...15 (low nibbles
// are weights 0...15, high nibbles 16...31) or Q8_0's int8 q.
static INLINE void run_levels_f32(const uint8_t *row, int r, int kind, float32x4_t u[8]) {
    if (kind == SLIM_ROW_Q8_0) {
        const int8_t *q = (const int8_t *)(row + r * 34 + 2);
        for (int h = 0; h < 2; h++) {
            const int8x16_t v = vld1q_s8(q + 16 * h);
            u[4 * h + 0] = widen_s8(vget_low_s8(v), 0), u[4 * h + 1] = widen_s8(vget_low_s8(v), 1);
            u[4 * h + 2] = widen_s8(vget_high_s8(v), 0), u[4 * h + 3] = widen_s8(vget_high_s8(v), 1);
        }
        return;
    }
    const uint8x16_t bytes = vld1q_u8(u4_nibbles(row, r, kind));
    const uint8x16_t half[2] = {vandq_u8(bytes, vdupq_n_u8(0x0F)), vshrq_n_u8(bytes, 4)};
    for (int h = 0; h < 2; h++) {
        const uint16x8_t lo = vmovl_u8(vget_low_u8(half[h])), hi = vmovl_u8(vget_high_u8(half[h]));
        u[4 * h + 0] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), u[4 * h + 1] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo)));
        u[4 * h + 2] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))), u[4 * h + 3] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi)));
    }
}

// Runs of 32: out = Σ_runs a·dot(x_run, u) + b·xsum (b = 0 for Q8_0, a = d).
// Each run's levels are decoded once for all tokens (1...4 per call).
void slim_neon_runs_f32(const float *x, long xs, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                        const float *scales, const uint8_t *zeros, const float *xsum, float *out, long os) {
    float32x4_t acc[4][2];
    float offset[4] = {0, 0, 0, 0};
    for (int t = 0; t < tokens; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
    for (int r = 0; r < runs; r++) {
        float32x4_t u[8];
        float a, b = 0;
        if (kind == SLIM_ROW_Q8_0) a = half_neon(row + r * 34);
        else u4_params_neon(row, r, kind, group_shift, scales, zeros, &a, &b);
        run_levels_f32(row, r, kind, u);
        for (int t = 0; t < tokens; t++) {
            const float *xr = x + t * xs + r * 32;
            float32x4_t p = vmulq_f32(vld1q_f32(xr), u[0]), q = vmulq_f32(vld1q_f32(xr + 4), u[1]);
            for (int v = 2; v < 8; v += 2) {
                p = vfmaq_f32(p, vld1q_f32(xr + 4 * v), u[v]);
                q = vfmaq_f32(q, vld1q_f32(xr + 4 * v + 4), u[v + 1]);
            }
            acc[t][r & 1] = vfmaq_n_f32(acc[t][r & 1], vaddq_f32(p, q), a);  // two chains: consecutive runs overlap
            if (kind != SLIM_ROW_Q8_0) offset[t] += b * xsum[t * runs + r];
        }
    }
    for (int t = 0; t < tokens; t++) out[t * os] = vaddvq_f32(vaddq_f32(acc[t][0], acc[t][1])) + offset[t];
}

// One row decoded to fp32 for the many-token tiles: w = a·u + b per run of
// 32 (4-bit), d·q (Q8_0), scale·q (int8 rows, any k).
void slim_neon_dequant_row(const uint8_t *row, int k, int kind, int group_shift, float scale, const float *scales,
                           const uint8_t *zeros, float *out) {
    if (kind == SLIM_ROW_INT8) {
        const int8_t *q = (const int8_t *)row;
        int i = 0;
        for (; i + 8 <= k; i += 8) {
            const int8x8_t v = vld1_s8(q + i);
            vst1q_f32(out + i, vmulq_n_f32(widen_s8(v, 0), scale));
            vst1q_f32(out + i + 4, vmulq_n_f32(widen_s8(v, 1), scale));
        }
        for (; i < k; i++) out[i] = scale * q[i];
        return;
    }
    for (int r = 0; r < k / 32; r++) {
        float32x4_t u[8];
        float a, b = 0;
        if (kind == SLIM_ROW_Q8_0) a = half_neon(row + r * 34);
        else u4_params_neon(row, r, kind, group_shift, scales, zeros, &a, &b);
        run_levels_f32(row, r, kind, u);
        for (int v = 0; v < 8; v++) vst1q_f32(out + r * 32 + 4 * v, vfmaq_n_f32(vdupq_n_f32(b), u[v], a));
    }
}

// ---------------------------------------------------------------- int8 activations
// A row to int8 with scale max|x|/127, bit for bit as the portable loop: the
// peak through maxNum (fmaxf's NaN rule), x·(1/scale) in fp32 and frinta,
// which rounds half away from zero as roundf does.
float slim_neon_quantize_row_i8(const float *x, int k, int8_t *q) {
    float32x4_t pv = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= k; i += 4) pv = vmaxnmq_f32(pv, vabsq_f32(vld1q_f32(x + i)));
    float peak = vmaxnmvq_f32(pv);
    for (int j = i; j < k; j++) peak = fmaxf(peak, fabsf(x[j]));
    const float scale = peak / 127.0f, inv = scale == 0.0f ? 0.0f : 1.0f / scale;
    for (i = 0; i + 8 <= k; i += 8) {
        const int32x4_t lo = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(vld1q_f32(x + i), inv)));
        const int32x4_t hi = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(vld1q_f32(x + i + 4), inv)));
        vst1_s8(q + i, vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
    }
    for (; i < k; i++) q[i] = (int8_t)roundf(x[i] * inv);
    return scale;
}

// Exact int32 dot products of 16 signed bytes, added into four int32 lanes.
// Without the extension: four products per lane through smull (|x·w| ≤ 2^14
// fits int16) and sadalp (pairs into int32).
static INLINE int32x4_t dot16_smull(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}
DOTPROD static INLINE int32x4_t dot16_sdot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

// Run r's 32 levels as signed bytes, with (a, b): int8 rows and Q8_0 as
// stored, the 4-bit kinds as u in 0...15 (run order), which sdot and smull
// take as signed bytes directly: no offset, no sign trick.
static INLINE void run_levels_i8(const uint8_t *row, int r, int kind, int group_shift, const float *scales,
                                 const uint8_t *zeros, int8x16_t q[2], float *a, float *b) {
    *b = 0;
    if (kind == SLIM_ROW_INT8 || kind == SLIM_ROW_Q8_0) {
        const int8_t *p = (const int8_t *)(kind == SLIM_ROW_INT8 ? row + r * 32 : row + r * 34 + 2);
        *a = kind == SLIM_ROW_INT8 ? 1.0f : half_neon(row + r * 34);
        q[0] = vld1q_s8(p), q[1] = vld1q_s8(p + 16);
        return;
    }
    const uint8x16_t bytes = vld1q_u8(u4_nibbles(row, r, kind));
    q[0] = vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(0x0F)));
    q[1] = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
    u4_params_neon(row, r, kind, group_shift, scales, zeros, a, b);
}

// out[t] = Σ_runs a·xd[t][run]·dot(qx_run, q) + b·xsum[t][run], the dots exact;
// written once for both dot forms (DOT is inlined, so each instance has one).
#define DEFINE_RUNS_I8(NAME, ATTR, DOT)                                                                               \
    ATTR static void NAME(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row, \
                          int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros, float *out,      \
                          long os) {                                                                                   \
        float acc[4][2] = {{0}};                                                                                       \
        for (int r = 0; r < runs; r++) {                                                                               \
            int8x16_t q[2];                                                                                            \
            float a, b;                                                                                                \
            run_levels_i8(row, r, kind, group_shift, scales, zeros, q, &a, &b);                                        \
            for (int t = 0; t < tokens; t++) {                                                                         \
                const int8_t *x = qx + t * xs + r * 32;                                                                \
                const int32x4_t d = DOT(DOT(vdupq_n_s32(0), vld1q_s8(x), q[0]), vld1q_s8(x + 16), q[1]);              \
                acc[t][r & 1] += a * xd[t * runs + r] * (float)vaddvq_s32(d) + b * xsum[t * runs + r];                 \
            }                                                                                                          \
        }                                                                                                              \
        for (int t = 0; t < tokens; t++) out[t * os] = acc[t][0] + acc[t][1];                                          \
    }
DEFINE_RUNS_I8(runs_i8_smull, , dot16_smull)
DEFINE_RUNS_I8(runs_i8_sdot, DOTPROD, dot16_sdot)

void slim_neon_runs_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row,
                       int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros, float *out, long os,
                       int dotprod) {
    (dotprod ? runs_i8_sdot : runs_i8_smull)(qx, xs, tokens, xd, xsum, row, runs, kind, group_shift, scales, zeros, out, os);
}

// W8A8 rows: out[t] = Σ qx·w in int32 (1...4 tokens per pass, each weight
// vector loaded once for all of them). The int32 lanes hold k/4 products of
// at most 2^14 each: exact below k = 2^19, as the portable loop's one int32.
#define DEFINE_I8I8(NAME, ATTR, DOT)                                                                          \
    ATTR static void NAME(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) { \
        for (int t0 = 0; t0 < tokens; t0 += 4) {                                                               \
            const int tc = tokens - t0 < 4 ? tokens - t0 : 4;                                                 \
            int32x4_t acc[4];                                                                                  \
            for (int t = 0; t < tc; t++) acc[t] = vdupq_n_s32(0);                                             \
            int i = 0;                                                                                         \
            for (; i + 16 <= k; i += 16) {                                                                     \
                const int8x16_t wv = vld1q_s8(w + i);                                                          \
                for (int t = 0; t < tc; t++) acc[t] = DOT(acc[t], vld1q_s8(qx + (long)(t0 + t) * xs + i), wv);  \
            }                                                                                                  \
            for (int t = 0; t < tc; t++) {                                                                     \
                int32_t s = vaddvq_s32(acc[t]);                                                                \
                for (int j = i; j < k; j++) s += (int32_t)qx[(long)(t0 + t) * xs + j] * w[j];                  \
                out[(long)(t0 + t) * os] = s;                                                                  \
            }                                                                                                  \
        }                                                                                                      \
    }
DEFINE_I8I8(i8i8_smull, , dot16_smull)
DEFINE_I8I8(i8i8_sdot, DOTPROD, dot16_sdot)

void slim_neon_i8i8(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os, int dotprod) {
    (dotprod ? i8i8_sdot : i8i8_smull)(qx, xs, tokens, w, k, out, os);
}

// W8A8 GEMM: each weight row against up to four tokens at a time through the
// row kernel above, then y = sx·sw·dot + bias as the portable loop writes it.
void slim_neon_gemm_w8a8(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                         const float *bias, float *y, long ldy, int dotprod) {
    for (int t0 = 0; t0 < m; t0 += 4) {
        const int tc = m - t0 < 4 ? m - t0 : 4;
        for (int r = 0; r < n; r++) {
            int32_t dot[4];
            slim_neon_i8i8(qx + (long)t0 * k, k, tc, w + (long)r * k, k, dot, 1, dotprod);
            for (int t = 0; t < tc; t++)
                y[(t0 + t) * ldy + r] = sx[t0 + t] * sw[r] * (float)dot[t] + (bias ? bias[r] : 0.0f);
        }
    }
}
#endif
