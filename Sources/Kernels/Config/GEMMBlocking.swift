import Synchronization

/// Register tile and cache blocking of one GEMM micro-kernel (ANCHORS.md §3; Goto & van de Geijn 2008).
///
/// - MR×NR: the register tile of C the micro-kernel keeps in registers.
/// - KC: the depth of one packed block; an NR×KC B micro-panel stays in L1.
/// - MC: rows of A per block; an MC×KC A block stays in L2 while B micro-panels stream.
/// - NC: columns of one parallel tile at most. A tile packs its whole K×NC slice of B once,
///   bounded by `maxPackedB` floats (8 MiB), and keeps each MC×NC block of C in L2 across K blocks.
struct GEMMBlocking {
    let mr: Int, nr: Int, kc: Int, mc: Int, nc: Int
    static let maxPackedB = 1 << 21
    /// Packed B shared by all row tiles is packed in groups of column tiles of at most this many
    /// floats (16 MiB), so scratch stays bounded whatever the size of B (an implicit-GEMM im2col).
    static let maximumSharedPackedB = 1 << 22
    /// A packed B of one column tile and several row tiles is packed by every worker for itself up to
    /// this many floats (2 MiB), instead of once by the region's first tiles. Zen 4, 2 threads,
    /// alternating in-process medians of per-round ratios (11 rounds): 256×196×1024 +11 %, 256×196×2304
    /// +7 %; with 4 MiB copies (512×196×4608) −6 %, hence the bound.
    static let maximumPrivatePackedB = 1 << 19
    /// Guided column tiles (`GEMMTiling`) also cut regions of several row tiles and column tiles when a row
    /// tile's rows of A are at most this many floats (256 KiB): they stay in L2 while the narrower column
    /// tiles re-read them. Zen 4, 2 threads, alternating in-process medians of 9–15, even → guided: ResNet's
    /// 1×1 128→512 at 28² as a GEMM (512×784×128) +1 to +4 %, 512×784×256 0 to +4 %, 1024×784×128 0 to +3 %,
    /// 300×500×400 +4 to +7 %, 400×600×300 +4 %, 700×400×150 +5 %, 640×480×200 −2 to +1 %, 2000×300×100 −1
    /// to 0; as gemm-1x1 convolutions, 128→512 at 28² +1 %, 256→512 at 28² +2 %. Not with one column tile,
    /// whose row tiles pack their own rows of A and B privately: 256→1024 at 14² (8 row tiles) −13 %.
    static let maximumGuidedRowTileA = 1 << 16
    /// Whether the AVX-512 kernel reads a row-major A in place (`GEMMPath.packedB`) instead of packing it,
    /// a transposing copy of all of A: at least 256 rows, at most 2048 columns, depth at least 1024.
    /// Zen 4, alternating in-process medians of 7–11, packed A → A in place, 1 / 2 threads: VGG conv4_1 as
    /// a GEMM (512×784×2304) +1 to +3 / +2 to +4 %, conv4_2 (512×784×4608) +5 / +4 %, 1024³ +1 to +4 /
    /// +1 to +8 %, 2048³ +2 / −1 %, 256×784×1152 0 / 0 to +6 %. Not taken: fewer rows (128×784×1152 −4 / −1 %,
    /// 160×1000×1000 −4 / −1 %, 203×301×517 −3 / +1 %), more columns (256×3136×1152 −3 / −3 %,
    /// 128×12544×576 −7 / −6 %) and shallow (512×784×128 −1 / −5 to +5 %, 512×784×256 −1 / −1 %,
    /// 512×784×512 −1 / 0): there the in-place rows are read by more kernel calls per element of A, or
    /// by shorter ones, than the packing costs.
    static func readsRowsOfAInPlace(m: Int, n: Int, k: Int) -> Bool { m >= 256 && n <= 2048 && k >= 1024 }
    /// Whether such a GEMM, on a row-major B, reads B's rows in place too (`GEMMPath.inPlace`): no packing
    /// at all. At most 4·MC rows, since every row tile (at most 2·MC rows) re-reads B; and B's rows spread
    /// over L2's sets, since a KC-deep panel of them must stay in L2 while an MC block's row panels re-read
    /// it: at most 4 of its rows on one set, i.e. the row starts take at least KC/4 distinct offsets within
    /// an L2 way (`l2WayBytes`). Zen 4, alternating in-process medians of 7–15, B packed → in place, 1 / 2
    /// threads: VGG conv4_2 as a GEMM (512×784×4608) 0 / +6 % and +4 / +5 %, conv4_1 (512×784×2304) 0 / +3 %
    /// and +1 / +3 %, 256×784×1152 +5 / −1 %, 300×500×1100 +3 / +2 %, 400×640×1500 +4 / +2 %. Lost: rows on
    /// few sets (ldb 1024: 512×1024×2048 −4 / −5 %, 256×1024×1024 −1 / −7 %; ldb 512: 512×512×2048 +1 / −3 %;
    /// ldb 1280: 512×1280×1024 −2 / −1 %), more rows (1024³ −5 / −4 %, 2048×1000×2000 −12 / −13 %).
    static func readsRowsOfBInPlaceWithA(_ blocking: GEMMBlocking, m: Int, ldb: Int) -> Bool {
        guard m <= 4 * blocking.mc else { return false }
        var a = ldb * MemoryLayout<Float>.stride, b = l2WayBytes
        while b != 0 { (a, b) = (b, a % b) }
        return l2WayBytes / a * 4 >= blocking.kc   // distinct row offsets in a way: l2WayBytes ÷ gcd(row bytes, l2WayBytes)
    }
    /// Bytes of one way of L2 (1 MiB, 8 ways on Zen 4): addresses this far apart share a set.
    static let l2WayBytes = 128 << 10
    /// Whether a tile that holds all rows of C has the AVX-512 kernel read a row-major B in place, packing
    /// only its partial last panel: depth at least 32, and either at most MC rows with B under
    /// `SourceRowsPrefetch.minimumSource` floats (a larger B keeps its packing in prefetched chunks), or
    /// at most 2·MC rows. A panel's rows are re-read by the tile's row panels from L1/L2, the first of them
    /// prefetching the next panel, which costs less than copying them. Zen 4, alternating in-process
    /// medians of 7–9, packed → in place, 1 / 2 threads: ResNet-50's 1×1 256→64 at 56×56 (64×3136×256)
    /// +12 / +15 %, its 3×3 64→64 (64×3136×576) +13 / +11 %, the stem (64×12544×147) +9 / +8 %,
    /// 128×784×1152 +4 / +4 %, 128×784×512 +4 / +2 %, 64×784×576 +7 / +6 %, 128×2000×2000 +13 / +13 %,
    /// 32×3136×576 +17 / +16 %, 16×3136×576 +34 / +31 %; over MC rows: VGG conv3_1 (256×3136×1152) +7 / +7 %,
    /// conv3_2 (256×3136×2304) +11 / +7 %, 160×3136×1152 +5 / +7 %, 256×12544×576 +2 / +6 %, ResNet's 1×1
    /// 64→256 at 56×56 (256×3136×64) +4 / +3 %, 256×3136×256 +3 / +3 %, 160×3136×147 +5 / +3 %, 200×1000×1000
    /// +1 / +2 %, 256×784×1152 +1 / +1 %. Lost: K = 27 (64×50176×27) −23 / −8 %; at most MC rows with B over
    /// the bound (128×1024×4096) −3 / −4 %.
    /// (`blocking`: the GEMM's; its A panels must be the kernel's 8 rows, not the transposed path's 7.)
    static func readsRowsOfBInPlace(
        _ kernel: GEMMMicroKernel, _ blocking: GEMMBlocking, rowMajorB: Bool, rows: Int, n: Int, k: Int
    ) -> Bool {
        guard kernel == .avx512_8x32 && blocking.mr == 8 && rowMajorB && k >= 32 else { return false }
        if rows <= blocking.mc { return k * n < SourceRowsPrefetch.minimumSource }
        return rows <= 2 * blocking.mc
    }

