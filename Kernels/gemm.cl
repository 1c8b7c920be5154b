// GEMM: C = epilogue(alpha * op(A) * op(B) + beta * C + bias), row-major.
//
// Two kernel shapes of one op, chosen per device by the host (DeviceTuning):
//   gemm_tiled   local-memory tiles and barriers, the GPU shape
//                (-D TS=tile -D WPT=outputs per work-item, TS % WPT == 0)
//   gemm_blocked no local memory; each work-item keeps an MR x VW block of C
//                in MR vector registers, B packed into contiguous panels, the
//                shape PoCL runs well (-D MR=rows -D VW=vector width -D PACKED_B)
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
#include "integer_division.cl"
// The GPU shape: a work-group computes a TS x TS tile of C through local-memory
// tiles of A and B; its TS * TS / WPT work-items each keep a WM x WN block of
// C in registers (WM * WN = WPT; -D WN sets the columns, by default about the
// square root of WPT), so a step of k costs WM + WN local loads for WPT FMAs.
// -D TSK sets the k extent of the local tiles (default TS): smaller tiles leave
// local memory for more work-groups per compute unit.
// Item (ty, tx) owns rows ty + i * (TS / WM) and columns tx + j * (TS / WN):
// lanes of a warp read consecutive columns of B and store consecutive columns
// of C. Tiles are loaded with consecutive work-items on consecutive addresses
// whatever the transposes (under TRANS_A / TRANS_B the lanes walk the
// transposed matrix's rows and the tile is stored transposed), so every global
// load is coalesced. The host launches (TS, TS / WPT) items per group.
#ifndef WN
#if WPT >= 64
#define WN 8
#elif WPT >= 16
#define WN 4
#elif WPT >= 4
#define WN 2
#else
#define WN 1
#endif
#endif
#define WM (WPT / WN)
#ifndef TSK
#define TSK TS  // the k extent of a tile
#endif
#define ITEMS (TS * TS / WPT)
#if WPT % WN || TS % WM || TS % WN
#error "WPT must be WM x WN with both dividing TS"
#endif

// Element (r, c) of a rows x cols row-major matrix, 0 outside it (the ragged edges).
inline float tile_element(__global const float *X, int rows, int cols, int r, int c) {
    return (r < rows && c < cols) ? X[(size_t)r * cols + c] : 0.0f;
}

