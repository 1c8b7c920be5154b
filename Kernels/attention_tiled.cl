// Block-sparse attention shaped for GPUs (FlashAttention-2 style), the same op
// as attention.cl (which stays the shape for CPU devices: one work-item per
// query row with a d-long private row, what PoCL vectorises well). Here no
// work-item holds a d-long row: at d = 128 that needs more registers than an
// NVIDIA thread has, and the backward kernels spilled at d >= 64.
//
// A work-group owns OWN_ROWS rows (query rows for the forward and dQ, key rows
// for dK/dV) and streams STREAM_ROWS rows of the other side through local
// memory. Its LANES x (OWN_ROWS / ROWS_PER_ITEM) work-items split the work in
// two ways, one per phase:
//   scores      item (x, y) computes a ROWS_PER_ITEM x (STREAM_ROWS / LANES)
//               micro-tile: own rows y, y + GROUP_ROWS, ... against streamed
//               rows x, x + LANES, ... (2-D register block, operands from local memory);
//   accumulate  item (x, y) owns features x, x + LANES, ... of the same own
//               rows (HEAD_DIM / LANES accumulators per row), so consecutive
//               lanes read and write consecutive addresses.
// Local rows are padded by one float (ROW) so lanes reading different rows at
// one feature hit different banks.
//
// -D HEAD_DIM=d, and (defaults below; DeviceTuning's rows set them)
// -D LANES, -D OWN_ROWS, -D ROWS_PER_ITEM, -D STREAM_ROWS; -D BACKWARD=1 builds
// the backward kernels instead of the forward ones (they stage twice the rows,
// so at d = 128 they take smaller tiles than the forward: two programs).
// Layout and masks as in attention.cl: compressed rows of kept key blocks,
// element masks (padding, causal, window, global tokens) applied per pair.

#include "attention_mask.cl"
#include "integer_division.cl"

#ifndef LANES
#define LANES 16
#endif
#ifndef OWN_ROWS
#define OWN_ROWS 32
#endif
#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 4
#endif
#ifndef STREAM_ROWS
#define STREAM_ROWS 32
#endif
#if OWN_ROWS % ROWS_PER_ITEM || STREAM_ROWS % LANES
#error "OWN_ROWS must be a multiple of ROWS_PER_ITEM and STREAM_ROWS of LANES"
#endif

#define GROUP_ROWS (OWN_ROWS / ROWS_PER_ITEM)
#define GROUP_SIZE (LANES * GROUP_ROWS)
#define COLS_PER_ITEM (STREAM_ROWS / LANES)
#define FEATURES_PER_ITEM ((HEAD_DIM + LANES - 1) / LANES)
#define ROW (HEAD_DIM + 1)
#define SROW (STREAM_ROWS + 1)
// Feature f of lane x; past HEAD_DIM (when LANES does not divide it) it is
// clamped to a real feature, computed and never stored.
#if HEAD_DIM % LANES
#define FEATURE(x, f) min((x) + (f) * LANES, HEAD_DIM - 1)
#define FEATURE_STORED(x, f) ((x) + (f) * LANES < HEAD_DIM)
#else
#define FEATURE(x, f) ((x) + (f) * LANES)
#define FEATURE_STORED(x, f) true
#endif
#define OWN(y, n) ((y) + (n) * GROUP_ROWS)
#define STREAMED(x, m) ((x) + (m) * LANES)

// Rows 0 .. rows-1 of a global matrix (row r at src + r * stride) times `scale`
// into local [count][ROW]; rows from `real` on are zeros (past a sequence's
// keys, where padding may hold NaN, or past the tile's end).
// Item (x, y) copies features x, x + LANES, ... of rows y, y + GROUP_ROWS, ...:
// runs of LANES consecutive floats, and no division (see QUOTIENT_REMAINDER in integer_division.cl).
inline void stage_rows(__local float *dst, __global const float *src, size_t stride, int count, int real,
                       float scale, int x, int y) {
    for (int r = y; r < count; r += GROUP_ROWS)
        for (int e = x; e < HEAD_DIM; e += LANES) dst[r * ROW + e] = r < real ? src[(size_t)r * stride + e] * scale : 0.0f;
}