    /// From this depth of a kernel call on, the packed GEMM's loops bring the call's tile of C into L2
    /// just before it (`prefetchTile`): the call loads and stores C at its end, and C has often left L2
    /// since the tile's last K block. Shorter calls gained nothing from it and paid for the prefetches.
    /// Zen 4, alternating in-process medians of 9, none → prefetch, 1 / 2 threads: ResNet's stem as a GEMM
    /// (64×12544×147) +15 / +9 %, 128×12544×576 +4 / +8 %, 64×50176×576 +4 / +5 %, 256×3136×1152 +4 / +2 %,
    /// VGG conv4_1 +2 / +1 %, conv4_2 +2.5 / 0; but depth 128 (512×784×128) −2 / −2 %, 64 (256×3136×64) −1 / −2 %.
    static let minimumDepthForCPrefetch = 144
    /// A GEMM that writes each element of C once (β = 0, one K block) into at least this many floats of C
    /// (8 MiB, eight times L2) has the 8×32 AVX-512 kernel store its full tiles past the caches (`vmovntps`,
    /// `sgemmKernel8x32AVX512StreamingC`), on packed A and B, where C's rows are 64-byte aligned (`streamsC`;
    /// not the calls that also prefetch the rows of a B of 2²² floats or more, `SourceRowsPrefetch`):
    /// a plain store first reads the line from DRAM (read for ownership), and with K small the kernel waited
    /// on those reads. Zen 4, VGG conv1_1 as a GEMM (64×50176×27, K = 27 and 12.8 MB of C): Bench on 1 / 2
    /// threads, alternating runs, 52–57 → 65–83 / 128–137 → 142–167 GFLOPS; in-process alternating medians
    /// of 7, +33 / +39 %. Deeper K gained nothing (64×50176×576 0 / +1 %). A smaller C is streamed at depths
    /// under `minimumDepthForCPrefetch` (`minimumStreamedShallowC`). The price: the reader of C finds it in
    /// DRAM, not in L3, and a C this large would mostly have left L3's share anyway.
    static let minimumStreamedC = 1 << 21
    /// At a call depth under `minimumDepthForCPrefetch` (C's tile not brought into L2 first), C is streamed
    /// from this many floats on (1 MiB, one L2): there each call's 16 plain stores of a C past L2 waited on
    /// their reads for ownership. With B's rows read in place (`sgemmKernel8x32AVX512RowsBStreamingC`, an
    /// entry of its own), Zen 4, in-process alternating medians of 5, plain → streamed, 1 / 2 threads:
    /// ResNet's 1×1 64→256 as a GEMM (256×3136×64) 96–104 → 111–113 / 144–199 → 205–214 GFLOPS, 256×12544×64
    /// 71 → 101 (1 thread), 128×3136×128 +4 % / +3 %, 256×2048×64–128 +1–5 % / +7 %, 256×1568×64 +2 % / +4 %;
    /// at depth 200–256, where C's tile is prefetched, −2 to −5 %, hence the depth bound. Its reader: that
    /// GEMM followed by the 1×1 256→64 one reading its C as B took 1.99 → 1.90 ms on 1 thread, 1.01 ms on 2
    /// both ways (the second GEMM itself 0–6 % slower there, from DRAM instead of L3 and the other L2).
    /// Packed B: ResNet's 1×1 128→512 as a GEMM (512×784×128) +1 to +4 % / +1 to +2 %, 1024×784×128 and
    /// 768×1024×96 0 to +2 %, 400×1000×100 and 600×700×64 0 (1 thread).
    static let minimumStreamedShallowC = 1 << 18
    /// Whether a GEMM stores its full 8×32 tiles of C past the caches (`minimumStreamedShallowC`, and
    /// `minimumStreamedC` on packed B).
    static func streamsC(
        _ kernel: GEMMMicroKernel, _ blocking: GEMMBlocking, m: Int, n: Int, k: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        bInPlace: Bool
    ) -> Bool {
        let large = m * n >= minimumStreamedShallowC && k < minimumDepthForCPrefetch || !bInPlace && m * n >= minimumStreamedC
        return kernel == .avx512_8x32 && blocking.mr == 8 && beta == 0 && k <= blocking.kc && large
            && Int(bitPattern: c) % 64 == 0 && ldc % 16 == 0
    }
    /// Below this many rows of C, the packed path does not pay and the row-vector kernels run.
    static let smallM = 4
    /// At this depth or less, the product is a rank-K update written row by row (`GEMM.rankKGEMM`).
    static let smallK = 4
    /// A tile of at most MC rows packs each K block of its B in chunks of at most this many floats
    /// (512 KiB), and multiplies each chunk right after packing it: the chunk is read back from L2,
    /// not from L3 (a K block of the whole tile, 768 × 1024 floats, is 3 MiB). Zen 4, alternating
    /// in-process medians of 7–9, 1 / 2 threads: VGG conv1_2 as a GEMM (64×50176×576) 79 → 86 /
    /// 137 → 149 GFLOPS, conv2_2 (128×12544×1152) 83 → 92 / 143 → 158, conv2_1 91 → 95 / 151 → 159,
    /// ResNet's 64-channel 3×3 89 → 93 / 166 → 167, the stem 74 → 79 / 159 → 164. Chunks of 128–256
    /// columns measured alike; 512 lost most of the gain.
    static let maxPackedBChunk = 1 << 17
    /// Columns of one such chunk: whole NR panels.
    var packedBChunkColumns: Int { max(nr, GEMMBlocking.maxPackedBChunk / kc / nr * nr) }
    /// Columns of a chunk while the rows of B the next chunk packs are prefetched into L2
    /// (`SourceRowsPrefetch`): half as many, so that the packed chunk, the next chunk's rows and the
    /// A block fit in the 1 MiB L2 together (64×50176×576 on 1 thread: +7 % with the half chunk, +2–5 %
    /// with the whole one).
    var prefetchedBChunkColumns: Int { max(nr, GEMMBlocking.maxPackedBChunk / 2 / kc / nr * nr) }
}

