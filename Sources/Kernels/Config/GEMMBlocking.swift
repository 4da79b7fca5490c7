/// Block sizes of the packed GEMM, in one place (ANCHORS.md §3, BLIS on Zen: 6×16, MC 144, KC 256).
///
/// - MR×NR: the register tile of `sgemmKernel6x16` (12 ymm accumulators + 2 B loads + 1 broadcast).
/// - KC: the depth of one packed block; a 16×KC B micro-panel (16 KiB) stays in L1.
/// - MC: rows of A per block; an MC×KC A block (144 KiB) stays in L2 while B micro-panels stream.
/// - NC: columns of one parallel tile; its KC×NC B slab (1 MiB) lives in L2/L3.
enum GEMMBlocking {
    static let mr = 6
    static let nr = 16
    static let kc = 256
    static let mc = 144
    static let nc = 1024
    /// Below this many rows of C, the packed path does not pay and the row-vector kernels run.
    static let smallM = 4
}