// s[n][m] = own row OWN(y, n) of `a` · streamed row STREAMED(x, m) of `b`, both local [.][ROW].
inline void tile_dots(float s[ROWS_PER_ITEM][COLS_PER_ITEM], __local const float *a, __local const float *b, int x, int y) {
    #pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n)
        #pragma unroll
        for (int m = 0; m < COLS_PER_ITEM; ++m) s[n][m] = 0.0f;
    for (int e = 0; e < HEAD_DIM; ++e) {
        float av[ROWS_PER_ITEM], bv[COLS_PER_ITEM];
        #pragma unroll
        for (int n = 0; n < ROWS_PER_ITEM; ++n) av[n] = a[OWN(y, n) * ROW + e];
        #pragma unroll
        for (int m = 0; m < COLS_PER_ITEM; ++m) bv[m] = b[STREAMED(x, m) * ROW + e];
        #pragma unroll
        for (int n = 0; n < ROWS_PER_ITEM; ++n)
            #pragma unroll
            for (int m = 0; m < COLS_PER_ITEM; ++m) s[n][m] = fma(av[n], bv[m], s[n][m]);
    }
}

// acc[n][f] += Σ_t w[OWN(y, n)][t] · rows[t][FEATURE(x, f)] over t < count: the
// accumulate phase, weights local [OWN_ROWS][SROW], rows local [STREAM_ROWS][ROW].
// A zero weight adds nothing even where the row holds NaN (a masked key's value).
inline void tile_accumulate(float acc[ROWS_PER_ITEM][FEATURES_PER_ITEM], __local const float *w,
                            __local const float *rows, int count, int x, int y) {
    for (int t = 0; t < count; ++t) {
        float r[FEATURES_PER_ITEM];
        #pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f) r[f] = rows[t * ROW + FEATURE(x, f)];
        #pragma unroll
        for (int n = 0; n < ROWS_PER_ITEM; ++n) {
            const float p = w[OWN(y, n) * SROW + t];
            if (p == 0.0f) continue;
            #pragma unroll
            for (int f = 0; f < FEATURES_PER_ITEM; ++f) acc[n][f] = fma(p, r[f], acc[n][f]);
        }
    }
}