/// The SGEMM micro-kernels, and which one the packed GEMM path uses (the kernel choice).
public enum GEMMMicroKernel: String, Sendable, CaseIterable {
    /// 8×32 tile of SIMD16 (zmm) accumulators: x86-64 with AVX-512 (F, CD, BW, DQ, VL).
    case avx512_8x32 = "8x32 SIMD16 AVX-512"
    /// 6×16 tile of SIMD8 accumulators: AVX2 + FMA3 under the `FMA` trait, portable otherwise.
    case simd8_6x16 = "6x16 SIMD8"

    var blocking: GEMMBlocking {
        switch self {
        case .avx512_8x32: return GEMMBlocking(mr: 8, nr: 32, kc: 256, mc: 128, nc: 1024)
        case .simd8_6x16: return GEMMBlocking(mr: 6, nr: 16, kc: 256, mc: 144, nc: 1024)
        }
    }

    /// The blocking of `GEMM.sgemm` on unpacked operands, which packs A per call: deeper K blocks
    /// on AVX-512 (KC 768: C passes through the kernel a third as often; the 768×32-float B
    /// micro-panel, 96 KiB, streams from L2, which keeps up). 2 threads, alternating calls on Zen 5:
    /// the VGG-16/ResNet-50 conv-as-GEMM shapes +2–7 % (1 and 2 threads), 1024³ +2–4 %. Packed weights (`PackedMatrixA`),
    /// Winograd and direct convolution keep `blocking`: there KC 768 cost up to 25 % (their own loops
    /// block by KC). The gemm-1x1 weights take this one too (`PackedMatrixA` with `deepK`: 1024→256
    /// at 14×14 +3–4 %); for implicit-GEMM and direct 3×3 weights it was −2 to +5 %, so they don't.
    var unpackedBlocking: GEMMBlocking {
        let b = blocking
        switch self {
        case .avx512_8x32: return GEMMBlocking(mr: b.mr, nr: b.nr, kc: 768, mc: b.mc, nc: b.nc)
        case .simd8_6x16: return b
        }
    }

