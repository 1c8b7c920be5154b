// The backward's first step, shared by attention.cl and attention_tiled.cl.
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
