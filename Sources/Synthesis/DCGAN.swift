import Foundation
import Torch

/// One conditioning field of a conditional DCGAN: its name and its labels, in index order
/// (`category`: ring, necklace, …; `class`: the ten Fashion-MNIST classes).
public struct GANCondition: Codable, Sendable, Equatable {
    public var name: String
    public var labels: [String]

    public init(name: String, labels: [String]) {
        precondition(labels.count >= 2, "a condition has at least two labels")
        (self.name, self.labels) = (name, labels)
    }

    /// The index of a label, matched case-insensitively with `-`, `_` and spaces alike.
    public func index(of label: String) -> Int? {
        func key(_ s: String) -> String { s.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: " ", with: "-") }
        return labels.firstIndex { key($0) == key(label) }
    }
}

/// The DCGAN of the seed recipe (Radford et al. 2015), sized by its configuration and saved with it.
///
/// Generator: z (N, latent, 1, 1) → ConvTranspose(4, stride 1) to 4×4 → [ConvTranspose(4, stride 2,
/// pad 1) + BatchNorm + ReLU] doubling the side → ConvTranspose to `channels` + Tanh, (N, C, S, S) in
/// [−1, 1]. Discriminator: the mirror image — Conv(4, 2, 1) + LeakyReLU(0.2) (no BatchNorm on the
/// input layer), [Conv + BatchNorm + LeakyReLU] halving the side to 4×4, Conv(4) → one logit per image.
/// Weights start from N(0, 0.02), BatchNorm scales from N(1, 0.02), as in the paper.
///
/// Beyond the seed (each off by default):
/// - `conditions`: a conditional GAN (Mirza & Osindero 2014; projection discriminator, Miyato & Koyama
///   2018). The generator reads z concatenated with one one-hot vector per field; the discriminator adds
///   ⟨embed_f(y_f), Σ_spatial h⟩ for every field f to its logit, h its last 4×4 feature maps.
/// - `spectralNorm`: every discriminator convolution divides its weight by its largest singular value
///   (one power iteration per training step, Miyato et al. 2018) and the discriminator drops BatchNorm,
///   as SN-GAN's.
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
    /// Conditioning fields (empty: the unconditional seed).
    public var conditions: [GANCondition] = []
    /// Spectral normalisation in the discriminator (instead of its BatchNorm).
    public var spectralNorm = false
    public var version = ""

    public init() {}

    enum CodingKeys: String, CodingKey {
        case latent, imageSize, channels, generatorFeatures, discriminatorFeatures, leakySlope, conditions, spectralNorm, version
    }

    /// Configurations saved before the conditional and spectral-norm options read as the seed's.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latent = try c.decode(Int.self, forKey: .latent)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        channels = try c.decode(Int.self, forKey: .channels)
        generatorFeatures = try c.decode(Int.self, forKey: .generatorFeatures)
        discriminatorFeatures = try c.decode(Int.self, forKey: .discriminatorFeatures)
        leakySlope = try c.decode(Double.self, forKey: .leakySlope)
        conditions = try c.decodeIfPresent([GANCondition].self, forKey: .conditions) ?? []
        spectralNorm = try c.decodeIfPresent(Bool.self, forKey: .spectralNorm) ?? false
        version = try c.decode(String.self, forKey: .version)
    }

    /// Up-sampling blocks between 4×4 and the image side.
    public var blocks: Int {
        precondition([32, 64].contains(imageSize), "DCGAN images are 32 or 64 pixels square")
        return imageSize == 32 ? 2 : 3
    }

    public var isConditional: Bool { !conditions.isEmpty }

    /// Length of the one-hot block appended to z.
    var conditionWidth: Int { conditions.reduce(0) { $0 + $1.labels.count } }

    /// Checks a label tensor against the conditions: (N, fields) int64 with every index in range, or nil
    /// for an unconditional model.
    func checkLabels(_ labels: Tensor?, count: Int) {
        if conditions.isEmpty {
            precondition(labels == nil, "an unconditional DCGAN takes no labels")
        } else {
            precondition(labels?.shape == [count, conditions.count], "labels are (N, \(conditions.count)) for a conditional DCGAN")
        }
    }
}

/// z (N, latent) and labels (N, F) → (N, latent + Σ labels) with one one-hot block per field.
func conditionedLatent(_ z: Tensor, labels: Tensor?, config: DCGANConfig) throws -> Tensor {
    guard let labels else { return z }
    var parts = [z]
    for (f, condition) in config.conditions.enumerated() {
        parts.append(try Tensor.eye(condition.labels.count).indexSelect(dim: 0, index: labels.select(dim: 1, index: f)))  // (N, k_f)
    }
    return try Tensor.cat(parts, dim: 1)
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
        first = try ConvTranspose2d(root / "first", inChannels: config.latent + config.conditionWidth, outChannels: widths[0], kernelSize: 4,
                                    bias: false)
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

    /// z (N, latent) [+ labels (N, F) int64 for a conditional model] → images (N, C, S, S) in [−1, 1].
    public func callAsFunction(_ z: Tensor, labels: Tensor? = nil) throws -> Tensor {
        precondition(z.shape.count == 2 && z.shape[1] == config.latent, "z is (N, \(config.latent))")
        config.checkLabels(labels, count: z.shape[0])
        let input = try conditionedLatent(z, labels: labels, config: config)                  // (N, latent + Σk)
        var x = try firstNorm(first(input.reshape(z.shape[0], input.shape[1], 1, 1))).relu()  // (N, 4f·…, 4, 4)
        for (conv, norm) in ups { x = try norm(conv(x)).relu() }                              // side doubles each block
        return try last(x).tanh()                                                               // (N, C, S, S)
    }
}