    /// The blocking of `GEMM.sgemm`'s transposed path, whose `rows` (N of the call) run along MR:
    /// `unpackedBlocking`, but with 7-row A panels (the 7×32 kernel, MC 126) on AVX-512 where `rows` is
    /// a multiple of 7 and not of 8 (49 pixels), which 8-row panels pad by an eighth. Zen 4, alternating
    /// in-process medians of 7, 1 / 2 threads: 512×49×4608 79 → 87 / 153 → 162 GFLOPS, 512×49×2048
    /// 84 → 91 / 153 → 166, 2048×49×512 83 → 90 / 160 → 172. (N = 196 run transposed this way was
    /// −5 to +6 %, within noise, so it keeps the plain orientation.)
    func transposedBlocking(rows: Int) -> GEMMBlocking {
        let b = unpackedBlocking
        guard self == .avx512_8x32, rows % 7 == 0, rows % 8 != 0 else { return b }
        return GEMMBlocking(mr: 7, nr: b.nr, kc: b.kc, mc: 126, nc: b.nc)
    }

    /// Whether this build contains the kernel and this CPU can run it.
    public var isSupported: Bool {
        switch self {
        case .simd8_6x16: return true
        case .avx512_8x32:
            #if TESSERA_AVX512 && arch(x86_64)
            return CPUFeatures.hasAVX512
            #else
            return false
            #endif
        }
    }

