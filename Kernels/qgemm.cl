// Quantized GEMM: Y = X * W^T (+ bias), W [N, K] kept compressed in memory
// and decoded in registers, 32 weights (one "run") at a time. Layouts are
// those documented on QuantFormat (Sources/SlimCore/QuantFormat.swift).
//
// -D FMT=0 int8 per channel | 1 int4 groups (-D GROUP=32|64|128 -D SYM=0|1)
//       | 2 Q8_0 | 3 Q4_0 | 4 Q4_1 | 5 Q4_K | 6 Q6_K (super-blocks of 256 = 8 runs)
//       | 7 Q5_0 | 8 Q5_1
//       | 9 bf16 | 10 f16: 16-bit float weights, not quantized (fp32 activations only);
//         a run's "levels" are the widened weights themselves (a = 1), exact
// -D W8A8=1: X arrives quantized per row to int8 (qgemm_quantize_rows); dot
//       products are integer, accumulated in int32 across the row for int8
//       weights, and per run (scaled by the run's a) for the other formats.
// -D XBLOCK=1 (with W8A8): X quantized per run of 32 instead (qgemm_quantize_blocks),
//       one fp16-rounded scale per run, applied per run (llama.cpp's Q8_0/Q8_1 activations).
// -D TM=tokens per work-item (qgemv: exactly M, so its token loops have a fixed
//       trip count, unroll, and keep the accumulators in registers),
// -D LS=work-items sharing one output row.
//
// A run's weights are w = a * (u - z) + m with u its raw levels, so every
// run contributes a * dot(x, u) + (m - a*z) * sum(x), and one loop serves
// every format:
//   int8: a = 1 (the row scale applies at the end)   int4: a = s, z = 8 or zero point
//   Q8_0: a = d   Q4_0: a = d, z = 8   Q4_1: a = d, m = min
//   Q4_K: a = d·sc, m = −dmin·mn of the run's sub-block
//   Q6_K: u = sc·(q − 32) (its runs hold two sub-blocks of 16; the products are
//         exact integers), a = d
//   Q5_0: u = nibble | qh bit << 4, a = d, z = 16   Q5_1: the same u, a = d, m = min

#define RUN 32
#if FMT == 0
#define ROW_BYTES(K) (K)
#elif FMT == 1
#define ROW_BYTES(K) ((K) / 2)
#elif FMT == 2
#define ROW_BYTES(K) ((K) / 32 * 34)
#elif FMT == 3
#define ROW_BYTES(K) ((K) / 32 * 18)
#elif FMT == 4
#define ROW_BYTES(K) ((K) / 32 * 20)
#elif FMT == 5
#define ROW_BYTES(K) ((K) / 256 * 144)
#elif FMT == 6
#define ROW_BYTES(K) ((K) / 256 * 210)
#elif FMT == 7
#define ROW_BYTES(K) ((K) / 32 * 22)
#elif FMT == 8
#define ROW_BYTES(K) ((K) / 32 * 24)
#else
#define ROW_BYTES(K) (2 * (K))
#endif
// Formats whose K need not be a multiple of 32: the last K % 32 columns go one at a time.
#define HAS_TAIL (FMT == 0 || FMT == 9 || FMT == 10)
#if FMT == 9
#define WEIGHT_AT(row, k) as_float((uint)((__global const ushort *)(row))[k] << 16)
#elif FMT == 10
#define WEIGHT_AT(row, k) vload_half(k, (__global const half *)(row))
#else
#define WEIGHT_AT(row, k) ((float)((__global const char *)(row))[k])
#endif
#define HAS_OFFSET (FMT == 1 || FMT == 3 || FMT == 4 || FMT == 5 || FMT == 7 || FMT == 8)

// Activations of a run: every format without a tail (HAS_TAIL) has K a
// multiple of 32, so a run's 32 activations start 32-float (or, as int8,
// 32-byte) aligned and load as whole vectors (two ld.global.v4.f32 per float8
// on NVIDIA); int8, bf16 and f16 rows of any K take vload8, which assumes only
// element alignment.
#if HAS_TAIL
#define X8_AT(p) vload8(0, p)
#else
#define X8_AT(p) (*(__global const X8_RAW *)(p))
#endif
#if W8A8
typedef char X_T;
typedef char8 X8_RAW;
typedef int8 XV;
#define LOAD_X8(p) convert_int8(X8_AT(p))
#define CONVERT_XV(v) convert_int8(v)
#else
typedef float X_T;
typedef float8 X8_RAW;
typedef float8 XV;
#define LOAD_X8(p) X8_AT(p)
#define CONVERT_XV(v) convert_float8(v)
#endif
#ifndef XBLOCK
#define XBLOCK 0
#endif
#define INT_ACC (W8A8 && FMT == 0 && !XBLOCK)  // int8 x int8 with one scale per row: int32 all the way
#if INT_ACC
typedef int8 ACCV;
typedef int ACC;
#else
typedef float8 ACCV;
typedef float ACC;
#endif

