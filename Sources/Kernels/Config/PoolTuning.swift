/// Tuning of the pooling kernels, measured on Zen 4 (alternating in-process runs, 1 thread).
enum PoolTuning {
    /// The 2×2 stride-2 max-pool kernels prefetch the row pair two output rows ahead on input rows
    /// at least this wide. On VGG pool1 (64×224×224) the hardware prefetchers leave the loads from
    /// L3 waiting: values 240 → 187 µs (AVX-512) and 310 → 212 (SIMD8), with indices 466 → 313 and
    /// 576 → 519; 144-wide rows gained 10–22 %. Rows of 56–128 floats lost 0–20 % (pool2: 86 → 101 µs),
    /// so they run without.
    static let prefetchMinimumWidth = 144
}