    /// The fastest kernel this build and CPU support, unless `TESSERA_GEMM_KERNEL=6x16` asks for the SIMD8 one.
    public static let best: GEMMMicroKernel = {
        if let forced = CPUFeatures.environment("TESSERA_GEMM_KERNEL"), forced == "6x16" { return .simd8_6x16 }
        return GEMMMicroKernel.avx512_8x32.isSupported ? .avx512_8x32 : .simd8_6x16
    }()

    private static let override = Atomic<Int>(-1)

    /// The kernel new GEMMs and new `PackedMatrixA`s use: `best`, unless set here (tests and Bench
    /// compare the kernels this way). Setting an unsupported kernel is ignored.
    public static var active: GEMMMicroKernel {
        get {
            let i = override.load(ordering: .relaxed)
            return i >= 0 ? allCases[i] : best
        }
        set {
            guard newValue.isSupported else { return }
            override.store(allCases.firstIndex(of: newValue)!, ordering: .relaxed)
        }
    }
}

/// How one packed GEMM cuts C into the tiles of its parallel region: column tiles of whole NR-column
/// panels, then row tiles of whole MR-row panels, each spread evenly (tile sizes differ by at most
/// one panel, so no tile is a sliver that leaves a core idle at the end of the region), or guided
/// (below).
///
/// - Columns: at most NC wide and `maxPackedB / K` wide (a tile packs its K × columns of B), split
///   further while tiles stay ≥ 128 columns and the region has fewer than `target` tiles.
/// - Rows: split while tiles stay ≥ 4·MR rows and the region has fewer than `target` tiles; but
///   C of at most MC rows is cut into columns only (tiles ≥ 64 columns; into rows as well only
///   where the rounding below finds no other way), so that no tile waits for B packed by another
///   core: each packs its own, in L2-sized chunks
///   (`GEMMBlocking.maxPackedBChunk`). Zen 4, 2 threads, alternating in-process medians of 9:
///   128×196×1152 150 → 156 GFLOPS, 64×784×576 160 → 171, 96×1000×300 163 → 179, the VGG-16 /
///   ResNet-50 shapes with M ≤ 128 ±2 %; in a phase where the host slowed the second vCPU,
///   128×784×1152 124 → 156 (the shared packing made every product wait for the slow core's pack
///   tiles). 1 thread ±2 %.
/// - Both counts are rounded up to make the tile count a multiple of the worker count, where tiles
///   stay ≥ 64 columns and ≥ 2·MR rows: with equal tiles handed out dynamically, 2 workers on
///   9 tiles leave one idle for a ninth of the region. With one row tile and at least a column tile
///   per worker, the columns are rounded (tiles ≥ 128 columns), not the rows: more than one row tile
///   makes the region share its packed B (`GEMM.packedGEMM`), whose product tiles wait for all of a
///   group's packing, so the DRAM-bound packing of a large B never overlaps the other core's FMAs.
///   Zen 4, 2 threads, alternating in-process medians of 8 rounds: VGG conv1_2 as a GEMM
///   (64×50176×576, 49 → 50 column tiles instead of 2 × 49) 103 → 138 GFLOPS, conv2_2 142 → 164,
///   conv2_1 150 → 169, the ResNet stem 127 → 151; as implicit-GEMM convolutions conv1_2 121 → 150,
///   stem 99 → 104; every other VGG-16 / ResNet-50 shape keeps its tiling.
///
/// - But C of at most MC rows, or C with `target` column tiles or more (so one row tile; not with
///   `maximumRows`), on several workers gets guided column tiles instead, one row tile: each
///   takes 1/(2·workers) of the panels the tiles before it left (at least one, at most the widest tile
///   above), so the region ends on one-panel tiles. So do the row tiles above, each cut into the same
///   guided column tiles, where there are several column tiles and a row tile's rows of A are few
///   (`GEMMBlocking.maximumGuidedRowTileA`). With even tiles, a core woken 20–40 µs after the caller
///   (ANCHORS.md §4) ran the region's last tile of 3–4 panels while the other waited: 128×784×1152 on
///   2 threads, traced, the caller idle for 96 µs of 1312. Zen 4, 2 threads, alternating in-process
///   medians of 7, even → guided: 128×784×1152 +3 %, 128×784×512 +1 %, 64×784×576 +1 %, 64×3136×576
///   +4 %, 64×3136×256 +3 %, VGG conv1_1 as a GEMM (64×50176×27) +7 %, the ResNet stem and conv1_2 0;
///   as convolutions, implicit GEMM on ResNet's 3×3 64 at 56² +10 %, 3×3 128 at 28² +2 %, the stem +4 %,
///   VGG conv2_1 +5 %, im2col 3×3 64 +5 %, gemm-1x1 512→128 +5 %, 256→64 +1 %. With more rows (medians of
///   9–13): ResNet's 1×1 64→256 at 56² as a GEMM (256×3136×64) +2–3 %, VGG conv3_1 (256×3136×1152) +2–3 %,
///   conv3_2 +2 %, 256×3136×256 +2 %, 160×3136×147 +2–7 %, 200×1500×1300 +1 %, 256×12544×576 0; as
///   convolutions, gemm-1x1 64→256 +6 %, implicit GEMM 3×3 128→256 at 56² +3 %, im2col 3×3 256 +1 %.
/// - `maximumRows` (a region whose tiles read B in place, `GEMMPath.inPlace`): at least as many row
///   tiles as keep each within that many rows.
///
/// The tiling changes which core computes a tile, never the arithmetic of an element (the kernel
/// calls and their order per element are the same for any cut), so results stay bit-identical for
/// any worker count. A prepacked B (`PackedMatrixB`) fixes `columnTiles` at packing time.
struct GEMMTiling {
    let columnPanels: Int, columnTiles: Int, rowPanels: Int, rowTiles: Int
    let nr: Int, mr: Int, m: Int, n: Int
    /// Guided column tiles: the workers they are cut for (0: even tiles) and the widest, in panels.
    private let guidedWorkers: Int, guidedWidest: Int
    /// Tiles per region that the cuts aim for (then rounded to a multiple of the workers).
    static let target = 8

