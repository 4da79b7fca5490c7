// Trains `Models.digitsCNN` on the UCI 8×8 digits from a fixed seed, printing loss, accuracy and
// throughput per epoch:  swift run -c release TrainDigits [epochs]
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Datasets
import Layers

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

let epochs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 15
let (train, test) = try Digits.load().split()
let net = try Models.digitsCNN(seed: 42)
var sgd = try SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4)
let batchSize = 32
print("UCI digits: \(train.count) training and \(test.count) test images, 8×8; \(net.parameterCount) parameters")
print("epoch    loss   train acc   test acc   images/s")
let start = now()
var order = Array(0..<train.count)
var rng = SeededGenerator(seed: 7)
for epoch in 1...epochs {
    order.shuffle(using: &rng)
    let t0 = now()
    var lossSum = 0.0, batches = 0
    for b in stride(from: 0, to: order.count, by: batchSize) {
        let batch = try train.subset(Array(order[b..<min(order.count, b + batchSize)]))
        lossSum += Double(try net.trainingStep(batch.images, labels: batch.labels, optimizer: &sgd))
        batches += 1
    }
    let seconds = now() - t0
    func accuracy(_ d: Digits) throws -> Double {
        let predicted = try net.predict(d.images)
        return Double(zip(predicted, d.labels).filter { $0 == $1 }.count) / Double(d.count)
    }
    let line = "\(epoch)".padding(5) + String(format4: lossSum / Double(batches)).padding(9)
        + String(percent: try accuracy(train)).padding(12) + String(percent: try accuracy(test)).padding(11)
        + "\(Int(Double(train.count) / seconds))".padding(11)
    print(line)
}
print("total \(String(format4: now() - start)) s")

extension String {
    init(format4 v: Double) { self = String(Double(Int((v * 1e4).rounded())) / 1e4) }
    init(percent v: Double) { self = String(Double(Int((v * 1e4).rounded())) / 100) + "%" }
    func padding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