#if !BACKWARD
// ---------------------------------------------------------------- forward
// A work-group per (query tile of OWN_ROWS rows within a query block, split,
// head, sequence): dimension 0 is (query block · tiles per block + tile) · splits + split.
// With splits > 1 (decode: few query rows, a long cache) each split takes an
// equal share of the row's kept key blocks and writes its unnormalised output
// and (peak, sum) to part_o / part_stats; attention_combine merges them.
__kernel __attribute__((reqd_work_group_size(LANES, GROUP_ROWS, 1)))
void attention_forward_tiled(
    __global const float *q, __global const float *k, __global const float *v,
    __global float *o, __global float *lse,
    __global const int *row_starts, __global const int *columns, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride,
    const int splits, __global float *part_o, __global float *part_stats)
{
    __local float qs[OWN_ROWS * ROW], kv[STREAM_ROWS * ROW], ps[OWN_ROWS * SROW], pm[OWN_ROWS * LANES];
    const int x = get_local_id(0), y = get_local_id(1), lid = y * LANES + x;
    const int tiles = (block + OWN_ROWS - 1) / OWN_ROWS;
    QUOTIENT_REMAINDER((int)get_group_id(0), splits, tile, split);
    QUOTIENT_REMAINDER(tile, tiles, qb, tile_in_block);
    const int q0 = qb * block + tile_in_block * OWN_ROWS;
    const int h = get_group_id(1), b = get_group_id(2), kvh = h / (heads / kv_heads);
    const int rows = min(OWN_ROWS, min(qb * block + block, lq) - q0);
    if (rows <= 0) return;  // the whole group: a tile past a short last block
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    row_starts += h * head_stride;

    int lo[ROWS_PER_ITEM], limit[ROWS_PER_ITEM];
    float peak[ROWS_PER_ITEM], sum[ROWS_PER_ITEM], acc[ROWS_PER_ITEM][FEATURES_PER_ITEM];
    #pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
        const int r = OWN(y, n);
        limit[n] = visible_keys(r < rows ? q0 + r : lq, lq, valid_keys, causal, causal_offset, window_left,
                                window_right, global_tokens, &lo[n]);
        peak[n] = -INFINITY;
        sum[n] = 0.0f;
        #pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f) acc[n][f] = 0.0f;
    }
    const size_t q_stride = (size_t)heads * HEAD_DIM, kv_stride = (size_t)kv_heads * HEAD_DIM;
    stage_rows(qs, q + (((size_t)b * lq + q0) * heads + h) * HEAD_DIM, q_stride, OWN_ROWS, rows, scale, x, y);
    __global const float *k_base = k + ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;
    __global const float *v_base = v + ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;

    const int first = row_starts[qb], kept = row_starts[qb + 1] - first, share = (kept + splits - 1) / splits;
    const int p_end = first + min(kept, (split + 1) * share);
    for (int p = first + split * share; p < p_end; ++p) {
        const int k0 = columns[p] * block, k_end = min(k0 + block, lk);
        for (int t0 = k0; t0 < k_end; t0 += STREAM_ROWS) {
            const int keys = min(STREAM_ROWS, k_end - t0), real = clamp(valid_keys - t0, 0, keys);
            barrier(CLK_LOCAL_MEM_FENCE);  // the last tile's values and weights are read
            stage_rows(kv, k_base + (size_t)t0 * kv_stride, kv_stride, STREAM_ROWS, real, 1.0f, x, y);
            barrier(CLK_LOCAL_MEM_FENCE);
            float s[ROWS_PER_ITEM][COLS_PER_ITEM];
            tile_dots(s, qs, kv, x, y);
            #pragma unroll
            for (int n = 0; n < ROWS_PER_ITEM; ++n) {
                float most = -INFINITY;
                #pragma unroll
                for (int m = 0; m < COLS_PER_ITEM; ++m) {
                    const int t = STREAMED(x, m);
                    if (t >= keys || !sees(t0 + t, lo[n], limit[n], global_tokens)) s[n][m] = -INFINITY;
                    most = fmax(most, s[n][m]);  // fmax skips NaN: a NaN score makes the sum NaN below
                }
                pm[OWN(y, n) * LANES + x] = most;
            }
            barrier(CLK_LOCAL_MEM_FENCE);  // partial maxima written, keys no longer read
            stage_rows(kv, v_base + (size_t)t0 * kv_stride, kv_stride, STREAM_ROWS, real, 1.0f, x, y);
            float rescale[ROWS_PER_ITEM];
            #pragma unroll
            for (int n = 0; n < ROWS_PER_ITEM; ++n) {
                float most = peak[n];
                #pragma unroll
                for (int l = 0; l < LANES; ++l) most = fmax(most, pm[OWN(y, n) * LANES + l]);
                // No key seen yet: every weight is exp(-inf) = 0, and nothing to rescale.
                const float base = most == -INFINITY ? 0.0f : most;
                rescale[n] = exp(peak[n] - base);
                peak[n] = most;
                #pragma unroll
                for (int m = 0; m < COLS_PER_ITEM; ++m) ps[OWN(y, n) * SROW + STREAMED(x, m)] = exp(s[n][m] - base);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            #pragma unroll
            for (int n = 0; n < ROWS_PER_ITEM; ++n) {
                sum[n] *= rescale[n];
                #pragma unroll
                for (int f = 0; f < FEATURES_PER_ITEM; ++f) acc[n][f] *= rescale[n];
                for (int t = 0; t < keys; ++t) sum[n] += ps[OWN(y, n) * SROW + t];
            }
            tile_accumulate(acc, ps, kv, keys, x, y);
        }
    }
    #pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
        const int r = OWN(y, n), i = q0 + r;
        if (r >= rows) continue;
        const size_t stat = ((size_t)b * heads + h) * lq + i;
        if (splits > 1) {
            // Unnormalised: attention_combine weighs the splits by their peaks.
            const size_t part = ((size_t)split * get_num_groups(2) * heads) * lq + stat;
            #pragma unroll
            for (int f = 0; f < FEATURES_PER_ITEM; ++f)
                if (FEATURE_STORED(x, f)) part_o[part * HEAD_DIM + FEATURE(x, f)] = acc[n][f];
            if (x == 0) { part_stats[2 * part] = peak[n]; part_stats[2 * part + 1] = sum[n]; }
            continue;
        }
        // A row that saw no key is zeros with log-sum-exp -inf; a NaN sum (a NaN or
        // infinite score) stays NaN in both, as on the CPU.
        const bool saw = !(sum[n] <= 0.0f);  // positive or NaN
        const float inv = saw ? 1.0f / sum[n] : 0.0f;
        const size_t at = (((size_t)b * lq + i) * heads + h) * HEAD_DIM;
        #pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f)
            if (FEATURE_STORED(x, f)) o[at + FEATURE(x, f)] = acc[n][f] * inv;
        if (lse && x == 0) lse[stat] = saw ? peak[n] + log(sum[n]) : -INFINITY;
    }
}

