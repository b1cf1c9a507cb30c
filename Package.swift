// swift-tools-version: 6.1
import PackageDescription

// Debian's libtorch-dev puts the C++ frontend headers under this directory.
let torchAPIInclude = "/usr/include/torch/csrc/api/include"

let package = Package(
    name: "Loupe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "loupe", targets: ["loupe"]),
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "Imaging", targets: ["Imaging"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.9.0" ..< "5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        // The service (issue 5): HTTP, multipart uploads, server-rendered pages, Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0", traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // C API over libtorch (opaque handles; every call returns NULL or an owned error string).
        .target(
            name: "CTorch",
            cxxSettings: [
                .unsafeFlags(["-I", torchAPIInclude, "-Wno-deprecated-declarations", "-O2"]),
            ],
            linkerSettings: [
                .linkedLibrary("torch"),
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
                .linkedLibrary("dnnl"),  // oneDNN, which libtorch links too: the MBConv encoder's primitives
                .linkedLibrary("m"),
            ]
        ),
        .target(name: "Torch", dependencies: ["CTorch"]),
        // System libraries: Debian's libjpeg-dev (libjpeg-turbo) and libpng-dev.
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng"),
        // setjmp-safe codec in C: libjpeg and libpng report errors by longjmp, which Swift cannot catch.
        .target(
            name: "CImaging",
            dependencies: ["CJPEG", "CPNG"],
            cSettings: [.unsafeFlags(["-O2"])],
            // A C target does not autolink its system-library dependencies' module maps.
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("z")]
        ),
        .target(name: "Imaging", dependencies: ["Torch", "CImaging"]),
        // Taxonomy, object store, fixture generator and the catalogue's file layout.
        .target(
            name: "Catalog",
            dependencies: ["Imaging", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("taxonomy.json")]
        ),
        // PostgreSQL: connection settings, migrations, catalogue repository and import.
        .target(
            name: "Store",
            dependencies: [
                "Catalog", "Imaging",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The listing service: Hummingbird routes, auth, drafts and moderation, pages, metrics.
        .target(
            name: "Service",
            dependencies: [
                "Captioner", "Catalog", "Imaging", "Retraining", "Sentiment", "Store", "Synthesis", "Torch",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources")]
        ),
        // Synthetic product images: DCGAN, its trainer, Fashion-MNIST.
        .target(name: "Synthesis", dependencies: ["Torch", "Imaging", "Catalog"]),
        // Review intelligence: WordPiece tokenizer, review corpora, sentiment models.
        .target(name: "Sentiment", dependencies: ["Torch", "Imaging", "Scoring", .product(name: "Crypto", package: "swift-crypto")]),
        // The retraining loop: the job worker and the retraining job (snapshot, fine-tune, guard, promote).
        .target(
            name: "Retraining",
            dependencies: [
                "Captioner", "Catalog", "Store", "Torch",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "loupe",
            dependencies: [
                "Torch", "Imaging", "Catalog", "Store", "Captioner", "Scoring", "Service", "Retraining", "Sentiment", "Synthesis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Caption and classification metrics (BLEU, ROUGE-L, CIDEr-D, macro-F1, ECE): plain Swift.
        .target(name: "Scoring"),
        // The listing captioner: EfficientNet-Lite0 encoder, transformer decoder, attribute heads,
        // grounded decoding, training and evaluation.
        .target(name: "Captioner", dependencies: ["Torch", "Imaging", "Catalog", "Scoring"]),
        .testTarget(name: "TorchTests", dependencies: ["Torch"]),
        .testTarget(name: "CaptionerTests", dependencies: ["Captioner", "Torch", "Imaging", "Catalog"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring"], exclude: ["reference_metrics.py"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Torch"], exclude: ["Images"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Imaging"]),
        .testTarget(name: "SentimentTests", dependencies: ["Sentiment", "Torch"]),
        .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "Torch", "Imaging", "Catalog"]),
        // Shared test helpers: a fresh PostgreSQL database per test, running programs, a tiny captioner.
        .target(
            name: "LoupeTestSupport",
            dependencies: ["Store", "Captioner", "Catalog", "Imaging", "Torch",
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/Support"
        ),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Catalog", "Imaging", "Torch", "LoupeTestSupport"]),
        .testTarget(name: "RetrainingTests", dependencies: ["Retraining", "Store", "Captioner", "Catalog", "Imaging", "Torch", "LoupeTestSupport",
                                                          .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "Store", "Catalog", "Captioner", "Imaging", "Retraining", "Sentiment", "Synthesis", "Torch", "LoupeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(name: "LoupeCLITests", dependencies: ["loupe", "Store", "Captioner", "Imaging", "Torch", "LoupeTestSupport",
                                                        .product(name: "PostgresNIO", package: "postgres-nio")]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
