// swift-tools-version:6.2
// Tools 6.2 or later is required: from 6.2 on, a package whose targets use
// `.unsafeFlags` can still be a versioned dependency (ANCHORS.md §4), and we
// need one unsafe flag to reach the FMA units.
import PackageDescription

// Code generation (README "Code generation"): without a target CPU, Swift lowers
// `SIMD8<Float>.addingProduct` to eight scalar libm `fmaf` calls (~140x slower).
// The default trait `FMA` compiles every target for the x86-64-v3 level
// (Haswell: AVX2 + FMA3) and defines TESSERA_FMA, which switches the kernels
// to `addingProduct`. Without the trait (or on a non-x86 host) the kernels use
// `a + b * c`, which is correct everywhere.
#if arch(x86_64)
let fmaSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"], .when(traits: ["FMA"])),
    .define("TESSERA_FMA", .when(traits: ["FMA"])),
]
// The AVX-512 micro-kernels live in a module of their own, compiled for skylake-avx512
// (x86-64-v4) and called only after a run-time CPU check, so the default build still runs on
// AVX2-only CPUs. Trait `AVX512` (default) builds and dispatches to them.
let avx512SwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "skylake-avx512"], .when(traits: ["AVX512"])),
]
let avx512Define: [SwiftSetting] = [.define("TESSERA_AVX512", .when(traits: ["AVX512"]))]
#else
let fmaSwiftSettings: [SwiftSetting] = []
let avx512SwiftSettings: [SwiftSetting] = []
let avx512Define: [SwiftSetting] = []
#endif

let settings: [SwiftSetting] = fmaSwiftSettings

let package = Package(
    name: "Tessera",
    products: [
        .library(name: "Tessera", targets: ["TesseraCore", "Scheduler", "CPUHints", "KernelsAVX512", "Kernels", "Layers"]),
        .library(name: "TesseraReference", targets: ["Reference"]),
        .library(name: "TesseraDatasets", targets: ["Datasets"]),
        .executable(name: "Bench", targets: ["Bench"]),
        .executable(name: "TrainDigits", targets: ["TrainDigits"]),
    ],
    traits: [
        .trait(
            name: "FMA",
            description: "Compile for x86-64-v3 (AVX2 + FMA3) and use fused multiply-add in the kernels. Disable for older x86 CPUs."
        ),
        .trait(
            name: "AVX512",
            description: "Build the AVX-512 micro-kernels (SIMD16 on zmm) and use them when the CPU has AVX-512 at run time."
        ),
        .default(enabledTraits: ["FMA", "AVX512"]),
    ],
    targets: [
        // Tensor, shapes, errors: the vocabulary every other target speaks.
        .target(name: "TesseraCore", swiftSettings: settings),
        // Cache hints and stores Swift cannot spell (prefetch, streaming store), as static inline C: one instruction per call.
        .target(name: "CPUHints"),
        // The concurrentPerform work scheduler.
        .target(name: "Scheduler", dependencies: ["CPUHints"], swiftSettings: settings),
        // AVX-512 micro-kernels, compiled for x86-64-v4 and dispatched to at run time.
        .target(name: "KernelsAVX512", dependencies: ["CPUHints"], swiftSettings: avx512SwiftSettings),
        // SIMD8 micro-kernels, the driver loops, block sizes and kernel choice.
        .target(
            name: "Kernels", dependencies: ["TesseraCore", "Scheduler", "KernelsAVX512", "CPUHints"],
            swiftSettings: settings + avx512Define
        ),
        // Naive plain-loop references that everything is checked against.
        .target(name: "Reference", dependencies: ["TesseraCore"], swiftSettings: settings),
        // Layers, networks and training, built thinly on the kernels.
        .target(name: "Layers", dependencies: ["TesseraCore", "Scheduler", "Kernels"], swiftSettings: settings),
        // Small real data sets, committed with their attribution (the UCI digits).
        .target(name: "Datasets", dependencies: ["TesseraCore"], exclude: ["uci-digits.bin", "ATTRIBUTION.md"],
                swiftSettings: settings),
        // Trains a small CNN on the digits: swift run -c release TrainDigits
        .executableTarget(name: "TrainDigits", dependencies: ["Layers", "Datasets"], swiftSettings: settings),
        .executableTarget(
            name: "Bench",
            dependencies: ["TesseraCore", "Scheduler", "Kernels", "Reference", "Layers", "Datasets"],
            swiftSettings: settings
        ),
        // Test support: counts the calling thread's heap allocations (the steady-state tests).
        .target(name: "MallocCounter", path: "Tests/MallocCounter"),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler"], swiftSettings: settings),
        .testTarget(name: "ReferenceTests", dependencies: ["TesseraCore", "Reference"], swiftSettings: settings),
        .testTarget(
            name: "KernelTests",
            dependencies: ["TesseraCore", "Scheduler", "Kernels", "Reference", "MallocCounter"],
            swiftSettings: settings
        ),
        .testTarget(
            name: "LayerTests",
            dependencies: ["TesseraCore", "Scheduler", "Kernels", "Reference", "Layers", "Datasets"],
            swiftSettings: settings
        ),
    ]
)