// The splits of one query row merged: each split's sum and output weighed by
// exp(its peak - the largest peak). A work-item per (feature, row) of
// [lq · HEAD_DIM, heads, batch]; feature 0 also writes the log-sum-exp.
__kernel void attention_combine(__global const float *part_o, __global const float *part_stats,
                                __global float *o, __global float *lse, const int lq, const int heads, const int splits)
{
    const int g = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (g >= lq * HEAD_DIM) return;
    QUOTIENT_REMAINDER(g, HEAD_DIM, i, e);
    const size_t stat = ((size_t)b * heads + h) * lq + i, split_stride = (size_t)get_global_size(2) * heads * lq;
    float most = -INFINITY;
    for (int s = 0; s < splits; ++s) most = fmax(most, part_stats[2 * (s * split_stride + stat)]);
    const float base = most == -INFINITY ? 0.0f : most;
    float sum = 0.0f, acc = 0.0f;
    for (int s = 0; s < splits; ++s) {
        const size_t part = s * split_stride + stat;
        const float w = exp(part_stats[2 * part] - base), split_sum = part_stats[2 * part + 1];
        if (split_sum == 0.0f) continue;  // a split that saw no key of this row
        sum = fma(w, split_sum, sum);
        acc = fma(w, part_o[part * HEAD_DIM + e], acc);
    }
    const bool saw = !(sum <= 0.0f);  // positive or NaN
    o[(((size_t)b * lq + i) * heads + h) * HEAD_DIM + e] = saw ? acc / sum : 0.0f;
    if (lse && e == 0) lse[stat] = saw ? most + log(sum) : -INFINITY;
}

#else
// ---------------------------------------------------------------- backward
#include "attention_delta.cl"

// The probability of pair (query row, key) and its score gradient from the
// score and dO·v micro-tiles; zero where the pair is not visible (never a
// product with a masked key's NaN).
#define PAIR_GRADIENTS(visible, s, dp, lse_i, delta_i, pr, ds)                       \
    const float pr = (visible) ? exp((s) * scale - (lse_i)) : 0.0f;                  \
    const float ds = (visible) ? pr * ((dp) - (delta_i)) * scale : 0.0f;

