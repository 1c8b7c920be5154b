import CMemory

/// glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
/// blocks of a few MB come from heaps that fragment and are not given back: compressing a
/// 22-block TinyLlama-shaped model grew to 1.38 GB instead of staying near one block's needs.
/// A fixed 1 MB threshold maps every block of that size on its own and returns it when freed
/// (measured on 6 blocks with MALLOC_MMAP_THRESHOLD_: 987 MB → 772 MB peak, time within noise).
enum MemoryReturn {
    static func configure() { _ = slim_map_blocks_from(1 << 20) }
}
