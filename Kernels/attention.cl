// Block-sparse attention forward, FlashAttention style: a work-group per
// (query block, head, sequence), one work-item per query row, keys streamed
// through local memory KEY_TILE rows at a time with an online softmax, so
// nothing of size queries × keys is ever stored.
//
// -D HEAD_DIM=d   head dimension (private q and accumulator rows)
// -D KEY_TILE=t   key rows staged in local memory per step
//
// Q, O: [batch, lq, heads, d]; K, V: [batch, lk, kv_heads, d]. The layout is
// compressed rows: query block qb keeps key blocks columns[row_starts[qb] ..
// row_starts[qb + 1]). Every kept block is masked element by element (padding
// past key_lengths[b], causal j > i + causal_offset, outside a window), so the layout's partial
// flags are only a hint the kernel does not need.

#include "attention_mask.cl"
#include "integer_division.cl"

__kernel void attention_forward(
    __global const float *q, __global const float *k, __global const float *v,
    __global float *o, __global float *lse,
    __global const int *row_starts, __global const int *columns, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride)
{
    __local float kt[KEY_TILE * HEAD_DIM];
    __local float vt[KEY_TILE * HEAD_DIM];
    const int qb = get_group_id(0), h = get_group_id(1), b = get_group_id(2);
    const int lid = get_local_id(0), ls = get_local_size(0);
    const int i = qb * block + lid;
    const int kvh = h / (heads / kv_heads);
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    int lo;
    const int limit = visible_keys(i, lq, valid_keys, causal, causal_offset, window_left, window_right, global_tokens, &lo);
    row_starts += h * head_stride;  // per-head layouts: each head's row list, offsets into the shared columns

    float qr[HEAD_DIM], acc[HEAD_DIM];
    const size_t qoff = (((size_t)b * lq + min(i, lq - 1)) * heads + h) * HEAD_DIM;
    for (int e = 0; e < HEAD_DIM; ++e) { qr[e] = q[qoff + e] * scale; acc[e] = 0.0f; }
    float peak = -INFINITY, sum = 0.0f;

    const int kv_stride = kv_heads * HEAD_DIM;
    const size_t kv_base = ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;
    for (int p = row_starts[qb]; p < row_starts[qb + 1]; ++p) {
        const int k0 = columns[p] * block;
        const int k_end = min(k0 + block, lk);
        for (int t0 = k0; t0 < k_end; t0 += KEY_TILE) {
            // The whole group stages the tile: consecutive work-items read consecutive floats.
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int idx = lid; idx < KEY_TILE * HEAD_DIM; idx += ls) {
                QUOTIENT_REMAINDER(idx, HEAD_DIM, row, e);
                const int j = t0 + row;
                const bool inside = j < k_end;
                const size_t src = kv_base + (size_t)(inside ? j : k0) * kv_stride + e;
                kt[idx] = inside ? k[src] : 0.0f;
                vt[idx] = inside ? v[src] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            // Keys of this block only: with a block that is not a multiple of KEY_TILE the
            // last tile runs past k_end into zeros the staging loop wrote, not keys.
            const int visible = min(KEY_TILE, min(limit, k_end) - t0);
            for (int t = 0; t < visible; ++t) {
                if (t0 + t < lo && t0 + t >= global_tokens) continue;
                float s = 0.0f;
                for (int e = 0; e < HEAD_DIM; ++e) s = fma(qr[e], kt[t * HEAD_DIM + e], s);
                if (s > peak) {
                    // A new maximum: rescale what was summed against the old one.
                    const float r = exp(peak - s);
                    sum *= r;
                    for (int e = 0; e < HEAD_DIM; ++e) acc[e] *= r;
                    peak = s;
                }
                const float w = exp(s - peak);
                sum += w;
                for (int e = 0; e < HEAD_DIM; ++e) acc[e] = fma(w, vt[t * HEAD_DIM + e], acc[e]);
            }
        }
    }
    if (i >= lq) return;
    // A row that saw no key is zeros with log-sum-exp -inf; a NaN sum (a NaN or
    // infinite score) stays NaN in both, as on the CPU.
    const bool saw = !(sum <= 0.0f);  // positive or NaN
    const float inv = saw ? 1.0f / sum : 0.0f;
    for (int e = 0; e < HEAD_DIM; ++e) o[qoff + e] = acc[e] * inv;
    if (lse) lse[((size_t)b * heads + h) * lq + i] = saw ? peak + log(sum) : -INFINITY;
}

// ---------------------------------------------------------------- backward
#include "attention_delta.cl"

