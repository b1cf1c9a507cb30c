import Foundation
import Torch

/// The DCGAN of the seed recipe (Radford et al. 2015), sized by its configuration and saved with it.
///
/// Generator: z (N, latent, 1, 1) → ConvTranspose(4, stride 1) to 4×4 → [ConvTranspose(4, stride 2,
/// pad 1) + BatchNorm + ReLU] doubling the side → ConvTranspose to `channels` + Tanh, (N, C, S, S) in
/// [−1, 1]. Discriminator: the mirror image — Conv(4, 2, 1) + LeakyReLU(0.2) (no BatchNorm on the
/// input layer), [Conv + BatchNorm + LeakyReLU] halving the side to 4×4, Conv(4) → one logit per image.
/// Weights start from N(0, 0.02), BatchNorm scales from N(1, 0.02), as in the paper.
public struct DCGANConfig: Codable, Sendable, Equatable {
    public var latent = 100
    /// Image side: 32 (Fashion-MNIST padded from 28) or 64 (the jewellery catalogue).
    public var imageSize = 32
    /// 1 (grayscale) or 3 (RGB).
    public var channels = 1
    /// Feature maps of the generator's last and the discriminator's first block.
    public var generatorFeatures = 64
    public var discriminatorFeatures = 64
    public var leakySlope = 0.2
    public var version = ""

    public init() {}

    /// Up-sampling blocks between 4×4 and the image side.
    public var blocks: Int {
        precondition([32, 64].contains(imageSize), "DCGAN images are 32 or 64 pixels square")
        return imageSize == 32 ? 2 : 3
    }
}

public final class Generator {
    public let config: DCGANConfig
    public let store: ParameterStore
    let first: ConvTranspose2d, firstNorm: BatchNorm
    let ups: [(ConvTranspose2d, BatchNorm)]
    let last: ConvTranspose2d

    public init(config: DCGANConfig, store: ParameterStore = ParameterStore()) throws {
        (self.config, self.store) = (config, store)
        let root = store.root
        let f = config.generatorFeatures
        let widths = (0 ... config.blocks).map { f << (config.blocks - $0) }  // e.g. 256, 128, 64 for 32×32
        first = try ConvTranspose2d(root / "first", inChannels: config.latent, outChannels: widths[0], kernelSize: 4, bias: false)
        firstNorm = try BatchNorm(root / "first_bn", features: widths[0])
        ups = try (0 ..< config.blocks).map { i in
            (try ConvTranspose2d(root / "up" / i / "conv", inChannels: widths[i], outChannels: widths[i + 1], kernelSize: 4, stride: 2,
                                 padding: 1, bias: false),
             try BatchNorm(root / "up" / i / "bn", features: widths[i + 1]))
        }
        last = try ConvTranspose2d(root / "last", inChannels: widths[config.blocks], outChannels: config.channels, kernelSize: 4, stride: 2,
                                   padding: 1, bias: false)
        try DCGANInit.apply(store)
    }

    /// z (N, latent) → images (N, C, S, S) in [−1, 1].
    public func callAsFunction(_ z: Tensor) throws -> Tensor {
        precondition(z.shape.count == 2 && z.shape[1] == config.latent, "z is (N, \(config.latent))")
        var x = try firstNorm(first(z.reshape(z.shape[0], config.latent, 1, 1))).relu()  // (N, 4f·…, 4, 4)
        for (conv, norm) in ups { x = try norm(conv(x)).relu() }                        // side doubles each block
        return try last(x).tanh()                                                         // (N, C, S, S)
    }
}

public final class Discriminator {
    public let config: DCGANConfig
    public let store: ParameterStore
    let first: Conv2d
    let downs: [(Conv2d, BatchNorm)]
    let last: Conv2d

    public init(config: DCGANConfig, store: ParameterStore = ParameterStore()) throws {
        (self.config, self.store) = (config, store)
        let root = store.root
        let f = config.discriminatorFeatures
        let widths = (0 ... config.blocks).map { f << $0 }  // e.g. 64, 128, 256 for 32×32
        first = try Conv2d(root / "first", inChannels: config.channels, outChannels: widths[0], kernelSize: 4, stride: 2, padding: 1, bias: false)
        downs = try (0 ..< config.blocks).map { i in
            (try Conv2d(root / "down" / i / "conv", inChannels: widths[i], outChannels: widths[i + 1], kernelSize: 4, stride: 2, padding: 1,
                        bias: false),
             try BatchNorm(root / "down" / i / "bn", features: widths[i + 1]))
        }
        last = try Conv2d(root / "last", inChannels: widths[config.blocks], outChannels: 1, kernelSize: 4, bias: false)
        try DCGANInit.apply(store)
    }

    /// images (N, C, S, S) in [−1, 1] → logits (N).
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == config.channels && x.shape[2] == config.imageSize, "images are (N, C, S, S)")
        var h = try first(x).leakyRelu(config.leakySlope)                    // (N, f, S/2, S/2)
        for (conv, norm) in downs { h = try norm(conv(h)).leakyRelu(config.leakySlope) }  // down to 4×4
        return try last(h).reshape(-1)                                        // (N)
    }
}

enum DCGANInit {
    /// Convolution weights N(0, 0.02); BatchNorm scales N(1, 0.02) and shifts 0.
    static func apply(_ store: ParameterStore) throws {
        try withNoGrad {
            for entry in store.entries where entry.kind == .parameter {
                if entry.name.hasSuffix("bn.weight") || entry.name.hasSuffix("_bn.weight") {
                    try entry.tensor.normal_(mean: 1, std: 0.02)
                } else if entry.name.hasSuffix("bn.bias") || entry.name.hasSuffix("_bn.bias") {
                    try entry.tensor.fill_(0)
                } else {
                    try entry.tensor.normal_(mean: 0, std: 0.02)
                }
            }
        }
    }
}
