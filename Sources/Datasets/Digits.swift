#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
@_exported import TesseraCore

/// The UCI optical-recognition handwritten digits (1,797 images of 8×8 pixels, 10 classes; CC BY 4.0,
/// see ATTRIBUTION.md beside the data), with a fixed train/test split: every fifth image (index
/// divisible by 5) is a test image, 360 in all; the other 1,437 are for training.
public struct Digits: Sendable {
    /// N×1×8×8 pixel intensities scaled to [0, 1] (the raw counts 0–16 divided by 16).
    public let images: Tensor
    /// The digit shown by each image.
    public let labels: [Int]

    /// Image count.
    public var count: Int { labels.count }

    /// The whole data set, read from the file committed with the package.
    public static func load() throws -> Digits {
        let path = String(#filePath.dropLast("Digits.swift".count)) + "uci-digits.bin"
        guard let file = fopen(path, "rb") else {
            throw TesseraError.invalidArgument(operation: "Digits.load", message: "cannot open \(path)")
        }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 1797 * 65 + 1)
        let read = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        guard read == 1797 * 65 else {
            throw TesseraError.invalidArgument(operation: "Digits.load", message: "\(path) holds \(read) bytes; expected \(1797 * 65)")
        }
        var labels: [Int] = []
        var pixels: [Float] = []
        pixels.reserveCapacity(1797 * 64)
        for r in 0..<1797 {
            labels.append(Int(bytes[r * 65]))
            for p in 1...64 { pixels.append(Float(bytes[r * 65 + p]) / 16) }
        }
        return Digits(images: try Tensor(shape: [1797, 1, 8, 8], values: pixels), labels: labels)
    }

    /// The images with these indices, in this order.
    public func subset(_ indices: [Int]) throws -> Digits {
        let all = images.scalars
        var pixels: [Float] = []
        pixels.reserveCapacity(indices.count * 64)
        for i in indices { pixels.append(contentsOf: all[(i * 64)..<((i + 1) * 64)]) }
        return Digits(images: try Tensor(shape: [indices.count, 1, 8, 8], values: pixels), labels: indices.map { labels[$0] })
    }

    /// The fixed split: (train, test), the test set being every image whose index is divisible by 5.
    public func split() throws -> (train: Digits, test: Digits) {
        let indices = Array(0..<count)
        return (try subset(indices.filter { $0 % 5 != 0 }), try subset(indices.filter { $0 % 5 == 0 }))
    }
}