// dQ: a work-group per (query tile, head, sequence), dimension 0 as in the
// forward (without splits); kept key blocks stream through local memory.
__kernel __attribute__((reqd_work_group_size(LANES, GROUP_ROWS, 1)))
void attention_backward_q_tiled(
    __global const float *q, __global const float *k, __global const float *v, __global const float *d_o,
    __global const float *lse, __global const float *delta, __global float *dq,
    __global const int *row_starts, __global const int *columns, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride)
{
    __local float qs[OWN_ROWS * ROW], dos[OWN_ROWS * ROW], ks[STREAM_ROWS * ROW], vs[STREAM_ROWS * ROW];
    __local float dss[OWN_ROWS * SROW];
    const int x = get_local_id(0), y = get_local_id(1), lid = y * LANES + x;
    const int tiles = (block + OWN_ROWS - 1) / OWN_ROWS;
    QUOTIENT_REMAINDER((int)get_group_id(0), tiles, qb, tile_in_block);
    const int q0 = qb * block + tile_in_block * OWN_ROWS;
    const int h = get_group_id(1), b = get_group_id(2), kvh = h / (heads / kv_heads);
    const int rows = min(OWN_ROWS, min(qb * block + block, lq) - q0);
    if (rows <= 0) return;
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    row_starts += h * head_stride;

    int lo[ROWS_PER_ITEM], limit[ROWS_PER_ITEM];
    float lse_i[ROWS_PER_ITEM], delta_i[ROWS_PER_ITEM], acc[ROWS_PER_ITEM][FEATURES_PER_ITEM];
#pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
        const int r = OWN(y, n);
        limit[n] = visible_keys(r < rows ? q0 + r : lq, lq, valid_keys, causal, causal_offset, window_left,
                                window_right, global_tokens, &lo[n]);
        const size_t stat = ((size_t)b * heads + h) * lq + q0 + min(r, rows - 1);
        lse_i[n] = lse[stat];
        delta_i[n] = delta[stat];
#pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f) acc[n][f] = 0.0f;
    }
    const size_t q_stride = (size_t)heads * HEAD_DIM, kv_stride = (size_t)kv_heads * HEAD_DIM;
    const size_t q_at = (((size_t)b * lq + q0) * heads + h) * HEAD_DIM;
    stage_rows(qs, q + q_at, q_stride, OWN_ROWS, rows, 1.0f, x, y);
    stage_rows(dos, d_o + q_at, q_stride, OWN_ROWS, rows, 1.0f, x, y);
    __global const float *k_base = k + ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;
    __global const float *v_base = v + ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;
    for (int p = row_starts[qb]; p < row_starts[qb + 1]; ++p) {
        const int k0 = columns[p] * block, k_end = min(k0 + block, lk);
        for (int t0 = k0; t0 < k_end; t0 += STREAM_ROWS) {
            const int keys = min(STREAM_ROWS, k_end - t0), real = clamp(valid_keys - t0, 0, keys);
            barrier(CLK_LOCAL_MEM_FENCE);
            stage_rows(ks, k_base + (size_t)t0 * kv_stride, kv_stride, STREAM_ROWS, real, 1.0f, x, y);
            stage_rows(vs, v_base + (size_t)t0 * kv_stride, kv_stride, STREAM_ROWS, real, 1.0f, x, y);
            barrier(CLK_LOCAL_MEM_FENCE);
            float s[ROWS_PER_ITEM][COLS_PER_ITEM], dp[ROWS_PER_ITEM][COLS_PER_ITEM];
            tile_dots(s, qs, ks, x, y);
            tile_dots(dp, dos, vs, x, y);
#pragma unroll
            for (int n = 0; n < ROWS_PER_ITEM; ++n)
#pragma unroll
                for (int m = 0; m < COLS_PER_ITEM; ++m) {
                    const int t = STREAMED(x, m);
                    const bool visible = t < keys && lse_i[n] != -INFINITY && sees(t0 + t, lo[n], limit[n], global_tokens);
                    PAIR_GRADIENTS(visible, s[n][m], dp[n][m], lse_i[n], delta_i[n], pr, ds)
                    dss[OWN(y, n) * SROW + t] = ds;
                }
            barrier(CLK_LOCAL_MEM_FENCE);
            tile_accumulate(acc, dss, ks, keys, x, y);
        }
    }
#pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
        const int r = OWN(y, n);
        if (r >= rows) continue;
        const size_t at = q_at + (size_t)r * q_stride;
#pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f)
            if (FEATURE_STORED(x, f)) dq[at + FEATURE(x, f)] = acc[n][f];
    }
}

