/// Network builders from the seeds (SEEDS-DIGEST §4).
public enum Models {
    /// Layer seeds: the builder's seed plus a distinct stride per layer.
    static func seed(_ base: UInt64, _ i: Int) -> UInt64 { base &+ UInt64(i) &* 0x9E37_79B9 }

    /// VGG-16 (SEEDS-DIGEST §4.1): 13 3×3 convolutions with padding 1, each followed by ReLU, five 2×2/2
    /// max pools, then FC 25088→4096→4096→classes with ReLU and dropout between. With the default
    /// 1000 classes it has 138,357,544 parameters. With `fuseReLU` false the layer list is the table's
    /// (conv and ReLU separate, layers 1–31 then Flatten and the FC layers); with it, each ReLU is fused
    /// into the convolution or FC layer before it, which saves a pass over every activation.
    public static func vgg16(classes: Int = 1000, inputSize: Int = 224, fuseReLU: Bool = false,
                             dropout: Float = 0.5, seed: UInt64 = 0) throws -> Sequential {
        guard inputSize >= 32, inputSize % 32 == 0 else {
            throw TesseraError.invalidArgument(operation: "Models.vgg16", message: "input size \(inputSize) must be a multiple of 32")
        }
        var layers: [Layer] = []
        var channels = 3, i = 0
        for (blockChannels, convs) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)] {
            for _ in 0..<convs {
                let d = Conv2DDescriptor(inChannels: channels, outChannels: blockChannels, kernel: 3, padding: 1)
                layers.append(try Conv2D(d, relu: fuseReLU, seed: Models.seed(seed, i)))
                if !fuseReLU { layers.append(ReLU()) }
                channels = blockChannels; i += 1
            }
            layers.append(MaxPool2D(window: 2, stride: 2))
        }
        let features = 512 * (inputSize / 32) * (inputSize / 32)
        layers.append(Flatten())
        for (k, (fanIn, fanOut)) in [(features, 4096), (4096, 4096)].enumerated() {
            layers.append(try Dense(fanIn, fanOut, relu: fuseReLU, seed: Models.seed(seed, 13 + k)))
            if !fuseReLU { layers.append(ReLU()) }
            layers.append(try Dropout(probability: dropout, seed: Models.seed(seed, 100 + k)))
        }
        layers.append(try Dense(4096, classes, initializer: .xavier, seed: Models.seed(seed, 15)))
        return Sequential(layers)
    }

    /// The MNIST "model2" of SEEDS-DIGEST T10 (28×28×1 input): conv 5×5 (8) → pool → conv 3×3 (16) →
    /// pool → Dense(400, 10); ReLU after each convolution. 5,386 parameters.
    public static func mnistModel2(seed: UInt64 = 0) throws -> Sequential {
        Sequential([
            try Conv2D(.init(inChannels: 1, outChannels: 8, kernel: 5), relu: true, seed: Models.seed(seed, 0)),
            MaxPool2D(window: 2, stride: 2),
            try Conv2D(.init(inChannels: 8, outChannels: 16, kernel: 3), relu: true, seed: Models.seed(seed, 1)),
            MaxPool2D(window: 2, stride: 2),
            Flatten(),
            try Dense(400, 10, initializer: .xavier, seed: Models.seed(seed, 2)),
        ])
    }

    /// MatConvNet's MNIST BASE network of SEEDS-DIGEST §4.6 and T20 (28×28×1 input): conv 5×5 (20) →
    /// pool → conv 5×5 (50) → pool → conv 4×4 (500, the FC layer) → ReLU → conv 1×1 (10). 431,080 parameters.
    public static func mnistBase(seed: UInt64 = 0) throws -> Sequential {
        Sequential([
            try Conv2D(.init(inChannels: 1, outChannels: 20, kernel: 5), initializer: .xavier, seed: Models.seed(seed, 0)),
            MaxPool2D(window: 2, stride: 2),
            try Conv2D(.init(inChannels: 20, outChannels: 50, kernel: 5), initializer: .xavier, seed: Models.seed(seed, 1)),
            MaxPool2D(window: 2, stride: 2),
            try Conv2D(.init(inChannels: 50, outChannels: 500, kernel: 4), relu: true, seed: Models.seed(seed, 2)),
            try Conv2D(.init(inChannels: 500, outChannels: 10, kernel: 1), initializer: .xavier, seed: Models.seed(seed, 3)),
        ])
    }

    /// A small CNN for the 8×8 UCI digits (N×1×8×8, 10 classes): conv 3×3 (16) → conv 3×3 (32) →
    /// 2×2 max pool → Dense(512, 64) → Dense(64, 10), ReLU fused after every layer but the last.
    public static func digitsCNN(seed: UInt64 = 0) throws -> Sequential {
        Sequential([
            try Conv2D(.init(inChannels: 1, outChannels: 16, kernel: 3, padding: 1), relu: true, seed: Models.seed(seed, 0)),
            try Conv2D(.init(inChannels: 16, outChannels: 32, kernel: 3, padding: 1), relu: true, seed: Models.seed(seed, 1)),
            MaxPool2D(window: 2, stride: 2),
            Flatten(),
            try Dense(512, 64, relu: true, seed: Models.seed(seed, 2)),
            try Dense(64, 10, initializer: .xavier, seed: Models.seed(seed, 3)),
        ])
    }
}