/// A convolution whose weight is divided by its spectral norm when `normalized` (PyTorch's
/// `spectral_norm`: buffers `weight_u` (out) and `weight_v` (in·k·k), one power iteration per training
/// forward pass, σ = uᵀ W v with gradients through W only).
final class DiscriminatorConv {
    let conv: Conv2d
    let u: Tensor?, v: Tensor?
    let path: ParameterPath

    init(_ path: ParameterPath, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int, padding: Int, spectralNorm: Bool) throws {
        conv = try Conv2d(path, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize, stride: stride, padding: padding,
                          bias: spectralNorm)  // without BatchNorm after it the convolution keeps its bias
        self.path = path
        if spectralNorm {
            let u = try Tensor.randn([outChannels]), v = try Tensor.randn([inChannels * kernelSize * kernelSize])
            self.u = try path.buffer("weight_u", u / u.norm().item())
            self.v = try path.buffer("weight_v", v / v.norm().item())
        } else {
            (u, v) = (nil, nil)
        }
    }

    /// The weight the convolution uses: W / σ(W) with spectral normalisation, else W.
    func weight() throws -> Tensor {
        guard let u, let v else { return conv.weight }
        let matrix = try conv.weight.reshape(conv.weight.shape[0], -1)  // (out, in·k·k)
        if path.isTraining {
            try withNoGrad {
                let w = try matrix.detach()
                let nv = try w.transpose(0, 1).matmul(u)                   // (in·k·k)
                try v.copy_(nv / (nv.norm().item() + 1e-12))
                let nu = try w.matmul(v)                                   // (out)
                try u.copy_(nu / (nu.norm().item() + 1e-12))
            }
        }
        // uᵀ W v, differentiable in W. Clones (as PyTorch's spectral_norm): the next forward pass updates
        // u and v in place while this graph still needs them.
        let sigma = try (u.clone() * matrix.matmul(v.clone())).sum()
        return try conv.weight / sigma
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.conv2d(x, weight: weight(), bias: conv.bias, stride: (conv.stride, conv.stride), padding: (conv.padding, conv.padding),
                              dilation: (1, 1), groups: 1)
    }
}

public final class Discriminator {
    public let config: DCGANConfig
    public let store: ParameterStore
    let first: DiscriminatorConv
    let downs: [(DiscriminatorConv, BatchNorm?)]
    let last: DiscriminatorConv
    /// Projection embeddings, one per condition: (labels, last width).
    let projections: [Embedding]

    public init(config: DCGANConfig, store: ParameterStore = ParameterStore()) throws {
        (self.config, self.store) = (config, store)
        let root = store.root
        let f = config.discriminatorFeatures, sn = config.spectralNorm
        let widths = (0 ... config.blocks).map { f << $0 }  // e.g. 64, 128, 256 for 32×32
        first = try DiscriminatorConv(root / "first", inChannels: config.channels, outChannels: widths[0], kernelSize: 4, stride: 2, padding: 1,
                                      spectralNorm: sn)
        downs = try (0 ..< config.blocks).map { i in
            (try DiscriminatorConv(root / "down" / i / "conv", inChannels: widths[i], outChannels: widths[i + 1], kernelSize: 4, stride: 2,
                                   padding: 1, spectralNorm: sn),
             sn ? nil : try BatchNorm(root / "down" / i / "bn", features: widths[i + 1]))
        }
        last = try DiscriminatorConv(root / "last", inChannels: widths[config.blocks], outChannels: 1, kernelSize: 4, stride: 1, padding: 0,
                                     spectralNorm: sn)
        projections = try config.conditions.enumerated().map { i, condition in
            try Embedding(root / "projection" / i, count: condition.labels.count, dimension: widths[config.blocks])
        }
        try DCGANInit.apply(store)
    }

    /// images (N, C, S, S) in [−1, 1] [+ labels (N, F)] → logits (N).
    public func callAsFunction(_ x: Tensor, labels: Tensor? = nil) throws -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == config.channels && x.shape[2] == config.imageSize, "images are (N, C, S, S)")
        config.checkLabels(labels, count: x.shape[0])
        var h = try first(x).leakyRelu(config.leakySlope)  // (N, f, S/2, S/2)
        for (conv, norm) in downs {
            h = try conv(h)
            if let norm { h = try norm(h) }
            h = try h.leakyRelu(config.leakySlope)          // down to (N, 4f·…, 4, 4)
        }
        var logits = try last(h).reshape(-1)              // (N)
        if let labels, !projections.isEmpty {
            let pooled = try h.sum(dims: [2, 3])          // (N, C)
            for (f, embed) in projections.enumerated() {
                logits = try logits + (embed(labels.select(dim: 1, index: f)) * pooled).sum(dims: [1])  // (N)
            }
        }
        return logits
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
