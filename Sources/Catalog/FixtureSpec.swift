import Foundation
import Imaging

/// Everything needed to render one catalogue product and to label it: the ground truth attributes, the
/// design of the piece and the photograph's set-up. Drawn from a seed, so a catalogue is reproducible.
public struct FixtureSpec: Codable, Sendable, Equatable {
    public var externalID: String
    public var artisan: String
    public var attributes: Attributes
    /// The category's design (`solitaire`, `halo`, `tennis`, `studs`, …).
    public var design: String
    public var title: String
    /// 3–5 reference descriptions, 2–4 sentences each.
    public var descriptions: [String]
    public var scene: Scene

    public struct Scene: Codable, Sendable, Equatable {
        public var background: String   // studio, marble, velvet, wood, linen
        public var backgroundColor: [Double]
        public var cameraDistance: Double
        public var cameraElevation: Double  // degrees above the floor
        public var cameraAzimuth: Double    // degrees
        public var lookOffset: [Double]     // framing jitter
        public var lightAzimuth: Double
        public var lightIntensity: Double
        public var warmth: Double           // -1 cool … 1 warm light
        public var pieceRotation: Double    // degrees about the vertical axis
        public var scale: Double            // size of the piece (statement pieces are larger)
        public var detailSeed: Int          // texture and layout noise
    }
}

/// Draws fixture specs from a seed: weighted categories, metals and stones as a real marketplace has
/// them, designs per category, styles driving details, and varied photography.
public struct FixtureSampler: Sendable {
    public let taxonomy: Taxonomy
    public let seed: UInt64

    public init(taxonomy: Taxonomy = .standard, seed: UInt64) {
        (self.taxonomy, self.seed) = (taxonomy, seed)
    }

    static let designs: [String: [String]] = [
        "ring": ["solitaire", "halo", "band", "eternity", "signet", "cluster"],
        "necklace": ["chain-centrepiece", "pearl-strand", "bar", "station"],
        "pendant": ["drop", "disc", "heart", "hexagon"],
        "earrings": ["studs", "drops", "hoops"],
        "bracelet": ["link", "tennis", "bead"],
        "bangle": ["round", "cuff", "stone-set"],
        "brooch": ["flower", "star", "bar"],
        "anklet": ["chain-charms", "beaded"],
    ]

    /// The piece's largest visible dimension in scene units, for framing.
    static let extent: [String: Double] = [
        "ring": 2.6, "bangle": 3.0, "necklace": 4.0, "pendant": 2.6, "earrings": 2.8, "bracelet": 3.0,
        "brooch": 2.4, "anklet": 3.6,
    ]

    /// Relative frequencies (yellow gold dominates real product photography, then rose, white, two-tone).
    static let metalWeights: [String: Double] = [
        "yellow-gold": 5, "rose-gold": 3, "white-gold": 2.5, "two-tone": 1.5, "sterling-silver": 3,
        "platinum": 1, "copper": 0.8, "brass": 0.8,
    ]

    public func spec(_ index: Int) -> FixtureSpec {
        // One independent stream per product: product i is the same whatever the catalogue size.
        var rng = SplitMix(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03 &+ 1)
        let category = taxonomy.category.slugs[index % taxonomy.category.slugs.count]
        let design = rng.pick(Self.designs[category] ?? ["default"])
        let metal = rng.weighted(taxonomy.metal.slugs.map { ($0, Self.metalWeights[$0] ?? 1) })
        let style = styleFor(design: design, rng: &rng)
        let finish = rng.weighted([("polished", 6.0), ("hammered", design == "round" || design == "cuff" || design == "band" ? 3 : 1),
                                   ("brushed", 1.5), ("matte", 1.0)])
        let gemstones = stonesFor(category: category, design: design, style: style, rng: &rng)
        let attributes = Attributes(category: category, metal: metal, gemstones: gemstones, style: style, finish: finish)
        let grammar = DescriptionGrammar(taxonomy: taxonomy)
        let flat = ["necklace", "bracelet", "anklet", "brooch"].contains(category)
        let background = rng.weighted([("studio", 5.0), ("marble", 1.5), ("velvet", 1.5), ("wood", 1.0), ("linen", 1.0)])
        let scene = FixtureSpec.Scene(
            background: background,
            backgroundColor: background == "velvet"
                ? rng.pick([[0.35, 0.03, 0.08], [0.03, 0.06, 0.25], [0.02, 0.02, 0.02], [0.02, 0.18, 0.1]])
                : [1, 1, 1],
            // The piece fills 55–80 % of the frame, as in studio product photos (34° field of view).
            cameraDistance: (Self.extent[category] ?? 3) / (0.61 * rng.uniform(0.55, 0.8)),
            cameraElevation: flat ? rng.uniform(50, 85) : rng.uniform(12, 45),
            cameraAzimuth: rng.uniform(-35, 35),
            lookOffset: [rng.uniform(-0.25, 0.25), rng.uniform(-0.15, 0.15), 0],
            lightAzimuth: rng.uniform(-70, 70),
            lightIntensity: rng.uniform(0.8, 1.2),
            warmth: rng.uniform(-0.5, 0.5),
            pieceRotation: rng.uniform(-30, 30),
            scale: style == "statement" ? rng.uniform(1.1, 1.25) : rng.uniform(0.9, 1.05),
            detailSeed: Int(rng.next() % 100_000))
        return FixtureSpec(
            externalID: String(format: "fx-%llu-%06d", seed, index),
            artisan: "artisan-\(1 + Int(rng.next() % 40))",
            attributes: attributes, design: design,
            title: grammar.title(attributes, design: design, rng: &rng),
            descriptions: grammar.descriptions(attributes, design: design, count: 3 + Int(rng.next() % 3), rng: &rng),
            scene: scene)
    }