    init(m: Int, n: Int, k: Int, _ blocking: GEMMBlocking, workers: Int, columnTiles fixed: Int? = nil, maximumRows: Int? = nil) {
        let mr = blocking.mr, nr = blocking.nr
        self.m = m; self.n = n; self.mr = mr; self.nr = nr
        columnPanels = (n + nr - 1) / nr
        rowPanels = (m + mr - 1) / mr
        var nTiles = fixed ?? GEMMTiling.columnTiles(n: n, k: k, blocking)
        var mTiles = 1
        let oneRowBlock = fixed == nil && m <= blocking.mc
        let w = max(1, min(workers, rowPanels * columnPanels))
        if !oneRowBlock {
            while nTiles * mTiles < GEMMTiling.target && rowPanels / (mTiles + 1) >= 4 { mTiles += 1 }
        }
        if let maximumRows { mTiles = max(mTiles, (rowPanels + maximumRows / mr - 1) / (maximumRows / mr)) }
        mTiles = (rowPanels + (rowPanels + mTiles - 1) / mTiles - 1) / ((rowPanels + mTiles - 1) / mTiles)
        // Guided columns: one row tile (C of at most MC rows, or as many column tiles as the region aims
        // for), or several column tiles on row tiles whose rows of A stay in L2 across them.
        let rowTileA = (rowPanels + mTiles - 1) / mTiles * mr * k
        if w > 1 && (oneRowBlock || (fixed == nil && maximumRows == nil
            && (nTiles >= GEMMTiling.target || (nTiles > 1 && rowTileA <= GEMMBlocking.maximumGuidedRowTileA)))) {
            let widest = max(1, min(blocking.nc, GEMMBlocking.maxPackedB / k) / nr)
            var tiles = 0, p = 0
            while p < columnPanels { p += GEMMTiling.guidedPanels(left: columnPanels - p, workers: w, widest: widest); tiles += 1 }
            guidedWorkers = w; guidedWidest = widest
            columnTiles = tiles; rowTiles = mTiles
            return
        }
        guidedWorkers = 0; guidedWidest = 0
        if oneRowBlock {
            while nTiles < GEMMTiling.target && n / (nTiles + 1) >= 64 { nTiles += 1 }
        }
        // A tile count that the workers divide: more rows where there are rows to split, else more columns.
        // (More workers than panels could never be met; the bound also keeps a huge `threads` from overflowing.)
        if (nTiles * mTiles) % w != 0 {
            var rows = mTiles + 1
            while (nTiles * rows) % w != 0 { rows += 1 }
            let columns = (nTiles + w - 1) / w * w
            if mTiles == 1 && fixed == nil && nTiles >= w && n / columns >= 128 {
                nTiles = columns
            } else if rowPanels / rows >= 2 {
                mTiles = rows
            } else if mTiles == 1 && fixed == nil && n / columns >= 64 {
                nTiles = columns
            }
        }
        self.columnTiles = nTiles; rowTiles = mTiles
    }

