import XCTest
import TesseraCore

/// The base of this target's test cases: every kernel output a test reads starts out NaN
/// (`Tensor.fillsUninitializedWithNaN`), so that an element a kernel never writes fails the
/// comparison with the reference instead of passing on a recycled buffer's earlier value.
class NaNFilledOutputsTestCase: XCTestCase {
    override class func setUp() {
        super.setUp()
        Tensor.fillsUninitializedWithNaN = true
    }
}
