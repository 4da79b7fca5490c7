// swift-tools-version:6.2
// A user's package that links Tessera as its backend, as a dependency like any other.
// It sets no compiler flags of its own: the kernels arrive compiled with Tessera's.
import PackageDescription

let package = Package(
    name: "ConsumerExample",
    dependencies: [
        .package(name: "Tessera", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "ConsumerExample",
            dependencies: [
                .product(name: "Tessera", package: "Tessera"),
                .product(name: "TesseraReference", package: "Tessera"),
            ]
        ),
    ]
)
