// The k-quant kernels, included by cpu_kquants.c once per instruction set with
// KQ(name) naming that copy; the compiler vectorises the fixed-width loops
// (16 fp32 lanes, 32-element integer runs) for the target in force.

// Super-block `blk` to 256 fp32 weights (a Q5 block to 32): Q4_K (d·sc)·u − dmin·m, Q6_K (d·sc)·(q − 32);
// every product is exact in fp32 (an fp16 times small integers), so only Q4_K's
// subtraction rounds, as in QuantCodec and llama.cpp.
static void KQ(decode)(const uint8_t *blk, int kind, float *w) {
    if (kind == SLIM_K_Q5_0 || kind == SLIM_K_Q5_1) {
        // d·(q − 16) and d·q + m: the products are exact (an fp16 times 5 bits), so
        // a fused multiply-add rounds Q5_1's sum as QuantCodec's two steps do.
        int16_t q[32];
        kq_q5_levels(blk, kind, kind == SLIM_K_Q5_0 ? 16 : 0, q);
        const float d = kq_half(blk), m = kind == SLIM_K_Q5_0 ? 0 : kq_half(blk + 2);
        if (kind == SLIM_K_Q5_0)
            for (int l = 0; l < 32; l++) w[l] = d * (float)q[l];
        else
            for (int l = 0; l < 32; l++) w[l] = d * (float)q[l] + m;
        return;
    }
    if (kind == SLIM_K_Q4_K) {
        const float d = kq_half(blk), dmin = kq_half(blk + 2);
        // One chunk of 32 bytes at a time, its low nibbles sub-block 2c and its high
        // ones 2c + 1: fixed shifts, so the loop vectorises (a shift that varies
        // with the sub-block left clang -O3 unrolling it into scalar code, 10x slower).
        for (int c = 0; c < 4; c++) {
            int sc0, m0, sc1, m1;
            kq_scale_min(2 * c, blk + 4, &sc0, &m0);
            kq_scale_min(2 * c + 1, blk + 4, &sc1, &m1);
            const float a0 = d * (float)sc0, b0 = dmin * (float)m0, a1 = d * (float)sc1, b1 = dmin * (float)m1;
            const uint8_t *q = blk + 16 + 32 * c;
            float *lo = w + 64 * c, *hi = w + 64 * c + 32;
            for (int l = 0; l < 32; l++) {
                lo[l] = a0 * (float)(q[l] & 0xF) - b0;
                hi[l] = a1 * (float)(q[l] >> 4) - b1;
            }
        }
        return;
    }
    // Straight to floats: levels staged in an int16 buffer and read back at other
    // widths stalled store forwarding (Q6_K ran 15x slower than Q4_K).
    const float d = kq_half(blk + 208);
    float a[16];
    for (int s = 0; s < 16; s++) a[s] = d * (float)(int8_t)blk[192 + s];
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
        for (int half = 0; half < 2; half++) {
            const float *s = a + 8 * h + half;
            float *o = w + 128 * h + 16 * half;
            const uint8_t *l0 = ql + 16 * half, *l1 = ql + 32 + 16 * half, *hb = qh + 16 * half;
            for (int l = 0; l < 16; l++) {
                o[l] = s[0] * (float)(((l0[l] & 0xF) | ((hb[l] & 3) << 4)) - 32);
                o[l + 32] = s[2] * (float)(((l1[l] & 0xF) | (((hb[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = s[4] * (float)(((l0[l] >> 4) | (((hb[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = s[6] * (float)(((l1[l] >> 4) | ((hb[l] >> 6) << 4)) - 32);
            }
        }
    }
}

static void KQ(rows)(const float *x, long xs, int tokens, const uint8_t *data, long row_bytes, int first, int count, int k,
                     int kind, float *out, long os) {
    const int bw = slim_kquant_block_weights(kind), blocks = k / bw, bb = slim_kquant_block_bytes(kind);
    float w[256] __attribute__((aligned(64)));
    for (int r = first; r < first + count; r++) {
        const uint8_t *row = data + (long)r * row_bytes;
        for (int t0 = 0; t0 < tokens; t0 += 4) {
            const int tc = tokens - t0 < 4 ? tokens - t0 : 4;
            float acc[4][16] = {{0}};
            for (int b = 0; b < blocks; b++) {
                KQ(decode)(row + (long)b * bb, kind, w);
                for (int t = 0; t < tc; t++) {
                    const float *xt = x + (long)(t0 + t) * xs + (long)bw * b;
                    for (int i = 0; i < bw; i += 16)
                        for (int l = 0; l < 16; l++) acc[t][l] += xt[i + l] * w[i + l];
                }
            }
            for (int t = 0; t < tc; t++) {
                float s = 0;
                for (int l = 0; l < 16; l++) s += acc[t][l];
                out[(long)(t0 + t) * os + r] = s;
            }
        }
    }
}

// Plain C only: the x86 copies take cpu_kquants_x86.h's vector kernel instead.
// With KQ_SIMD_ROWS_I8 the level has its own rows_i8 for the k-quants
// (cpu_kquants_x86.h), which hands the Q5 blocks to this one.
#ifdef KQ_SIMD_ROWS_I8
#define KQ_GENERIC_ROWS_I8 KQ(rows_i8_generic)
#else
#define KQ_GENERIC_ROWS_I8 KQ(rows_i8)
#endif
static void KQ_GENERIC_ROWS_I8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *data,
                        long row_bytes, int first, int count, int k, int kind, float *out, long os) {
    const int bw = slim_kquant_block_weights(kind), blocks = k / bw, bb = slim_kquant_block_bytes(kind), runs = k / 32,
              per = bw / 32;  // runs of 32 per block
    int16_t v[256] __attribute__((aligned(64)));
    float a[8], b[8];
    for (int r = first; r < first + count; r++) {
        const uint8_t *row = data + (long)r * row_bytes;
        for (int t0 = 0; t0 < tokens; t0 += 4) {
            const int tc = tokens - t0 < 4 ? tokens - t0 : 4;
            float total[4] = {0, 0, 0, 0};
            for (int sb = 0; sb < blocks; sb++) {
                const uint8_t *blk = row + (long)sb * bb;
                kq_levels(blk, kind, v, a, b);
                for (int t = 0; t < tc; t++) {
                    const int8_t *xt = qx + (long)(t0 + t) * xs + (long)bw * sb;
                    const float *d = xd + (long)(t0 + t) * runs + per * sb, *sum = xsum + (long)(t0 + t) * runs + per * sb;
                    for (int run = 0; run < per; run++) {
                        int32_t dot = 0;
                        for (int l = 0; l < 32; l++) dot += (int32_t)xt[32 * run + l] * v[32 * run + l];
                        total[t] += a[run] * d[run] * (float)dot + b[run] * sum[run];
                    }
                }
            }
            for (int t = 0; t < tc; t++) out[(long)(t0 + t) * os + r] = total[t];
        }
    }
}
#undef KQ_GENERIC_ROWS_I8

static void KQ(dequant_row)(const uint8_t *row, int k, int kind, float *out) {
    const int bb = slim_kquant_block_bytes(kind), bw = slim_kquant_block_weights(kind);
    for (int b = 0; b < k / bw; b++) KQ(decode)(row + (long)b * bb, kind, out + (long)bw * b);
}
