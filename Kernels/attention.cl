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

__kernel void attention_forward(
    __global const float *q, __global const float *k, __global const float *v,
    __global float *o, __global float *lse,
    __global const int *row_starts, __global const int *columns, __global const int *key_lengths,
    const int lq, const int lk, const int heads, const int kv_heads, const int block,
    const int causal, const int causal_offset, const int window_left, const int window_right,
    const int global_tokens, const float scale)
{
    __local float kt[KEY_TILE * HEAD_DIM];
    __local float vt[KEY_TILE * HEAD_DIM];
    const int qb = get_group_id(0), h = get_group_id(1), b = get_group_id(2);
    const int lid = get_local_id(0), ls = get_local_size(0);
    const int i = qb * block + lid;
    const int kvh = h / (heads / kv_heads);
    const int valid_keys = key_lengths ? clamp(key_lengths[b], 0, lk) : lk;
    const int pos = i + causal_offset;
    // Keys lo <= j < limit are visible (global keys below lo too); window_left < 0: no window.
    const bool windowed = window_left >= 0 && i >= global_tokens;
    int limit = (i < lq) ? (causal ? min(valid_keys, pos + 1) : valid_keys) : 0;
    if (windowed) limit = min(limit, pos + window_right + 1);
    const int lo = windowed ? pos - window_left : 0;

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
