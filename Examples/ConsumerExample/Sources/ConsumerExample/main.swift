import Foundation
import Kernels
import Reference

// Runs a convolution through Tessera's public API and checks it against the naive reference.
do {
    let descriptor = Conv2DDescriptor(inChannels: 16, outChannels: 32, kernel: 3, stride: 1, padding: 1)
    let x = try Tensor(shape: [2, 16, 28, 28], seed: 1)
    let w = try Tensor(shape: descriptor.weightShape, seed: 2, low: -0.1, high: 0.1)
    let b = try Tensor(shape: [32], seed: 3)

    let plan = try Conv2DPlan(descriptor: descriptor, weights: w, bias: b, relu: true)
    let start = Date()
    let y = try plan.forward(x)
    let seconds = Date().timeIntervalSince(start)

    let (expected, magnitude) = try Reference.conv2dForwardWithMagnitude(
        input: x, weights: w, bias: b, descriptor: descriptor, relu: true)
    var worst: Float = 0
    for i in 0..<y.count { worst = max(worst, abs(y[flat: i] - expected[flat: i])) }
    let error = worst / (magnitude.scalars.max() ?? 1)
    let bound = 1e-6 * Float(16 * 9).squareRoot()

    print("Tessera kernels: \(InstructionSet.name)")
    print("conv \(x.shape) -> \(y.shape) with \(plan.algorithm.rawValue) in \(String(format: "%.2f", seconds * 1e3)) ms")
    print("normalized error vs reference: \(error) (bound \(bound))")
    guard error <= bound else {
        print("FAILED: the result does not match the reference")
        exit(1)
    }
    print("OK")
} catch {
    print("FAILED: \(error)")
    exit(1)
}
