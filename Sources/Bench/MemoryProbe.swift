import Foundation
import Layers

/// `Bench --memory-probe`: VGG-16 (ReLU fused) at inference, batch 1, and nothing else, so that
/// `/usr/bin/time -v` sees this network's peak RSS alone. Prints the accounting of the bound
/// (issue: production): 1.5 × (weights + packed weights + the two largest activations).
enum MemoryProbe {
    static func run() throws {
        let net = try Models.vgg16(fuseReLU: true, seed: 1)
        let input = [1, 3, 224, 224]
        let x = try Tensor(shape: input, seed: 2)
        Workspace.resetPeak()
        let y = try net.forward(x)
        _ = try net.forward(x)
        let weights = net.parameterCount * 4
        let packed = try net.layers.compactMap { $0 as? Conv2D }.reduce(0) { $0 + (try $1.forwardPlan().packedWeightBytes) }
        let activations = (try net.shapes(forInputShape: input)).map { $0.reduce(1, *) * 4 }.sorted(by: >)
        let twoLargest = activations[0] + activations[1]
        let bound = Double(weights + packed + twoLargest) * 1.5
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rss = Double(usage.ru_maxrss) * 1024
        func mb(_ v: Double) -> String { String(format: "%.1f MB", v / 1e6) }
        print("VGG-16 forward, batch 1, output \(y.shape)")
        print("weights \(mb(Double(weights))), packed conv weights \(mb(Double(packed))), two largest activations \(mb(Double(twoLargest)))")
        print("scratch (Workspace) peak \(mb(Double(Workspace.peakBytes)))")
        print("bound 1.5 × (weights + packed + activations) = \(mb(bound))")
        print("peak RSS (getrusage) \(mb(rss)) = \(String(format: "%.2f", rss / bound * 1.5))× (weights + packed + activations): \(rss <= bound ? "within" : "OVER") the bound")
    }
}