    /// The column split before balancing: from N and K alone, never M, so that B packed once
    /// (`PackedMatrixB`) fits the GEMMs of any M.
    static func columnTiles(n: Int, k: Int, _ blocking: GEMMBlocking) -> Int {
        let nr = blocking.nr, panels = (n + nr - 1) / nr
        let widest = max(1, min(blocking.nc, GEMMBlocking.maxPackedB / k) / nr)
        var tiles = (panels + widest - 1) / widest
        while tiles < target && n / (tiles + 1) >= 128 { tiles += 1 }
        tiles = (panels + (panels + tiles - 1) / tiles - 1) / ((panels + tiles - 1) / tiles)   // as few as that width needs
        return tiles
    }

    /// Panels of the next guided tile: 1/(2·workers) of those `left`, at least one and at most `widest`.
    static func guidedPanels(left: Int, workers: Int, widest: Int) -> Int {
        min(widest, max(1, (left + 2 * workers - 1) / (2 * workers)))
    }

    var count: Int { columnTiles * rowTiles }
    /// Columns of the widest column tile, padded to whole panels: the packed B one tile holds is K × this.
    var widestColumns: Int {
        guidedWorkers > 0 ? GEMMTiling.guidedPanels(left: columnPanels, workers: guidedWorkers, widest: guidedWidest) * nr
            : (columnPanels + columnTiles - 1) / columnTiles * nr
    }

    /// Column tile `j`: its first column and width (even tiles: its panels are columnPanels·j/columnTiles
    /// onwards; guided ones: after those of the tiles before it, which are wider or as wide).
    func columns(_ j: Int) -> (start: Int, count: Int) {
        var p0 = columnPanels * j / columnTiles, p1 = columnPanels * (j + 1) / columnTiles
        if guidedWorkers > 0 {
            p0 = 0
            for _ in 0..<j { p0 += GEMMTiling.guidedPanels(left: columnPanels - p0, workers: guidedWorkers, widest: guidedWidest) }
            p1 = p0 + GEMMTiling.guidedPanels(left: columnPanels - p0, workers: guidedWorkers, widest: guidedWidest)
        }
        return (p0 * nr, min(p1 * nr, n) - p0 * nr)
    }