// dK and dV: a work-group per (key block, key/value head, sequence), a
// work-item per key row; the query blocks that keep this key block (the
// transposed lists) stream through local memory for every head of the group.
// Each dK/dV row has exactly one writer: no atomics, deterministic.
__kernel void attention_backward_kv(
    __global const float *q, __global const float *k, __global const float *v, __global const float *d_o,
    __global const float *lse, __global const float *delta, __global float *dk, __global float *dv,
    __global const int *t_starts, __global const int *t_rows, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride)
{
    __local float qt[KEY_TILE * HEAD_DIM], dot_[KEY_TILE * HEAD_DIM], lse_t[KEY_TILE], delta_t[KEY_TILE];
    const int c = get_group_id(0), kvh = get_group_id(1), b = get_group_id(2);
    const int lid = get_local_id(0), ls = get_local_size(0);
    const int j = c * block + lid;
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    const size_t kv_at = (((size_t)b * lk + min(j, lk - 1)) * kv_heads + kvh) * HEAD_DIM;
    float kr[HEAD_DIM], vr[HEAD_DIM], dkr[HEAD_DIM], dvr[HEAD_DIM];
    for (int e = 0; e < HEAD_DIM; ++e) { kr[e] = k[kv_at + e]; vr[e] = v[kv_at + e]; dkr[e] = 0.0f; dvr[e] = 0.0f; }
    const int group = heads / kv_heads;
    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        __global const int *ts = t_starts + h * head_stride;
        for (int p = ts[c]; p < ts[c + 1]; ++p) {
            const int q0 = t_rows[p] * block, q_end = min(q0 + block, lq);
            for (int i0 = q0; i0 < q_end; i0 += KEY_TILE) {
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int idx = lid; idx < KEY_TILE * HEAD_DIM; idx += ls) {
                    QUOTIENT_REMAINDER(idx, HEAD_DIM, row, e);
                    const int i = i0 + row;
                    const size_t at = (((size_t)b * lq + min(i, lq - 1)) * heads + h) * HEAD_DIM + e;
                    qt[idx] = i < q_end ? q[at] : 0.0f;
                    dot_[idx] = i < q_end ? d_o[at] : 0.0f;
                }
                for (int t = lid; t < KEY_TILE; t += ls) {
                    const size_t at = ((size_t)b * heads + h) * lq + min(i0 + t, lq - 1);
                    lse_t[t] = lse[at];
                    delta_t[t] = delta[at];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                const int rows = min(KEY_TILE, q_end - i0);
                for (int t = 0; t < rows; ++t) {
                    int lo;
                    const int limit = visible_keys(i0 + t, lq, valid_keys, causal, causal_offset, window_left,
                                                   window_right, global_tokens, &lo);
                    if (j >= lk || !sees(j, lo, limit, global_tokens) || lse_t[t] == -INFINITY) continue;
                    float s = 0.0f, dp = 0.0f;
                    for (int e = 0; e < HEAD_DIM; ++e) {
                        s = fma(qt[t * HEAD_DIM + e], kr[e], s);
                        dp = fma(dot_[t * HEAD_DIM + e], vr[e], dp);
                    }
                    const float pr = exp(s * scale - lse_t[t]);
                    const float ds = pr * (dp - delta_t[t]) * scale;
                    for (int e = 0; e < HEAD_DIM; ++e) {
                        dvr[e] = fma(pr, dot_[t * HEAD_DIM + e], dvr[e]);
                        dkr[e] = fma(ds, qt[t * HEAD_DIM + e], dkr[e]);
                    }
                }
            }
        }
    }
    if (j >= lk) return;
    for (int e = 0; e < HEAD_DIM; ++e) { dk[kv_at + e] = dkr[e]; dv[kv_at + e] = dvr[e]; }
}

