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

// The keys query i may see: lo <= j < *limit, plus global keys below lo. Padding
// (valid_keys), the causal diagonal (offset: the query's key position) and the window.
inline int visible_keys(int i, int lq, int valid_keys, int causal, int causal_offset, int window_left,
                        int window_right, int global_tokens, int *lo) {
    const int pos = i + causal_offset;
    const bool windowed = window_left >= 0 && i >= global_tokens;
    int limit = (i < lq) ? (causal ? min(valid_keys, pos + 1) : valid_keys) : 0;
    if (windowed) limit = min(limit, pos + window_right + 1);
    *lo = windowed ? pos - window_left : 0;
    return limit;
}

inline bool sees(int j, int lo, int limit, int global_tokens) { return j < limit && (j >= lo || j < global_tokens); }

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
                const int j = t0 + idx / HEAD_DIM, e = idx % HEAD_DIM;
                const bool inside = j < k_end;
                const size_t src = kv_base + (size_t)(inside ? j : k0) * kv_stride + e;
                kt[idx] = inside ? k[src] : 0.0f;
                vt[idx] = inside ? v[src] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            const int visible = min(KEY_TILE, limit - t0);
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
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int e = 0; e < HEAD_DIM; ++e) o[qoff + e] = acc[e] * inv;
    if (lse) lse[((size_t)b * heads + h) * lq + i] = sum > 0.0f ? peak + log(sum) : -INFINITY;
}

// ---------------------------------------------------------------- backward
// Δ_i = Σ_e dO_ie · O_ie, laid out like the log-sum-exp [batch, heads, lq].
__kernel void attention_delta(__global const float *o, __global const float *d_o, __global float *delta,
                              const int lq, const int heads)
{
    const int i = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
    if (i >= lq) return;
    const size_t at = (((size_t)b * lq + i) * heads + h) * HEAD_DIM;
    float sum = 0.0f;
    for (int e = 0; e < HEAD_DIM; ++e) sum = fma(o[at + e], d_o[at + e], sum);
    delta[((size_t)b * heads + h) * lq + i] = sum;
}

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
                    const int i = i0 + idx / HEAD_DIM, e = idx % HEAD_DIM;
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
                const int jj = t0 + idx / HEAD_DIM, e = idx % HEAD_DIM;
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