// The 32 levels of run `r` of row `row` as four vectors, and the run's (a, z, m).
__attribute__((always_inline)) inline void decode_run(__global const uchar *row, int r, int n, int K,
                                                       __global const float *scales, __global const uchar *zeros,
                                                       XV u[4], float *a, float *z, float *m) {
#if FMT == 0 || FMT == 2
#if FMT == 0
    __global const char *q = (__global const char *)(row + r * RUN);
    *a = 1.0f;
#else
    __global const uchar *blk = row + r * 34;
    __global const char *q = (__global const char *)(blk + 2);
    *a = vload_half(0, (__global const half *)blk);
#endif
    *z = 0.0f;
    *m = 0.0f;
#if FMT == 2
    // 34-byte blocks leave the quants 2-byte aligned: 2-byte loads, not single bytes.
    for (int v = 0; v < 4; v++) u[v] = CONVERT_XV(as_char8(vload4(v, (__global const ushort *)q)));
#else
    for (int v = 0; v < 4; v++) u[v] = CONVERT_XV(vload8(v, q));  // int8 rows of any K: byte-aligned
#endif
#elif FMT == 9 || FMT == 10
    // Widening is exact: bf16 is fp32's upper half, vload_half widens IEEE fp16.
#if FMT == 9
    for (int v = 0; v < 4; v++) u[v] = as_float8(convert_uint8(vload8(v, (__global const ushort *)row + r * RUN)) << 16);
#else
    for (int v = 0; v < 4; v++) u[v] = vload_half8(v, (__global const half *)row + r * RUN);
#endif
    *a = 1.0f;
    *z = 0.0f;
    *m = 0.0f;
#elif FMT == 5
    // Run j of a super-block is its sub-block j: the low (even j) or high nibbles
    // of the 32 bytes of chunk j / 2; scale and minimum as llama.cpp's get_scale_min_k4.
    __global const uchar *blk = row + (r / 8) * 144, *packed = blk + 4;
    const int j = r % 8;
    const int sc = j < 4 ? packed[j] & 63 : (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
    const int mn = j < 4 ? packed[j + 4] & 63 : (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    *a = vload_half(0, (__global const half *)blk) * (float)sc;
    *z = 0.0f;
    *m = -(vload_half(1, (__global const half *)blk) * (float)mn);
    const uchar shift = (uchar)(4 * (j & 1));
    for (int v = 0; v < 4; v++) u[v] = CONVERT_XV((vload8(v, blk + 16 + 32 * (j / 2)) >> shift) & (uchar8)(0x0F));
#elif FMT == 6
    // Run j holds weights 32j...32j+31: half h = j / 4, quarter i = j % 4; low nibble
    // from byte 64h + 32(i & 1) + l, top two bits at bit 2i of byte 128 + 32h + l;
    // scales 2j (first 16) and 2j + 1 (last 16).
    __global const uchar *blk = row + (r / 8) * 210;
    const int j = r % 8, h = j / 4, i = j % 4;
    __global const uchar *ql = blk + 64 * h + 32 * (i & 1), *qh = blk + 128 + 32 * h;
    __global const char *sc = (__global const char *)(blk + 192);
    const int s0 = sc[2 * j], s1 = sc[2 * j + 1];
    for (int v = 0; v < 4; v++) {
        const int8 low = convert_int8((vload8(v, ql) >> (uchar)(4 * (i >> 1))) & (uchar8)(0x0F));
        const int8 high = convert_int8((vload8(v, qh) >> (uchar)(2 * i)) & (uchar8)(3));
        u[v] = CONVERT_XV(((low | (high << 4)) - 32) * (v < 2 ? s0 : s1));
    }
    *a = vload_half(104, (__global const half *)blk);
    *z = 0.0f;
    *m = 0.0f;
#else
// The 16 bytes of a run's nibbles as one uint4, kept as words until the
// nibbles are split, so the compiler keeps one wide load instead of
// splitting it into byte loads.
#if FMT == 1
    // One 16-byte load (ld.global.v4.u32 on NVIDIA, one dwordx4 on AMD): a row
    // holds K/2 bytes, K a multiple of 32, so every run starts 16-byte aligned
    // (buffers are at least 128-byte aligned).
    const uint4 w = ((__global const uint4 *)row)[r];
    const int g = n * (K / GROUP) + r * RUN / GROUP;
    *a = scales[g];
    *z = SYM ? 8.0f : (float)zeros[g];
    *m = 0.0f;
#elif FMT == 3
    // 18-byte blocks leave the quants 2-byte aligned: eight 2-byte loads, not sixteen single bytes.
    __global const uchar *blk = row + r * 18;
    const uint4 w = as_uint4(vload8(0, (__global const ushort *)(blk + 2)));
    *a = vload_half(0, (__global const half *)blk);
    *z = 8.0f;
    *m = 0.0f;
#elif FMT == 4
    // 20-byte blocks keep the quants 4-byte aligned: four 4-byte loads.
    __global const uchar *blk = row + r * 20;
    const uint4 w = vload4(0, (__global const uint *)(blk + 4));
    *a = vload_half(0, (__global const half *)blk);
    *z = 0.0f;
    *m = vload_half(1, (__global const half *)blk);
#elif FMT == 7 || FMT == 8
    // Q4_0's nibbles after d (and Q5_1's m) and 4 bytes qh: byte v of qh holds the
    // fifth bits of weights 8v...8v+7, the ones u[v] decodes.
    __global const uchar *blk = row + r * (FMT == 7 ? 22 : 24), *qh = blk + (FMT == 7 ? 2 : 4);
#if FMT == 7
    const uint4 w = as_uint4(vload8(0, (__global const ushort *)(qh + 4)));  // 22-byte blocks: 2-byte aligned
#else
    const uint4 w = vload4(0, (__global const uint *)(qh + 4));  // 24-byte blocks: 4-byte aligned
#endif
    *a = vload_half(0, (__global const half *)blk);
    *z = FMT == 7 ? 16.0f : 0.0f;
    *m = FMT == 7 ? 0.0f : vload_half(1, (__global const half *)blk);
#endif
    // Byte b of the run holds levels b (low nibble) and b + 16 (high nibble).
    const uint4 lo = w & (uint4)(0x0F0F0F0Fu), hi = (w >> (uint4)(4u)) & (uint4)(0x0F0F0F0Fu);
#if FMT == 7 || FMT == 8
    // Bit j of qh byte v is the fifth bit of level 8v + j, the ones u[v] holds.
    const uchar8 bit = (uchar8)(0, 1, 2, 3, 4, 5, 6, 7);
#define FIFTH(v) ((((uchar8)(qh[v]) >> bit) & (uchar8)(1)) << (uchar8)(4))
#else
#define FIFTH(v) ((uchar8)(0))
#endif
    u[0] = CONVERT_XV(as_uchar8(lo.s01) | FIFTH(0));
    u[1] = CONVERT_XV(as_uchar8(lo.s23) | FIFTH(1));
    u[2] = CONVERT_XV(as_uchar8(hi.s01) | FIFTH(2));
    u[3] = CONVERT_XV(as_uchar8(hi.s23) | FIFTH(3));
#undef FIFTH
#endif
}

#define HSUM8(v) ((v).s0 + (v).s1 + (v).s2 + (v).s3 + (v).s4 + (v).s5 + (v).s6 + (v).s7)

// accv[t] += a * (x_t * u) + b * x_t lane-wise over one run, for `tokens`
// tokens starting at X (rows ldx apart); lanes are summed once, at the end.
// W8A8 keeps the integer products (a = 1, b = 0).
__attribute__((always_inline)) inline void run_tokens(__global const X_T *X, int ldx, int tokens, int k0,
                                                       __global const float *x_scales, const XV u[4], float a, float b,
                                                       ACCV accv[TM]) {
    // A fixed trip count with the token test inside (not a break), so the loop
    // unrolls and accv stays in registers; in qgemv tokens == TM folds it away.
#pragma unroll
    for (int t = 0; t < TM; t++) {
        if (t >= tokens) continue;
        __global const X_T *x = X + (size_t)t * ldx + k0;
        const XV x0 = LOAD_X8(x), x1 = LOAD_X8(x + 8), x2 = LOAD_X8(x + 16), x3 = LOAD_X8(x + 24);
        const XV p = (x0 * u[0] + x1 * u[1]) + (x2 * u[2] + x3 * u[3]);
#if INT_ACC
        accv[t] += p;
#elif W8A8
#if XBLOCK
        const float d = x_scales[(size_t)t * (ldx / RUN) + k0 / RUN];
#else
        const float d = 1.0f;
#endif
        accv[t] += (a * d) * convert_float8(p) + (b * d) * convert_float8((x0 + x1) + (x2 + x3));
#elif HAS_OFFSET
        accv[t] += a * p + b * ((x0 + x1) + (x2 + x3));
#else
        accv[t] += a * p;
#endif
    }
}

// The last K % 32 columns of the formats that allow them (int8, bf16, f16), one at a time.
__attribute__((always_inline)) inline void tail_columns(__global const X_T *X, int ldx, int tokens, int K,
                                                      __global const uchar *row, ACC acc[TM]) {
#if HAS_TAIL
    for (int k = K / RUN * RUN; k < K; k++)
#pragma unroll
        for (int t = 0; t < TM; t++)
            if (t < tokens) acc[t] += X[(size_t)t * ldx + k] * WEIGHT_AT(row, k);
#endif
}

// Y[t, n] for t < tokens: the per-row scale (int8; W8A8 also the per-token
// activation scale) and the bias.
__attribute__((always_inline)) inline void store_row(__global float *Y, int N, int n, int t0, int tokens,
                                                      const ACC acc[TM], __global const float *scales,
                                                      __global const float *x_scales, __global const float *bias) {
#pragma unroll
    for (int t = 0; t < TM; t++) {
        if (t >= tokens) continue;
        float v = (float)acc[t];
#if FMT == 0
        v *= scales[n];
#endif
#if W8A8 && !XBLOCK
        v *= x_scales[t0 + t];
#endif
        if (bias) v += bias[n];
        Y[(size_t)(t0 + t) * N + n] = v;
    }
}

// Dot products of row n with `tokens` tokens over runs first_run, first_run + step, ...
// (every run when step is 1), lanes summed at the end.
__attribute__((always_inline)) inline void row_dots(__global const uchar *row, int n, int K, __global const X_T *X,
                                                     int tokens, int first_run, int step, __global const float *scales,
                                                     __global const uchar *zeros, __global const float *x_scales,
                                                     ACC acc[TM]) {
    ACCV accv[TM];
    #pragma unroll
    for (int t = 0; t < TM; t++) accv[t] = (ACCV)(0);
    for (int r = first_run; r < K / RUN; r += step) {
        XV u[4];
        float a, z, m;
        decode_run(row, r, n, K, scales, zeros, u, &a, &z, &m);
        run_tokens(X, K, tokens, r * RUN, x_scales, u, a, m - a * z, accv);
    }
    #pragma unroll
    for (int t = 0; t < TM; t++) acc[t] = HSUM8(accv[t]);
}

// GEMV shape (decode): built with TM = M, a work-group of LS work-items per
// output row, splitting the runs of K between them and reducing in local memory.
__kernel __attribute__((reqd_work_group_size(LS, 1, 1)))
void qgemv(const int M, const int N, const int K, __global const X_T *X, __global const uchar *W,
           __global const float *scales, __global const uchar *zeros, __global const float *x_scales,
           __global const float *bias, __global float *Y) {
    const int n = get_group_id(0), lid = get_local_id(0);
    __global const uchar *row = W + (size_t)n * ROW_BYTES(K);
    ACC acc[TM];
    // TM, a constant, for the token count: the compiler drops the loops' early exits.
    row_dots(row, n, K, X, TM, lid, LS, scales, zeros, x_scales, acc);
    if (lid == 0) tail_columns(X, K, TM, K, row, acc);
#if LS > 1
    __local ACC partial[LS][TM];
    #pragma unroll
    for (int t = 0; t < TM; t++) partial[lid][t] = acc[t];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LS / 2; s > 0; s >>= 1) {
        if (lid < s)
            #pragma unroll
            for (int t = 0; t < TM; t++) partial[lid][t] += partial[lid + s][t];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    #pragma unroll
    for (int t = 0; t < TM; t++) acc[t] = partial[0][t];
#endif
    if (lid == 0) store_row(Y, N, n, 0, TM, acc, scales, x_scales, bias);
}

// Blocked shape (M > TM): each work-item computes TM tokens of one output
// row, decoding each run once for all of them; no local memory (the shape
// CPU devices run well; dimension 0 walks rows so neighbours share X).
__kernel void qgemm_blocked(const int M, const int N, const int K, __global const X_T *X, __global const uchar *W,
                            __global const float *scales, __global const uchar *zeros, __global const float *x_scales,
                            __global const float *bias, __global float *Y) {
    const int n = get_global_id(0), t0 = get_global_id(1) * TM;
    if (n >= N || t0 >= M) return;
    __global const uchar *row = W + (size_t)n * ROW_BYTES(K);
    const int tokens = min(TM, M - t0);
    __global const X_T *Xt = X + (size_t)t0 * K;
    ACC acc[TM];
    // Per-run activation scales start at this work-item's first token too.
    __global const float *xs = XBLOCK && x_scales ? x_scales + (size_t)t0 * (K / RUN) : x_scales;
    row_dots(row, n, K, Xt, tokens, 0, 1, scales, zeros, xs, acc);
    tail_columns(Xt, K, tokens, K, row, acc);
    store_row(Y, N, n, t0, tokens, acc, scales, x_scales, bias);
}

// a / b as the host divides (IEEE, correctly rounded): without
// -cl-fp32-correctly-rounded-divide-sqrt (which the host adds where the device
// supports it) OpenCL allows 2.5 ulp, enough to move a level by one against
// the host's reference. The fma residual a - q·b is exact for q that close,
// and one correction step puts q within far less than half an ulp of a / b
// before the final rounding.
inline float divide_as_host(float a, float b) {
    const float q = a / b;
    return fma(fma(-q, b, a), 1.0f / b, q);
}

// W8A8's activation quantization, one row per work-item (work-groups of the
// row's helper size, so the last group has items past M):
// s = absmax / 127, q = round(x / s) (half away from zero).
__kernel void qgemm_quantize_rows(const int M, const int K, __global const float *X, __global char *Q, __global float *S) {
    const int m = get_global_id(0);
    if (m >= M) return;
    __global const float *x = X + (size_t)m * K;
    float peak = 0.0f;
    for (int k = 0; k < K; k++) peak = fmax(peak, fabs(x[k]));
    const float s = divide_as_host(peak, 127.0f), inv = s == 0.0f ? 0.0f : divide_as_host(1.0f, s);
    for (int k = 0; k < K; k++) Q[(size_t)m * K + k] = (char)round(x[k] * inv);
    S[m] = s;
}

// The per-block activation quantization (XBLOCK), one run of one row per
// work-item: s = absmax / 127 over the run, q = round(x / s), and the scale
// kept as its fp16 rounding (what llama.cpp stores in a Q8_0/Q8_1 block).
__kernel void qgemm_quantize_blocks(const int M, const int K, __global const float *X, __global char *Q, __global float *S) {
    const int r = get_global_id(0), m = get_global_id(1);
    if (r * RUN >= K || m >= M) return;
    __global const float *x = X + (size_t)m * K + r * RUN;
    float peak = 0.0f;
    for (int k = 0; k < RUN; k++) peak = fmax(peak, fabs(x[k]));
    const float s = divide_as_host(peak, 127.0f), inv = s == 0.0f ? 0.0f : divide_as_host(1.0f, s);
    for (int k = 0; k < RUN; k++) Q[(size_t)m * K + r * RUN + k] = (char)round(x[k] * inv);
    ushort bits;
    vstore_half_rte(s, 0, (__private half *)&bits);
    S[(size_t)m * (K / RUN) + r] = vload_half(0, (__private const half *)&bits);
}

// The fp32 values of W, one run of one row per work-item (int8 rows also
// write their last K % 32 columns from the run that would follow them).
#pragma OPENCL FP_CONTRACT OFF
__kernel void qgemm_dequantize(const int N, const int K, __global const uchar *W, __global const float *scales,
                               __global const uchar *zeros, __global float *out) {
    const int r = get_global_id(0), n = get_global_id(1);
    if (n >= N || r * RUN >= K) return;
    __global const uchar *row = W + (size_t)n * ROW_BYTES(K);
    __global float *o = out + (size_t)n * K;
#if HAS_TAIL
    if (r == K / RUN) {  // the tail run
        for (int k = r * RUN; k < K; k++) o[k] = (FMT == 0 ? scales[n] : 1.0f) * WEIGHT_AT(row, k);
        return;
    }
#endif
    XV u[4];
    float a, z, m;
    decode_run(row, r, n, K, scales, zeros, u, &a, &z, &m);
#if FMT == 0
    a = scales[n];
#endif
    // Rounded exactly as QuantCodec decodes: one product, then the minimum, no fused multiply-add.
    for (int v = 0; v < 4; v++) {
        const float8 scaled = a * (convert_float8(u[v]) - z);
        vstore8(m == 0.0f ? scaled : scaled + m, v, o + r * RUN);
    }
}
