// GEMM: C = epilogue(alpha * op(A) * op(B) + beta * C + bias), row-major.
//
// Two kernel shapes of one op, chosen per device by the host (DeviceTuning):
//   gemm_tiled   local-memory tiles and barriers, the GPU shape
//                (-D TS=tile -D WPT=outputs per work-item, TS % WPT == 0)
//   gemm_blocked no local memory; each work-item keeps an MR x (8*NV) block
//                of C in float8 registers, the shape that PoCL's work-item
//                loops vectorise well (-D MR=rows -D NV=float8 vectors per row)
// Both: -D TRANS_A=0|1 -D TRANS_B=0|1. The epilogue flags are run-time
// arguments so they do not multiply the number of programs to build.

#if TRANS_A
#define A_AT(m, k) A[(size_t)(k) * M + (m)]
#else
#define A_AT(m, k) A[(size_t)(m) * K + (k)]
#endif
#if TRANS_B
#define B_AT(k, n) B[(size_t)(n) * K + (k)]
#else
#define B_AT(k, n) B[(size_t)(k) * N + (n)]
#endif

#define EPILOGUE_NONE 0
#define EPILOGUE_GELU 1

// The exact GELU through erfc, accurate for negative x where 1 + erf cancels.
inline float gelu_exact(float x) { return 0.5f * x * erfc(-x * 0.70710678118654752f); }

inline void store_c(__global float *C, int m, int n, int N, float acc, float alpha, float beta,
                    __global const float *bias, int epilogue) {
    float v = alpha * acc;
    size_t at = (size_t)m * N + n;
    if (beta != 0.0f) v += beta * C[at];  // beta == 0 never reads C: it may hold garbage
    if (bias) v += bias[n];
    if (epilogue == EPILOGUE_GELU) v = gelu_exact(v);
    C[at] = v;
}

#ifdef TS
// Work-group (TS, TS/WPT); each work-item computes WPT rows of one column.
__kernel __attribute__((reqd_work_group_size(TS, TS / WPT, 1)))
void gemm_tiled(const int M, const int N, const int K, const float alpha, const float beta,
                __global const float *A, __global const float *B, __global float *C,
                __global const float *bias, const int epilogue) {
    const int RTS = TS / WPT;
    const int col = get_local_id(0), row = get_local_id(1);
    const int n = get_group_id(0) * TS + col;
    const int m0 = get_group_id(1) * TS;
    __local float As[TS][TS + 1];  // +1: no bank conflicts on the transposed read
    __local float Bs[TS][TS + 1];
    float acc[WPT];
    for (int w = 0; w < WPT; w++) acc[w] = 0.0f;
    for (int t = 0; t < K; t += TS) {
        for (int w = 0; w < WPT; w++) {
            const int r = row + w * RTS;
            const int am = m0 + r, ak = t + col, bk = t + r;
            As[r][col] = (am < M && ak < K) ? A_AT(am, ak) : 0.0f;
            Bs[r][col] = (bk < K && n < N) ? B_AT(bk, n) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TS; kk++) {
            const float b = Bs[kk][col];
            for (int w = 0; w < WPT; w++) acc[w] = mad(As[row + w * RTS][kk], b, acc[w]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int w = 0; w < WPT; w++) {
        const int m = m0 + row + w * RTS;
        if (m < M && n < N) store_c(C, m, n, N, acc[w], alpha, beta, bias, epilogue);
    }
}
#endif

#ifdef MR
#define NR (8 * NV)
// One work-item per MR x NR block of C; dimension 0 walks M so that
// neighbouring work-items reuse the same K x NR panel of B from cache.
__kernel void gemm_blocked(const int M, const int N, const int K, const float alpha, const float beta,
                           __global const float *A, __global const float *B, __global float *C,
                           __global const float *bias, const int epilogue) {
    const int m0 = get_global_id(0) * MR, n0 = get_global_id(1) * NR;
    if (m0 >= M || n0 >= N) return;
    if (m0 + MR <= M && n0 + NR <= N) {
        float8 acc[MR][NV];
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = (float8)(0.0f);
        for (int k = 0; k < K; k++) {
            float8 b[NV];
            for (int v = 0; v < NV; v++) {
#if TRANS_B
                const int c = n0 + 8 * v;
                b[v] = (float8)(B_AT(k, c), B_AT(k, c + 1), B_AT(k, c + 2), B_AT(k, c + 3),
                                B_AT(k, c + 4), B_AT(k, c + 5), B_AT(k, c + 6), B_AT(k, c + 7));
#else
                b[v] = vload8(0, B + (size_t)k * N + n0 + 8 * v);
#endif
            }
            for (int r = 0; r < MR; r++) {
                const float a = A_AT(m0 + r, k);
                for (int v = 0; v < NV; v++) acc[r][v] = mad((float8)(a), b[v], acc[r][v]);
            }
        }
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) {
                const float8 x = acc[r][v];
                const float lanes[8] = {x.s0, x.s1, x.s2, x.s3, x.s4, x.s5, x.s6, x.s7};
                for (int l = 0; l < 8; l++)
                    store_c(C, m0 + r, n0 + 8 * v + l, N, lanes[l], alpha, beta, bias, epilogue);
            }
        return;
    }
    // A block on the ragged edge of C: scalar, one output at a time.
    for (int r = 0; r < MR && m0 + r < M; r++)
        for (int c = 0; c < NR && n0 + c < N; c++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = mad(A_AT(m0 + r, k), B_AT(k, n0 + c), acc);
            store_c(C, m0 + r, n0 + c, N, acc, alpha, beta, bias, epilogue);
        }
}
#endif
