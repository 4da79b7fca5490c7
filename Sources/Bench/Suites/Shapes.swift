import TesseraCore

/// The layer shapes the suites measure: VGG-16 and ResNet-50 at batch 1 (SEEDS-DIGEST §4.1, ANCHORS.md §7).
enum Shapes {
    /// A GEMM case: C (M×N) = op(A) (M×K) · op(B) (K×N).
    struct GEMMShape {
        var name: String
        var m: Int, n: Int, k: Int
        var transB: Transpose = .none
    }

    /// Convolutions as GEMMs: M = output channels, N = output pixels, K = input channels × kh × kw.
    static let convAsGEMM: [GEMMShape] = [
        GEMMShape(name: "vgg16/conv1_1", m: 64, n: 224 * 224, k: 27),
        GEMMShape(name: "vgg16/conv1_2", m: 64, n: 224 * 224, k: 576),
        GEMMShape(name: "vgg16/conv2_1", m: 128, n: 112 * 112, k: 576),
        GEMMShape(name: "vgg16/conv2_2", m: 128, n: 112 * 112, k: 1152),
        GEMMShape(name: "vgg16/conv3_1", m: 256, n: 56 * 56, k: 1152),
        GEMMShape(name: "vgg16/conv3_2", m: 256, n: 56 * 56, k: 2304),
        GEMMShape(name: "vgg16/conv4_1", m: 512, n: 28 * 28, k: 2304),
        GEMMShape(name: "vgg16/conv4_2", m: 512, n: 28 * 28, k: 4608),
        GEMMShape(name: "vgg16/conv5_1", m: 512, n: 14 * 14, k: 4608),
        GEMMShape(name: "resnet50/stem7x7", m: 64, n: 112 * 112, k: 147),
        GEMMShape(name: "resnet50/conv3x3_64", m: 64, n: 56 * 56, k: 576),
        GEMMShape(name: "resnet50/conv3x3_128", m: 128, n: 28 * 28, k: 1152),
        GEMMShape(name: "resnet50/conv3x3_256", m: 256, n: 14 * 14, k: 2304),
        GEMMShape(name: "resnet50/conv3x3_512", m: 512, n: 7 * 7, k: 4608),
        GEMMShape(name: "resnet50/conv1x1_64to256", m: 256, n: 56 * 56, k: 64),
        GEMMShape(name: "resnet50/conv1x1_256to64", m: 64, n: 56 * 56, k: 256),
        GEMMShape(name: "resnet50/conv1x1_512to128", m: 128, n: 28 * 28, k: 512),
        GEMMShape(name: "resnet50/conv1x1_128to512", m: 512, n: 28 * 28, k: 128),
        GEMMShape(name: "resnet50/conv1x1_1024to256", m: 256, n: 14 * 14, k: 1024),
        GEMMShape(name: "resnet50/conv1x1_256to1024", m: 1024, n: 14 * 14, k: 256),
        GEMMShape(name: "resnet50/conv1x1_2048to512", m: 512, n: 7 * 7, k: 2048),
        GEMMShape(name: "resnet50/conv1x1_512to2048", m: 2048, n: 7 * 7, k: 512),
    ]

    /// VGG-16's FC6 (25088 → 4096) as x·Wᵀ with W stored [out, in].
    static let fullyConnected: [GEMMShape] = [
        GEMMShape(name: "vgg16/fc6_batch1", m: 1, n: 4096, k: 25088, transB: .transpose),
        GEMMShape(name: "vgg16/fc6_batch32", m: 32, n: 4096, k: 25088, transB: .transpose),
    ]

    static func squares(quick: Bool) -> [GEMMShape] {
        (quick ? [64, 256, 1024] : [64, 128, 256, 512, 1024, 2048]).map {
            GEMMShape(name: "sgemm/\($0)x\($0)x\($0)", m: $0, n: $0, k: $0)
        }
    }
}
