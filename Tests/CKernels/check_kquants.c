// The k-quant rows (cpu_kquants.h) times int8 activations, against float64
// products of the super-blocks decoded here from llama.cpp's layouts
// (dequantize_row_q4_K / dequantize_row_q6_K), independently of the kernels.
#include "check_support.h"

// Q4_K sub-block s's 6-bit scale and minimum (llama.cpp's get_scale_min_k4).
static void ref_scale_min(int s, const uint8_t *q, int *sc, int *m) {
    if (s < 4) *sc = q[s] & 63, *m = q[s + 4] & 63;
    else *sc = (q[s + 4] & 0xF) | ((q[s - 4] >> 6) << 4), *m = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
}

// The 256 weights of a super-block in double, and |each term| for the tolerance.
static void ref_superblock(int kind, const uint8_t *blk, double *w, double *mag) {
    if (kind == SLIM_K_Q4_K) {
        const double d = half_at_d(blk), dmin = half_at_d(blk + 2);
        for (int j = 0; j < 4; j++)
            for (int half = 0; half < 2; half++) {
                int sc, m;
                ref_scale_min(2 * j + half, blk + 4, &sc, &m);
                for (int l = 0; l < 32; l++) {
                    const int u = half ? blk[16 + 32 * j + l] >> 4 : blk[16 + 32 * j + l] & 0xF;
                    w[64 * j + 32 * half + l] = d * sc * u - dmin * m;
                    mag[64 * j + 32 * half + l] = fabs(d * sc * u) + fabs(dmin * m);
                }
            }
        return;
    }
    const double d = half_at_d(blk + 208);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(blk + 192 + 8 * h);
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q[4] = {((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32, ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32,
                              ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32, ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32};
            for (int i = 0; i < 4; i++) {
                w[128 * h + 32 * i + l] = d * sc[is + 2 * i] * q[i];
                mag[128 * h + 32 * i + l] = fabs(w[128 * h + 32 * i + l]);
            }
        }
    }
}

// Random super-blocks: every byte random (Q6_K scales over all of int8, −128
// included), then the fp16 scales set to finite values of either sign.
static void random_superblocks(int kind, uint8_t *row, int blocks) {
    const int bb = slim_kquant_block_bytes(kind);
    fill_bytes(row, (long)bb * blocks);
    for (int b = 0; b < blocks; b++) {
        uint8_t *blk = row + (long)b * bb;
        if (kind == SLIM_K_Q4_K) put_half(blk, rnd_float(-0.05f, 0.05f)), put_half(blk + 2, rnd_float(-0.05f, 0.05f));
        else put_half(blk + 208, rnd_float(-0.01f, 0.01f));
    }
}

static void check_rows_kquant_i8(int kind, int per_run) {
    const int blocks = rnd_int(1, 3), k = 256 * blocks, runs = k / 32, n = rnd_int(17, 41), tokens = rnd_int(1, 7);
    const int first = rnd_int(0, 5), count = n - first - rnd_int(0, 3);
    const long rb = (long)slim_kquant_block_bytes(kind) * blocks + 2 * rnd_int(0, 3);  // rows may be padded
    const long xs = k + 32 * rnd_int(0, 1), os = n + rnd_int(1, 5);
    uint8_t *data = malloc(rb * n);
    for (int r = 0; r < n; r++) random_superblocks(kind, data + r * rb, blocks);
    float *x = malloc(sizeof(float) * k), *xd = malloc(sizeof(float) * runs * tokens);
    float *xsum = malloc(sizeof(float) * runs * tokens), *out = malloc(sizeof(float) * os * tokens);
    double *w = malloc(sizeof(double) * k), *mag = malloc(sizeof(double) * k);
    int8_t *qx = malloc(xs * tokens);
    for (int t = 0; t < tokens; t++) {
        fill_floats(x, k, -1, 1);
        slim_quantize_runs_i8(x, k, per_run, qx + t * xs, xd + t * runs, xsum + t * runs, check_isa);
    }
    poison_floats(out, os * tokens);
    slim_paths_take();
    slim_rows_kquant_i8(qx, xs, tokens, xd, xsum, data, rb, first, count, k, kind, out, os, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1 | L2, 0), "slim_rows_kquant_i8 dispatch");
    const char *name = kind == SLIM_K_Q4_K ? "q4_K" : "q6_K";
    int bad = 0;
    for (long i = 0; i < os * tokens && !bad; i++) {
        const long t = i / os, r = i % os;
        if (r < first || r >= first + count) {
            if (!is_poison_f(out[i])) bad = !check(0, "slim_rows_kquant_i8", "%s: out[%ld] written outside the rows\n", name, i);
            continue;
        }
        double want = 0, m = 0;
        for (int b = 0; b < blocks; b++) {
            ref_superblock(kind, data + r * rb + (long)b * slim_kquant_block_bytes(kind), w + 256 * b, mag + 256 * b);
        }
        for (int run = 0; run < runs; run++) {
            double s = 0, sm = 0;
            for (int j = 0; j < 32; j++) {
                s += (double)qx[t * xs + run * 32 + j] * w[run * 32 + j];
                sm += fabs((double)qx[t * xs + run * 32 + j]) * mag[run * 32 + j];
            }
            want += xd[t * runs + run] * s;
            m += fabs(xd[t * runs + run]) * sm;
        }
        // Exact integer run dots; then a·xd, the FMA into the sums and their reduction.
        const double tol = (runs + 16) * U32 * m;
        if (!near(out[i], want, tol))
            bad = !check(0, "slim_rows_kquant_i8", "%s %s k=%d tokens=%d row %ld token %ld: got %.9g, want %.9g (tol %.3g)\n",
                        name, per_run ? "per-run" : "per-row", k, tokens, r, t, out[i], want, tol);
    }
    if (!bad) check(1, "slim_rows_kquant_i8", " ");
    free(data), free(x), free(xd), free(xsum), free(out), free(w), free(mag), free(qx);
}

void check_kquants(void) {
    for (int rep = 0; rep < 3; rep++)
        for (int per_run = 0; per_run < 2; per_run++) {
            check_rows_kquant_i8(SLIM_K_Q4_K, per_run);
            check_rows_kquant_i8(SLIM_K_Q6_K, per_run);
        }
}
