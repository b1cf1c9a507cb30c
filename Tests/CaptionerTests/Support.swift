import Captioner
import Catalog
import Foundation
import Imaging
import Torch

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// Fetched by scripts/fetch-models.sh, which `make test` runs.
let liteWeights = repositoryRoot.appendingPathComponent(".cache/models/efficientnet-lite0/\(EfficientNetLite.weightsFile)")

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-captioner-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs Debian's python3 (with python3-torch) on a script; returns stdout.
@discardableResult
func python(_ script: String, _ arguments: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONPATH"] = repositoryRoot.appendingPathComponent("scripts/reference").path
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TorchError("python failed: \(String(decoding: stderr, as: UTF8.self))")
    }
    return String(decoding: stdout, as: UTF8.self)
}

/// A small config for fast tests: 64-px images (2 × 2 grid), a one-block decoder.
func tinyConfig(texts: [String]) -> CaptionerConfig {
    let grounding = Grounding()
    var config = CaptionerConfig(vocabulary: Vocabulary.build(from: texts.map(grounding.delexicalize)), taxonomy: .standard)
    config.imageSize = 64
    config.width = 32
    config.layers = 1
    config.heads = 2
    config.headHidden = 32
    config.maxLength = 48
    config.dropout = 0
    return config
}

/// Photos drawn in memory: a coloured disc on white whose colour stands for the metal and whose size
/// stands for the category — enough signal for a small model to learn in seconds.
struct SyntheticPhotos: PhotoSource {
    let images: [ObjectKey: RGBImage]
    func photo(_ key: ObjectKey) throws -> RGBImage {
        guard let image = images[key] else { throw ObjectStoreError.notFound(key) }
        return image
    }
}

func syntheticPhoto(color: (UInt8, UInt8, UInt8), radius: Double, size: Int = 96) -> RGBImage {
    var pixels = [UInt8](repeating: 255, count: size * size * 3)
    let c = Double(size) / 2
    for y in 0 ..< size {
        for x in 0 ..< size where ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)).squareRoot() < radius {
            let i = (y * size + x) * 3
            (pixels[i], pixels[i + 1], pixels[i + 2]) = color
        }
    }
    let info = ImageInfo(format: .png, width: size, height: size, orientation: 1, bitDepth: 8, progressive: false)
    return RGBImage(width: size, height: size, pixels: pixels, info: info)
}
