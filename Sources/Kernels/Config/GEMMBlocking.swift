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
    /// Below this many rows of C, the packed path does not pay and the row-vector kernels run.
    static let smallM = 4
    /// At this depth or less, the product is a rank-K update written row by row (`GEMM.rankKGEMM`).
    static let smallK = 4
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
