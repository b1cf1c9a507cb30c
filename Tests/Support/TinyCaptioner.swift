import Captioner
import Catalog
import Foundation
import Torch

/// A small untrained captioner written to `url` (weights + `.json` config): for tests of the service
/// and the CLI, which only need a model that loads and answers; what it writes does not matter.
public func writeTinyCaptioner(version: String, to url: URL) throws {
    let grounding = Grounding()
    let texts = ["A yellow gold ring with a ruby.", "A sterling silver pendant.", "Rose gold earrings set with pearls."]
    var config = CaptionerConfig(vocabulary: Vocabulary.build(from: texts.map(grounding.delexicalize)), taxonomy: .standard)
    (config.imageSize, config.width, config.layers, config.heads, config.headHidden, config.maxLength, config.dropout) = (64, 32, 1, 2, 32, 24, 0)
    config.version = version
    LibTorch.manualSeed(7)
    try Checkpoint.save(try CaptionModel(config: config).store, config: config, to: url)
}
