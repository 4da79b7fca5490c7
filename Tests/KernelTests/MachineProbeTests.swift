import XCTest
import Kernels

final class MachineProbeTests: NaNFilledOutputsTestCase {
    func testProbesComputeWhatTheySay() {
        let n = 64
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<n { b[i] = Float(i); c[i] = 2 }
        XCTAssertEqual(MachineProbes.readSum(b, count: n), Float(n * (n - 1) / 2))
        MachineProbes.triad(a, b, c, scalar: 0.5, count: n)
        for i in 0..<n { XCTAssertEqual(a[i], Float(i) + 1) }
        // Chain i starts at 0.1 + 0.01·i in all 8 lanes and each round maps c to 1e-4 + c·0.9999.
        let start = (0..<12).map { 0.1 + 0.01 * Double($0) }
        XCTAssertEqual(Double(MachineProbes.fmaChains(iterations: 0)), 8 * start.reduce(0, +), accuracy: 1e-4)
        let twoRounds = start.map { 1e-4 + (1e-4 + $0 * 0.9999) * 0.9999 }
        XCTAssertEqual(Double(MachineProbes.fmaChains(iterations: 2)), 8 * twoRounds.reduce(0, +), accuracy: 1e-4)
    }
}
