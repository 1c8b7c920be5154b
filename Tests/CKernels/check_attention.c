// The flash-attention backward step (cpu_flash_attention.h) against float64:
// random blocks of odd sizes, head dims that are no multiple of the tile
// width, masks with windows and global keys, rows whose log-sum-exp is −∞ or
// NaN, NaN in every key the mask hides past the block's visible columns (as
// padding past a sequence's length holds), and accumulators that start
// non-zero so rows and columns past the real ones must come back unchanged.
#include "check_support.h"

static int round_to(int x, int to) { return (x + to - 1) / to * to; }

static void check_backward_block(void) {
    const int rows = rnd_int(1, 40), cols = rnd_int(1, 40), d = rnd_int(1, 70), global = rnd_int(-1, 4);
    const int rp = round_to(rows, SLIM_ATTENTION_PAD_ROWS), kp = round_to(cols, SLIM_ATTENTION_PAD_ROWS);
    const long ld = round_to(d, SLIM_ATTENTION_PAD_COLS) + 16 * rnd_int(0, 1);
    const long ldkt = round_to(cols, SLIM_ATTENTION_PAD_COLS) + SLIM_ATTENTION_PAD_COLS + rnd_int(0, 3);
    const float scale = rnd_float(0.1f, 0.5f);
    int first[40], limit[40];
    float lse[40], delta[40];
    // Reference inputs (q unscaled), then the kernel's padded layouts of them.
    double *q = calloc((size_t)rows * d, sizeof(double)), *dout = calloc((size_t)rows * d, sizeof(double));
    double *k = calloc((size_t)cols * d, sizeof(double)), *v = calloc((size_t)cols * d, sizeof(double));
    float *qs = calloc((size_t)rp * ld, sizeof(float)), *dos = calloc((size_t)rp * ld, sizeof(float));
    float *kt = malloc(sizeof(float) * d * ldkt), *vt = malloc(sizeof(float) * d * ldkt), *kr = calloc((size_t)kp * ld, sizeof(float));
    int seen = 0;  // the highest visible column + 1: keys past it hold NaN
    for (int r = 0; r < rows; r++) {
        first[r] = rnd_int(-2, cols);
        limit[r] = rnd_int(-1, cols + 2);
        const int kind = rnd_int(0, 7);  // mostly live rows; some that saw nothing (−∞) or were NaN
        lse[r] = kind == 0 ? -INFINITY : kind == 1 ? NAN : rnd_float(-1, 4);
        delta[r] = kind <= 1 && rnd_int(0, 1) ? NAN : rnd_float(-1, 1);  // a dead row's Δ may be anything
        const int hi = limit[r] < cols ? limit[r] : cols;
        if (hi > seen) seen = hi;
        for (int e = 0; e < d; e++) {
            q[r * d + e] = rnd_float(-1, 1), dout[r * d + e] = rnd_float(-1, 1);
            qs[r * ld + e] = scale * (float)q[r * d + e], dos[r * ld + e] = (float)dout[r * d + e];
        }
    }
    for (long i = 0; i < (long)d * ldkt; i++) kt[i] = vt[i] = poison_f();
    for (int j = 0; j < cols; j++)
        for (int e = 0; e < d; e++) {
            k[j * d + e] = rnd_float(-1, 1), v[j * d + e] = rnd_float(-1, 1);
            const float kk = j < seen ? (float)k[j * d + e] : NAN, vv = j < seen ? (float)v[j * d + e] : NAN;
            kt[e * ldkt + j] = kk, vt[e * ldkt + j] = vv, kr[j * ld + e] = kk;
        }
    for (int j = cols; j < kp; j++)
        for (int e = 0; e < d; e++) kr[j * ld + e] = NAN;  // never read: only the visible keys
    // Accumulators with a random start; the reference adds to the same start.
    const long nq = (long)rp * ld, nk = (long)kp * ld;
    float *dq = malloc(sizeof(float) * nq), *dk = malloc(sizeof(float) * nk), *dv = malloc(sizeof(float) * nk);
    fill_floats(dq, nq, -1, 1), fill_floats(dk, nk, -1, 1), fill_floats(dv, nk, -1, 1);
    double *wq = calloc((size_t)nq, sizeof(double)), *wk = calloc((size_t)nk, sizeof(double)), *wv = calloc((size_t)nk, sizeof(double));
    double *mq = calloc((size_t)nq, sizeof(double)), *mk = calloc((size_t)nk, sizeof(double)), *mv = calloc((size_t)nk, sizeof(double));
    for (long i = 0; i < nq; i++) wq[i] = dq[i], mq[i] = fabs(dq[i]);
    for (long i = 0; i < nk; i++) wk[i] = dk[i], wv[i] = dv[i], mk[i] = fabs(dk[i]), mv[i] = fabs(dv[i]);
    for (int r = 0; r < rows; r++) {
        if (!(lse[r] > -INFINITY)) continue;
        const int hi = limit[r] < cols ? limit[r] : cols;
        for (int j = 0; j < hi; j++) {
            if (j < first[r] && j >= global) continue;
            double s = 0, dp = 0, ms = 0, mdp = 0;
            for (int e = 0; e < d; e++) {
                s += (double)qs[r * ld + e] * k[j * d + e], ms += fabs((double)qs[r * ld + e] * k[j * d + e]);
                dp += dout[r * d + e] * v[j * d + e], mdp += fabs(dout[r * d + e] * v[j * d + e]);
            }
            const double p = exp(s - lse[r]), ds = p * (dp - delta[r]);
            // A magnitude for the tolerance: the rounding of S moves P by P·|S|-ish, dP by its terms.
            const double mp = p * (1 + ms), mds = mp * (fabs(dp) + fabs(delta[r])) + p * mdp;
            for (int e = 0; e < d; e++) {
                wv[j * ld + e] += p * dout[r * d + e], mv[j * ld + e] += mp * fabs(dout[r * d + e]);
                wk[j * ld + e] += ds * qs[r * ld + e], mk[j * ld + e] += mds * fabs(qs[r * ld + e]);
                wq[r * ld + e] += ds * k[j * d + e], mq[r * ld + e] += mds * fabs(k[j * d + e]);
            }
        }
    }
    float *scratch = malloc(sizeof(float) * slim_attention_backward_scratch(rnd_int(0, 1) ? 40 : rows > cols ? rows : cols));
    slim_paths_take();
    slim_attention_backward_block(qs, dos, ld, kt, vt, ldkt, kr, ld, rows, cols, d, first, limit, global, lse, delta, dq, dk, dv, ld,
                                  scratch, check_isa);
    const unsigned ran = slim_paths_take();  // check_paths takes the bits: give them back for each family
    slim_paths_add(ran);
    check_paths(SLIM_PATHS_GEMM, LEVELS(L1 | L2, 0), "slim_attention_backward_block tile dispatch");
    slim_paths_add(ran);
    check_paths(SLIM_PATHS_ATTENTION, LEVELS(L1, 0), "slim_attention_backward_block row dispatch");
    // Outside the real rows and columns the accumulators must be exactly what they were.
    const char *names[3] = {"dQ", "dK", "dV"};
    float *got[3] = {dq, dk, dv};
    double *want[3] = {wq, wk, wv}, *mag[3] = {mq, mk, mv};
    const int real_rows[3] = {rows, cols, cols}, all_rows[3] = {rp, kp, kp};
    int bad = 0;
    for (int t = 0; t < 3 && !bad; t++)
        for (int i = 0; i < all_rows[t] && !bad; i++)
            for (int e = 0; e < ld && !bad; e++) {
                const long at = i * ld + e;
                const int real = i < real_rows[t] && e < d;
                const double tol = real ? 64 * (d + rows + cols) * U32 * mag[t][at] + 1e-30 : 0;
                bad = !check(near(got[t][at], want[t][at], tol), "slim_attention_backward_block",
                             "%s[%d][%d] (rows %d cols %d d %d global %d): %.9g, want %.9g\n", names[t], i, e, rows, cols, d, global,
                             got[t][at], want[t][at]);
            }
    if (!bad) check(1, "slim_attention_backward_block", " ");
    free(q), free(dout), free(k), free(v), free(qs), free(dos), free(kt), free(vt), free(kr), free(dq), free(dk), free(dv);
    free(wq), free(wk), free(wv), free(mq), free(mk), free(mv), free(scratch);
}

void check_attention(void) {
    for (int rep = 0; rep < 12; rep++) check_backward_block();
}
