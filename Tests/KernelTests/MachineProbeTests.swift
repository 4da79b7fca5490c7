import XCTest
import Kernels

final class MachineProbeTests: XCTestCase {
    func testProbesComputeWhatTheySay() {
        let n = 64
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<n { b[i] = Float(i); c[i] = 2 }
        XCTAssertEqual(MachineProbes.readSum(b, count: n), Float(n * (n - 1) / 2))
        MachineProbes.triad(a, b, c, scalar: 0.5, count: n)
        for i in 0..<n { XCTAssertEqual(a[i], Float(i) + 1) }
        XCTAssertTrue(MachineProbes.fmaChains(iterations: 10).isFinite)
    }
}