// dQ: a work-group per (query block, head, sequence), a work-item per query
// row; the kept key blocks stream through local memory.
__kernel void attention_backward_q(
    __global const float *q, __global const float *k, __global const float *v, __global const float *d_o,
    __global const float *lse, __global const float *delta, __global float *dq,
    __global const int *row_starts, __global const int *columns, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int head_stride)
{
    __local float kt[KEY_TILE * HEAD_DIM], vt[KEY_TILE * HEAD_DIM];
    const int qb = get_group_id(0), h = get_group_id(1), b = get_group_id(2);
    row_starts += h * head_stride;
    const int lid = get_local_id(0), ls = get_local_size(0);
    const int i = qb * block + lid;
    const int kvh = h / (heads / kv_heads);
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    int lo;
    const int limit = visible_keys(i, lq, valid_keys, causal, causal_offset, window_left, window_right, global_tokens, &lo);
    const size_t at = (((size_t)b * lq + min(i, lq - 1)) * heads + h) * HEAD_DIM;
    const size_t row = ((size_t)b * heads + h) * lq + min(i, lq - 1);
    const float lse_i = lse[row], delta_i = delta[row];
    float qr[HEAD_DIM], dor[HEAD_DIM], dqr[HEAD_DIM];
    for (int e = 0; e < HEAD_DIM; ++e) { qr[e] = q[at + e]; dor[e] = d_o[at + e]; dqr[e] = 0.0f; }
    const size_t kv_base = ((size_t)b * lk * kv_heads + kvh) * HEAD_DIM;
    for (int p = row_starts[qb]; p < row_starts[qb + 1]; ++p) {
        const int k0 = columns[p] * block, k_end = min(k0 + block, lk);
        for (int t0 = k0; t0 < k_end; t0 += KEY_TILE) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int idx = lid; idx < KEY_TILE * HEAD_DIM; idx += ls) {
                QUOTIENT_REMAINDER(idx, HEAD_DIM, row, e);
                const int jj = t0 + row;
                const bool inside = jj < k_end;
                const size_t src = kv_base + (size_t)(inside ? jj : k0) * kv_heads * HEAD_DIM + e;
                kt[idx] = inside ? k[src] : 0.0f;
                vt[idx] = inside ? v[src] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            const int keys = min(KEY_TILE, k_end - t0);
            for (int t = 0; t < keys; ++t) {
                if (!sees(t0 + t, lo, limit, global_tokens) || lse_i == -INFINITY) continue;
                float s = 0.0f, dp = 0.0f;
                for (int e = 0; e < HEAD_DIM; ++e) {
                    s = fma(qr[e], kt[t * HEAD_DIM + e], s);
                    dp = fma(dor[e], vt[t * HEAD_DIM + e], dp);
                }
                const float ds = exp(s * scale - lse_i) * (dp - delta_i) * scale;
                for (int e = 0; e < HEAD_DIM; ++e) dqr[e] = fma(ds, kt[t * HEAD_DIM + e], dqr[e]);
            }
        }
    }
    if (i >= lq) return;
    for (int e = 0; e < HEAD_DIM; ++e) dq[at + e] = dqr[e];
}

// ---------------------------------------------------------------- scores
// The attention logits as a tensor [batch, heads, lq, lk], for losses on the
// attention distribution (MiniLM's attention KL). Tiles of KEY_TILE × KEY_TILE
// scores; kept[] is the layout as a dense block mask ([query block][key block],
// per head at kept + h * kept_stride). Local rows are padded by one float so
// work-items reading different rows at one feature hit different banks.
#define ROW (HEAD_DIM + 1)

// Whether query i sees key j: its block kept, padding, causal and window.
inline bool pair_visible(int i, int j, int lq, int valid_keys, int causal, int causal_offset, int window_left,
                         int window_right, int global_tokens, int block, __global const int *kept, int key_blocks) {
    int lo;
    const int limit = visible_keys(i, lq, valid_keys, causal, causal_offset, window_left, window_right, global_tokens, &lo);
    // Both tests evaluated, combined with `&`: `a && kept[...]` becomes a select
    // on the load that clang guards with a `freeze` (see integer_division.cl).
    const int kept_block = kept[min(i / block, (lq - 1) / block) * key_blocks + min(j / block, key_blocks - 1)];
    return sees(j, lo, limit, global_tokens) & (kept_block != 0);
}

