/// Errors thrown by Tessera's public API.
///
/// Every error names the shape (or argument) it rejected and what was expected,
/// so a caller can fix the call without reading the library's source.
public enum TesseraError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A tensor shape that the operation cannot accept.
    case invalidShape(operation: String, shape: [Int], expected: String)
    /// A scalar argument (stride, padding, groups, label, probability, …) out of range.
    case invalidArgument(operation: String, message: String)

    /// A readable summary.
    public var description: String {
        switch self {
        case let .invalidShape(operation, shape, expected):
            return "\(operation): invalid shape \(shape); expected \(expected)"
        case let .invalidArgument(operation, message):
            return "\(operation): \(message)"
        }
    }
}
