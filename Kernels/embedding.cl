// Embedding lookup: out[i] = table[ids[i]], a work-item per element so rows
// are read and written coalesced. An id outside the table writes NaN rather
// than reading outside it.

__kernel void embedding_gather(__global const int *ids, __global const float *table, __global float *out,
                               const int rows, const int width, const int count)
{
    const int e = get_global_id(0), i = get_global_id(1);
    if (e >= width || i >= count) return;
    const int row = ids[i];
    out[(size_t)i * width + e] = (row >= 0 && row < rows) ? table[(size_t)row * width + e] : NAN;
}