__kernel __attribute__((reqd_work_group_size(TS, TS / WPT, 1)))
void gemm_tiled(const int M, const int N, const int K, const float alpha, const float beta,
                __global const float *A, __global const float *B, __global float *C,
                __global const float *bias, const int epilogue) {
    const int lid = get_local_id(1) * TS + get_local_id(0);
    QUOTIENT_REMAINDER(lid, TS / WN, ty, tx);
    const int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    __local float As[TS][TSK + 1];  // As[m][k]; +1: no bank conflicts on transposed stores
    __local float Bs[TSK][TS + 1];  // Bs[k][n]
    float acc[WM][WN];
#pragma unroll
    for (int i = 0; i < WM; i++)
#pragma unroll
        for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;
    for (int t = 0; t < K; t += TSK) {
        // Each tile is walked in its memory order (the flat index's fastest
        // part follows the matrix's rows), stored into As[m][k] / Bs[k][n].
        for (int idx = lid; idx < TS * TSK; idx += ITEMS) {
            QUOTIENT_REMAINDER(idx, TS, along_k, along_mn);    // a TSK x TS tile in memory order
            QUOTIENT_REMAINDER(idx, TSK, along_mn2, along_k2); // a TS x TSK tile in memory order
#if TRANS_A
            As[along_mn][along_k] = tile_element(A, K, M, t + along_k, m0 + along_mn);     // A is K x M
#else
            As[along_mn2][along_k2] = tile_element(A, M, K, m0 + along_mn2, t + along_k2);
#endif
#if TRANS_B
            Bs[along_k2][along_mn2] = tile_element(B, N, K, n0 + along_mn2, t + along_k2); // B is N x K
#else
            Bs[along_k][along_mn] = tile_element(B, K, N, t + along_k, n0 + along_mn);
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TSK; kk++) {
            float a[WM], b[WN];
            #pragma unroll
            for (int i = 0; i < WM; i++) a[i] = As[ty + i * (TS / WM)][kk];
            #pragma unroll
            for (int j = 0; j < WN; j++) b[j] = Bs[kk][tx + j * (TS / WN)];
            #pragma unroll
            for (int i = 0; i < WM; i++)
                #pragma unroll
                for (int j = 0; j < WN; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    #pragma unroll
    for (int i = 0; i < WM; i++)
        #pragma unroll
        for (int j = 0; j < WN; j++) {
            const int m = m0 + ty + i * (TS / WM), n = n0 + tx + j * (TS / WN);
            if (m < M && n < N) store_c(C, m, n, N, acc[i][j], alpha, beta, bias, epilogue);
        }
}
#endif

#ifdef MR
// Each work-item keeps an MR x VW block of C in MR vector registers
// (-D MR=rows -D VW=4|8|16, the vector width in floats). With -D PACKED_B=1,
// B is first copied by gemm_pack_b into column strips of VW, each K x VW and
// contiguous: a work-item then streams one contiguous panel instead of
// touching a new page of B for every k, and the zero padding past N removes
// the ragged column edge.
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)

// One work-item packs rows k0 .. k0+PACK_ROWS-1 of one column strip.
#define PACK_ROWS 64
__kernel void gemm_pack_b(const int N, const int K, __global const float *B, __global float *Bp) {
    const int strip = get_global_id(0), k0 = get_global_id(1) * PACK_ROWS;
    const int n0 = strip * VW;
    __global float *panel = Bp + (size_t)strip * K * VW;
    for (int k = k0; k < min(k0 + PACK_ROWS, K); k++) {
#if !TRANS_B
        if (n0 + VW <= N) { VSTORE(VLOAD(0, B + (size_t)k * N + n0), k, panel); continue; }
#endif
        for (int c = 0; c < VW; c++) panel[(size_t)k * VW + c] = n0 + c < N ? B_AT(k, n0 + c) : 0.0f;
    }
}

// An MR x VW block of C at (m0, n0). With `ragged`, rows past M read row M-1
// again and are not stored; the caller passes a constant, so each case
// compiles to its own loop.
__attribute__((always_inline)) inline void block_vector(const int M, const int N, const int K, const float alpha, const float beta,
                         __global const float *A, __global const float *B, __global float *C,
                         __global const float *bias, const int epilogue, const int m0, const int n0,
                         const int ragged) {
    VEC acc[MR];
    for (int r = 0; r < MR; r++) acc[r] = (VEC)(0.0f);
#if PACKED_B
    __global const float *panel = B + (size_t)(n0 / VW) * K * VW;
#endif
    for (int k = 0; k < K; k++) {
#if PACKED_B
        const VEC b = VLOAD(k, panel);
#elif TRANS_B
        float lanes[VW];
        for (int c = 0; c < VW; c++) lanes[c] = B_AT(k, n0 + c);
        const VEC b = VLOAD(0, lanes);
#else
        const VEC b = VLOAD(0, B + (size_t)k * N + n0);
#endif
        for (int r = 0; r < MR; r++) {
            const int row = ragged ? min(m0 + r, M - 1) : m0 + r;
            acc[r] = mad((VEC)(A_AT(row, k)), b, acc[r]);
        }
    }
    for (int r = 0; r < MR && m0 + r < M; r++) {
        float out[VW];
        VSTORE(acc[r], 0, out);
        for (int c = 0; c < VW && n0 + c < N; c++) store_c(C, m0 + r, n0 + c, N, out[c], alpha, beta, bias, epilogue);
    }
}

// Dimension 0 walks M so that neighbouring work-items reuse the same panel of B from cache.
__kernel void gemm_blocked(const int M, const int N, const int K, const float alpha, const float beta,
                           __global const float *A, __global const float *B, __global float *C,
                           __global const float *bias, const int epilogue) {
    const int m0 = get_global_id(0) * MR, n0 = get_global_id(1) * VW;
    if (m0 >= M || n0 >= N) return;
    if (PACKED_B || n0 + VW <= N) {
        if (m0 + MR <= M) block_vector(M, N, K, alpha, beta, A, B, C, bias, epilogue, m0, n0, 0);
        else block_vector(M, N, K, alpha, beta, A, B, C, bias, epilogue, m0, n0, 1);
        return;
    }
    // Unpacked B, last partial column strip: scalar, one output at a time.
    for (int r = 0; r < MR && m0 + r < M; r++)
        for (int c = 0; n0 + c < N; c++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = mad(A_AT(m0 + r, k), B_AT(k, n0 + c), acc);
            store_c(C, m0 + r, n0 + c, N, acc, alpha, beta, bias, epilogue);
        }
}
#endif