// dK and dV: a work-group per (key tile of OWN_ROWS rows within key block,
// key/value head, sequence); the query blocks that keep this key block (the
// transposed lists) stream through local memory for every head of the group.
// Each dK/dV row has exactly one writer: no atomics, deterministic.
__kernel __attribute__((reqd_work_group_size(LANES, GROUP_ROWS, 1)))
void attention_backward_kv_tiled(
    __global const float *q, __global const float *k, __global const float *v, __global const float *d_o,
    __global const float *lse, __global const float *delta, __global float *dk, __global float *dv,
    __global const int *t_starts, __global const int *t_rows, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride)
{
    __local float ks[OWN_ROWS * ROW], vs[OWN_ROWS * ROW], qs[STREAM_ROWS * ROW], dos[STREAM_ROWS * ROW];
    __local float ps[OWN_ROWS * SROW], dss[OWN_ROWS * SROW], lse_t[STREAM_ROWS], delta_t[STREAM_ROWS];
    const int x = get_local_id(0), y = get_local_id(1), lid = y * LANES + x;
    const int tiles = (block + OWN_ROWS - 1) / OWN_ROWS;
    QUOTIENT_REMAINDER((int)get_group_id(0), tiles, c, tile_in_block);
    const int j0 = c * block + tile_in_block * OWN_ROWS;
    const int kvh = get_group_id(1), b = get_group_id(2);
    const int rows = min(OWN_ROWS, min(c * block + block, lk) - j0);
    if (rows <= 0) return;
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    const size_t q_stride = (size_t)heads * HEAD_DIM, kv_stride = (size_t)kv_heads * HEAD_DIM;
    const size_t kv_at = (((size_t)b * lk + j0) * kv_heads + kvh) * HEAD_DIM;
    // Own keys past the sequence's length are zeros: never visible, their gradients are 0.
    const int real_keys = clamp(valid_keys - j0, 0, rows);
    stage_rows(ks, k + kv_at, kv_stride, OWN_ROWS, real_keys, 1.0f, x, y);
    stage_rows(vs, v + kv_at, kv_stride, OWN_ROWS, real_keys, 1.0f, x, y);
    float dk_acc[ROWS_PER_ITEM][FEATURES_PER_ITEM], dv_acc[ROWS_PER_ITEM][FEATURES_PER_ITEM];
#pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n)
#pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f) { dk_acc[n][f] = 0.0f; dv_acc[n][f] = 0.0f; }
    const int group = heads / kv_heads;
    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        __global const int *ts = t_starts + h * head_stride;
        for (int p = ts[c]; p < ts[c + 1]; ++p) {
            const int q_begin = t_rows[p] * block, q_end = min(q_begin + block, lq);
            for (int i0 = q_begin; i0 < q_end; i0 += STREAM_ROWS) {
                const int count = min(STREAM_ROWS, q_end - i0);
                const size_t q_at = (((size_t)b * lq + i0) * heads + h) * HEAD_DIM;
                barrier(CLK_LOCAL_MEM_FENCE);
                stage_rows(qs, q + q_at, q_stride, STREAM_ROWS, count, 1.0f, x, y);
                stage_rows(dos, d_o + q_at, q_stride, STREAM_ROWS, count, 1.0f, x, y);
                for (int t = lid; t < STREAM_ROWS; t += GROUP_SIZE) {
                    const size_t stat = ((size_t)b * heads + h) * lq + i0 + t;
                    lse_t[t] = t < count ? lse[stat] : -INFINITY;
                    delta_t[t] = t < count ? delta[stat] : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                float s[ROWS_PER_ITEM][COLS_PER_ITEM], dp[ROWS_PER_ITEM][COLS_PER_ITEM];
                tile_dots(s, ks, qs, x, y);
                tile_dots(dp, vs, dos, x, y);
#pragma unroll
                for (int m = 0; m < COLS_PER_ITEM; ++m) {
                    const int t = STREAMED(x, m);
                    int lo;
                    const int limit = visible_keys(t < count ? i0 + t : lq, lq, valid_keys, causal, causal_offset,
                                                   window_left, window_right, global_tokens, &lo);
                    const float lse_i = lse_t[t], delta_i = delta_t[t];
#pragma unroll
                    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
                        const int r = OWN(y, n);
                        const bool visible = r < rows && lse_i != -INFINITY && sees(j0 + r, lo, limit, global_tokens);
                        PAIR_GRADIENTS(visible, s[n][m], dp[n][m], lse_i, delta_i, pr, ds)
                        ps[r * SROW + t] = pr;
                        dss[r * SROW + t] = ds;
                    }
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                tile_accumulate(dv_acc, ps, dos, count, x, y);
                tile_accumulate(dk_acc, dss, qs, count, x, y);
            }
        }
    }
#pragma unroll
    for (int n = 0; n < ROWS_PER_ITEM; ++n) {
        const int r = OWN(y, n);
        if (r >= rows) continue;
        const size_t at = kv_at + (size_t)r * kv_stride;
#pragma unroll
        for (int f = 0; f < FEATURES_PER_ITEM; ++f)
            if (FEATURE_STORED(x, f)) { dk[at + FEATURE(x, f)] = dk_acc[n][f]; dv[at + FEATURE(x, f)] = dv_acc[n][f]; }
    }
}
#endif