    /// Row tile `i`: its first row and height.
    func rows(_ i: Int) -> (start: Int, count: Int) {
        let p0 = rowPanels * i / rowTiles, p1 = rowPanels * (i + 1) / rowTiles
        return (p0 * mr, min(p1 * mr, m) - p0 * mr)
    }
}

/// Blocking of the in-place-A GEMM (`GEMM.unpackedAGEMM`).
struct UnpackedABlocking {
    /// Columns of a full panel of op(B): the broadcast kernel's 3 zmm vectors.
    static let panelColumns = 48
    /// Panels of op(B): 48 columns each, the last one 16, 32 or 48.
    let panels: Int
    let lastPanelColumns: Int
    /// The last columns, at most 11, for the dot-product kernel.
    let rest: Int
    /// Depth of one K block. One panel: 2048, and the K × 48 panel block (384 KiB) stays in L2 while a
    /// tile's row groups stream past it. Several: 1024 up to 144 columns, else 512, so that A's 8 rows of
    /// the block (32 or 16 KiB) stay in L1 across the panels and the block of op(B) (at most 620 KiB) in L2.
    /// (N = 196, alternating medians: KC 512, 768 and 1024 within ±2 % of each other, 256 −3 %.)
    let kc: Int

    /// Whole 16-column vectors; a remainder of 12 or more columns is padded into one more vector,
    /// fewer go to the dot-product kernel, which is slower per column.
    init(n: Int) {
        let full = n / Self.panelColumns, r = n - Self.panelColumns * full
        var v = r / 16, left = r - 16 * v
        if left >= 12 { v += 1; left = 0 }
        if v == 0 {
            panels = full; lastPanelColumns = 48
        } else {
            panels = full + 1; lastPanelColumns = 16 * v
        }
        rest = left
        kc = panels == 1 ? 2048 : panels <= 3 ? 1024 : 512
    }

    /// K steps of op(B) that one packing tile packs.
    static let packChunk = 512

}

/// The row tiles of an in-place-A GEMM's region, in whole 8-row groups: a body of tiles of at most
/// `widestBody` groups, spread evenly and counted in a multiple of the workers, then a tail of small
/// tiles. A worker joins the region 20–40 µs after the caller (a thread woken by concurrentPerform),
/// so with equal tiles the caller ran out of work that much before the region's end; the tail lets it
/// take more. Tile trace, 1024×196×256 on 2 threads: 8 tiles of 118 µs ended at 526 µs, the caller
/// idle for its last 26; alternating medians of 11 with the tail: +2 % there, ±1 % on the other
/// VGG-16 / ResNet-50 shapes of this path. Tiles change which core computes a group, never its arithmetic.
struct UnpackedARowTiles {
    let bodyTiles: Int, bodyGroups: Int, tailTiles: Int, tailSize: Int
    /// Groups of the widest tile.
    let widest: Int
    var count: Int { bodyTiles + tailTiles }
    /// Body tiles hold at most this many groups (128 rows): a tile's partial sums stay in L2 beside op(B).
    static let widestBody = 16

    /// `kBlocks`: K blocks of the GEMM. With several, each tile streams all of op(B) once per K block,
    /// so tail tiles are 2 groups rather than 1.
    init(groups: Int, workers: Int, kBlocks: Int) {
        tailSize = kBlocks > 1 ? 2 : 1
        let tail = workers > 1 ? min(groups / 4 / tailSize, 4 * workers) : 0
        tailTiles = tail
        bodyGroups = groups - tail * tailSize
        var body = max(1, (bodyGroups + Self.widestBody - 1) / Self.widestBody)
        if workers > 1 { body = min(bodyGroups, (body + workers - 1) / workers * workers) }
        bodyTiles = body
        widest = max((bodyGroups + body - 1) / body, tailSize)
    }

    /// Groups g0..<g1 of tile `t`.
    func groups(_ t: Int) -> (Int, Int) {
        if t < bodyTiles { return (bodyGroups * t / bodyTiles, bodyGroups * (t + 1) / bodyTiles) }
        let g0 = bodyGroups + (t - bodyTiles) * tailSize
        return (g0, g0 + tailSize)
    }
}
