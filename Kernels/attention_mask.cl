// Which keys a query sees under a block-sparse layout's element mask, shared by
// the CPU-device kernels (attention.cl) and the GPU-shaped ones (attention_tiled.cl).

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