    private func styleFor(design: String, rng: inout SplitMix) -> String {
        var weights: [String: Double] = ["minimalist": 2, "vintage": 1.2, "art-deco": 1, "boho": 1, "statement": 1,
                                         "floral": 0.8, "geometric": 1, "classic": 2]
        switch design {
        case "flower": weights = ["floral": 6, "vintage": 1, "boho": 1]
        case "hexagon", "star", "bar": weights["geometric", default: 0] += 3; weights["art-deco", default: 0] += 1.5
        case "solitaire", "pearl-strand", "tennis", "studs": weights["classic", default: 0] += 3
        case "signet", "cluster": weights["vintage", default: 0] += 2
        case "band", "round", "disc": weights["minimalist", default: 0] += 3
        case "beaded", "chain-charms": weights["boho", default: 0] += 3
        default: break
        }
        return rng.weighted(taxonomy.style.slugs.map { ($0, weights[$0] ?? 0.05) })
    }

    private func stonesFor(category: String, design: String, style: String, rng: inout SplitMix) -> [String] {
        if design == "pearl-strand" { return ["pearl"] }
        if ["band", "round", "cuff", "hoops", "signet"].contains(design) {
            return rng.uniform(0, 1) < 0.6 ? ["none"] : [rng.pick(["onyx", "diamond", "turquoise", "garnet"])]
        }
        if design == "link" || design == "chain-charms", rng.uniform(0, 1) < 0.55 { return ["none"] }
        if style == "boho", rng.uniform(0, 1) < 0.6 { return [rng.pick(["turquoise", "amethyst", "garnet", "onyx"])] }
        var pool: [(String, Double)] = [("diamond", 4), ("cubic-zirconia", 2), ("ruby", 1), ("sapphire", 1.5),
                                        ("emerald", 1.2), ("amethyst", 1), ("topaz", 0.8), ("pearl", 1.2),
                                        ("turquoise", 0.6), ("onyx", 0.6), ("garnet", 0.8)]
        if category == "earrings" || category == "necklace" { pool.append(("pearl", 2)) }
        let primary = rng.weighted(pool)
        // Accent diamonds around a coloured centre stone (halo, cluster) make two-stone pieces.
        if (design == "halo" || design == "cluster" || style == "art-deco"), primary != "diamond", primary != "cubic-zirconia",
           rng.uniform(0, 1) < 0.7 {
            return [primary, "diamond"]
        }
        return [primary]
    }
}

/// The fixture generator's random stream: Imaging's seedable SplitMix64.
public typealias SplitMix = SplitMix64

extension SplitMix64 {
    /// Uniform in [lo, hi) from the top 53 bits.
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }

    public mutating func pick<T>(_ items: [T]) -> T {
        precondition(!items.isEmpty, "pick from an empty list")
        return items[Int(next() % UInt64(items.count))]
    }

    /// One item, drawn with probability proportional to its weight.
    public mutating func weighted<T>(_ items: [(T, Double)]) -> T {
        let total = items.reduce(0) { $0 + $1.1 }
        var x = uniform(0, total)
        for (item, w) in items {
            if x < w { return item }
            x -= w
        }
        return items[items.count - 1].0
    }
}