// A work-group per (query tile, key tile, sequence × head): the tile's Q and K
// rows staged in local memory, one score per work-item, consecutive keys on
// consecutive work-items (coalesced stores). Keys not seen get `mask`.
__kernel __attribute__((reqd_work_group_size(KEY_TILE, KEY_TILE, 1)))
void attention_scores(
    __global const float *q, __global const float *k, __global float *scores,
    __global const int *kept, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int kept_stride, const float mask)
{
    __local float qt[KEY_TILE * ROW], kt[KEY_TILE * ROW];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int j0 = get_group_id(0) * KEY_TILE, i0 = get_group_id(1) * KEY_TILE;
    QUOTIENT_REMAINDER((int)get_group_id(2), heads, b, h);
    const int kvh = h / (heads / kv_heads);
    for (int idx = ty * KEY_TILE + tx; idx < KEY_TILE * HEAD_DIM; idx += KEY_TILE * KEY_TILE) {
        QUOTIENT_REMAINDER(idx, HEAD_DIM, r, e);
        // Rows past the end are clamped (read, never stored); padding keys may hold anything: their scores are masked.
        qt[r * ROW + e] = q[(((size_t)b * lq + min(i0 + r, lq - 1)) * heads + h) * HEAD_DIM + e];
        kt[r * ROW + e] = k[(((size_t)b * lk + min(j0 + r, lk - 1)) * kv_heads + kvh) * HEAD_DIM + e];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int i = i0 + ty, j = j0 + tx;
    if (i >= lq || j >= lk) return;
    float s = 0.0f;
    for (int e = 0; e < HEAD_DIM; ++e) s = fma(qt[ty * ROW + e], kt[tx * ROW + e], s);
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    const bool seen = pair_visible(i, j, lq, valid_keys, causal, causal_offset, window_left, window_right, global_tokens,
                                   block, kept + h * kept_stride, (lk + block - 1) / block);
    scores[(((size_t)b * heads + h) * lq + i) * lk + j] = seen ? s * scale : mask;
}

// The backward of attention_scores, added into the output: dQ (by_keys = 0,
// a work-group per (query tile, head, sequence)) or dK (by_keys = 1, per
// (key tile, kv head, sequence), summing the heads of its group). Work-item
// (tx, ty) owns output row ty of the tile and features tx, tx + KEY_TILE, ...;
// the other side (K rows for dQ, Q rows for dK) streams through local memory
// with the matching tile of dS, zero where the pair is not visible. One writer
// per output row: no atomics, deterministic.
#define PER_ITEM ((HEAD_DIM + KEY_TILE - 1) / KEY_TILE)
__kernel __attribute__((reqd_work_group_size(KEY_TILE, KEY_TILE, 1)))
void attention_scores_backward(
    __global const float *q, __global const float *k, __global const float *ds, __global float *out,
    __global const int *kept, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale, const int kept_stride, const int by_keys)
{
    __local float ot[KEY_TILE * ROW], dst[KEY_TILE * (KEY_TILE + 1)];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int own_heads = by_keys ? kv_heads : heads, group = heads / kv_heads;
    QUOTIENT_REMAINDER((int)get_group_id(2), own_heads, b, g);
    const int own0 = get_group_id(1) * KEY_TILE;
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    // dQ never needs keys past the valid length (their rows may hold NaN: never read).
    const int other_len = by_keys ? lq : valid_keys;
    const int key_blocks = (lk + block - 1) / block;
    float acc[PER_ITEM];
    for (int n = 0; n < PER_ITEM; ++n) acc[n] = 0.0f;
    const int h_first = by_keys ? g * group : g, h_end = by_keys ? h_first + group : g + 1;
    for (int h = h_first; h < h_end; ++h) {
        const int kvh = h / group;
        for (int o0 = 0; o0 < other_len; o0 += KEY_TILE) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int idx = ty * KEY_TILE + tx; idx < KEY_TILE * HEAD_DIM; idx += KEY_TILE * KEY_TILE) {
                QUOTIENT_REMAINDER(idx, HEAD_DIM, r, e);
                const int o = o0 + r;
                const size_t at = by_keys ? (((size_t)b * lq + min(o, lq - 1)) * heads + h) * HEAD_DIM + e
                                          : (((size_t)b * lk + min(o, lk - 1)) * kv_heads + kvh) * HEAD_DIM + e;
                ot[r * ROW + e] = o < other_len ? (by_keys ? q[at] : k[at]) : 0.0f;
            }
            // Consecutive work-items read consecutive keys of dS in both directions.
            const int i = by_keys ? o0 + ty : own0 + ty, j = by_keys ? own0 + tx : o0 + tx;
            const bool seen = i < lq && j < lk && (by_keys || j < other_len)
                && pair_visible(i, j, lq, valid_keys, causal, causal_offset, window_left, window_right, global_tokens,
                                block, kept + h * kept_stride, key_blocks);
            const float value = seen ? ds[(((size_t)b * heads + h) * lq + i) * lk + j] : 0.0f;
            dst[by_keys ? tx * (KEY_TILE + 1) + ty : ty * (KEY_TILE + 1) + tx] = value;
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int c = 0; c < KEY_TILE; ++c) {
                const float d = dst[ty * (KEY_TILE + 1) + c];
                for (int n = 0; n < PER_ITEM; ++n) {
                    const int e = tx + n * KEY_TILE;
                    if (e < HEAD_DIM) acc[n] = fma(d, ot[c * ROW + e], acc[n]);
                }
            }
        }
    }
    const int own = own0 + ty;
    if (own >= (by_keys ? lk : lq)) return;
    const size_t at = by_keys ? (((size_t)b * lk + own) * kv_heads + g) * HEAD_DIM : (((size_t)b * lq + own) * heads + g) * HEAD_DIM;
    for (int n = 0; n < PER_ITEM; ++n) {
        const int e = tx + n * KEY_TILE;
        if (e < HEAD_DIM) out[at + e] += scale * acc[n];
    }
}
