import Catalog
import Foundation

/// Keeps the text honest about the attributes that matter legally: metal, gemstones and category.
///
/// Training texts are delexicalised: every phrase that names one of these values becomes a slot token
/// (`<metal>`, `<category>`, `<gem1>`, `<gem1s>` plural, `<gem2>`, `<gem2s>`), so the decoder learns the
/// sentence and never the claim. At drafting time a slot is filled from its attribute head only when the
/// calibrated probability reaches the field's threshold; otherwise it gets a neutral word ("metal",
/// "piece", "stone") and the field goes to `needs_review`. Words that make a claim (metal and stone names,
/// karat and hallmark terms) are also banned from the decoder's output, so a claim can only enter through
/// a slot. `mentions(in:)` scans any finished text for claims, which is how violations are counted.
public struct Grounding: Sendable {
    public static let slotTokens = ["<metal>", "<category>", "<gem1>", "<gem1s>", "<gem2>", "<gem2s>"]
    /// Terms that are never allowed in a draft: purity and hallmark claims the photo cannot support.
    public static let forbiddenTerms: Set<String> = ["18k", "14k", "9k", "22k", "24k", "10k", "karat", "karats", "carat",
                                                     "carats", "ct", "925", "750", "585", "hallmarked", "solid", "plated"]

    public struct Mention: Sendable, Equatable, Hashable {
        public let field: String  // "metal", "gemstone", "category", or "forbidden"
        public let value: String  // taxonomy slug, "gold" for an unqualified gold, or the forbidden term
    }

    struct Phrase {
        let words: [String]  // lowercased
        let mention: Mention
        let plural: Bool
    }

    public let taxonomy: Taxonomy
    /// Values the text never names, whatever their probability (`lookAlikes` by default): their family is
    /// said instead ("white metal", "clear stones") and the field goes to review.
    public let unnamed: Set<String>
    let phrases: [Phrase]
    /// Lowercased words the decoder may not emit outside slots.
    public let claimWords: Set<String>

    static let metalModifiers = ["warm", "rich", "bright", "blush", "soft pink", "cool", "golden"]

    public init(taxonomy: Taxonomy = .standard, unnamed: Set<String> = Grounding.lookAlikes) {
        self.taxonomy = taxonomy
        self.unnamed = unnamed
        var phrases: [Phrase] = []
        func add(_ text: String, _ field: String, _ value: String, plural: Bool = false) {
            phrases.append(Phrase(words: Vocabulary.split(text.lowercased()), mention: Mention(field: field, value: value), plural: plural))
        }
        for value in taxonomy.metal.values {
            let names = value.slug == "two-tone"
                ? ["two-tone yellow and white gold", "mixed yellow and white gold", "two-tone gold", "two-tone"]
                : [value.label]
            for name in names {
                add(name, "metal", value.slug)
                for modifier in Self.metalModifiers { add("\(modifier) \(name)", "metal", value.slug) }
            }
        }
        add("gold", "metal", "gold")
        add("silver", "metal", "sterling-silver")
        add("sterling", "metal", "sterling-silver")
        for value in taxonomy.gemstone.values where value.slug != taxonomy.gemstone.exclusive {
            add(value.label, "gemstone", value.slug)
            add(Self.plural(value.label), "gemstone", value.slug, plural: true)
            if value.slug == "ruby" { add("rubys", "gemstone", value.slug, plural: true) }
        }
        for value in taxonomy.category.values {
            add(value.label, "category", value.slug)
            if !value.label.hasSuffix("s") { add(value.label + "s", "category", value.slug, plural: true) }
        }
        // Longest first, so "rose gold" wins over "gold" and "cubic zirconia" over nothing.
        self.phrases = phrases.sorted { $0.words.count > $1.words.count }
        // Colour and modifier words are harmless alone ("a white background"); names are claims.
        let harmless: Set<String> = ["warm", "rich", "bright", "blush", "soft", "pink", "cool", "golden", "and",
                                     "yellow", "white", "rose", "mixed"]
        claimWords = Set(phrases.flatMap(\.words)).subtracting(harmless).union(Self.forbiddenTerms)
    }

    public static func plural(_ label: String) -> String {
        if label.hasSuffix("y") { return String(label.dropLast()) + "ies" }
        return label + "s"
    }

    /// Claims named in a text, in order.
    public func mentions(in text: String) -> [Mention] {
        let words = Vocabulary.split(text).map { $0.lowercased() }
        var found: [Mention] = []
        var i = 0
        while i < words.count {
            if Self.forbiddenTerms.contains(words[i]) {
                found.append(Mention(field: "forbidden", value: words[i]))
                i += 1
                continue
            }
            if let phrase = match(words, at: i) {
                found.append(phrase.mention)
                i += phrase.words.count
            } else {
                i += 1
            }
        }
        return found
    }

    func match(_ words: [String], at i: Int) -> Phrase? {
        phrases.first { p in i + p.words.count <= words.count && Array(words[i ..< i + p.words.count]) == p.words }
    }

    /// Replaces every claim in `text` with its slot token. Gemstones are numbered by first appearance.
    public func delexicalize(_ text: String) -> String {
        let tokens = Vocabulary.split(text)
        let lower = tokens.map { $0.lowercased() }
        var out: [String] = [], gems: [String] = []
        var i = 0
        while i < tokens.count {
            guard let phrase = match(lower, at: i) else {
                out.append(tokens[i])
                i += 1
                continue
            }
            switch phrase.mention.field {
            case "metal": out.append("<metal>")
            case "category": out.append("<category>")
            default:
                if !gems.contains(phrase.mention.value) { gems.append(phrase.mention.value) }
                let n = min(gems.firstIndex(of: phrase.mention.value)! + 1, 2)
                out.append(phrase.plural ? "<gem\(n)s>" : "<gem\(n)>")
            }
            i += phrase.words.count
        }
        return Vocabulary.join(out)
    }
}

/// What the attribute heads say about one photo: calibrated probabilities per value.
public struct AttributeProbabilities: Sendable, Codable, Equatable {
    /// Single-valued fields (category, metal, style, finish): probability per slug, summing to 1.
    public var single: [String: [String: Double]]
    /// Gemstones: an independent probability per slug (sigmoid), including `none`.
    public var gemstones: [String: Double]

    public init(single: [String: [String: Double]], gemstones: [String: Double]) {
        (self.single, self.gemstones) = (single, gemstones)
    }

    /// The mean over several photos of one product (every value absent from a photo counts as 0).
    public static func mean(_ all: [AttributeProbabilities]) -> AttributeProbabilities {
        precondition(!all.isEmpty, "mean of no probabilities")
        let n = Double(all.count)
        var single: [String: [String: Double]] = [:], gems: [String: Double] = [:]
        for p in all {
            for (field, values) in p.single { for (value, q) in values { single[field, default: [:]][value, default: 0] += q / n } }
            for (value, q) in p.gemstones { gems[value, default: 0] += q / n }
        }
        return AttributeProbabilities(single: single, gemstones: gems)
    }

    public func top(_ field: String) -> (value: String, confidence: Double)? {
        single[field]?.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }.map { ($0.key, $0.value) }
    }

    /// The predicted gemstone set, likeliest first: every value the head believes more likely than not;
    /// when none is, the single likeliest value — every product has at least one (`none` is a value of
    /// its own), and an empty answer would count "no stones" by default. "No stones" and a stone never
    /// come together: the likelier side is kept and `conflict` says so. Values below a claim threshold
    /// are predictions to confirm, not claims (`Drafter.compose` flags them, the text never states them).
    /// `exclusive` is the taxonomy's "no stones" value (`Taxonomy.gemstone.exclusive`).
    public func gemstoneSet(exclusive: String?) -> (values: [(value: String, confidence: Double)], conflict: Bool) {
        let ranked = gemstones.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { (value: $0.key, confidence: $0.value) }
        guard let first = ranked.first else { return ([], false) }
        let likely = ranked.filter { $0.confidence >= 0.5 }
        guard likely.count > 1, let exclusive, likely.contains(where: { $0.value == exclusive }) else { return (likely.isEmpty ? [first] : likely, false) }
        return (likely[0].value == exclusive ? [likely[0]] : likely.filter { $0.value != exclusive }, true)
    }
}

/// Probability a field's claim must reach before the text may make it.
public struct GroundingThresholds: Codable, Sendable, Equatable {
    public var category = 0.8
    public var metal = 0.9
    public var gemstone = 0.8
    public var style = 0.6
    public var finish = 0.6
    public init() {}

    public func threshold(_ field: String) -> Double {
        switch field {
        case "category": category
        case "metal": metal
        case "gemstone", "gemstones": gemstone
        case "style": style
        default: finish
        }
    }
}

extension Grounding {
    /// Values a photo cannot tell apart, grouped by what it can show: the colour of the metal and of the
    /// stone. White gold, sterling silver and platinum look alike under studio light, as do diamond and
    /// cubic zirconia; the family is a safe thing to say when the exact value is not.
    public static let metalFamilies: [String: [String]] = [
        "yellow": ["yellow-gold", "brass"], "white": ["white-gold", "sterling-silver", "platinum"],
        "rose": ["rose-gold", "copper"], "two-tone": ["two-tone"],
    ]
    public static let gemstoneFamilies: [String: [String]] = ["colourless": ["diamond", "cubic-zirconia"]]
    static let metalFamilyWords = ["yellow": "yellow metal", "white": "white metal", "rose": "rose-toned metal", "two-tone": "two-tone metal"]
    static let gemstoneFamilyWords = ["colourless": ("clear stone", "clear stones")]

    /// Look-alikes a photo does not tell apart, so no probability from one is evidence enough to name
    /// them: sterling silver, white gold and platinum, and diamond and cubic zirconia. Measured on the
    /// committed catalogue (`benchmarks/lookalikes.py`, README "How to read these figures"): a classifier
    /// on the heads' colour statistics or on full-size highlight statistics reaches a balanced accuracy
    /// of 0.39–0.43 among the three white metals (chance 0.33) and 0.46–0.52 between the two clear stones
    /// (chance 0.5), where the same features separate colour families (0.69 of 4) and coloured stones
    /// (0.90 of 4), and yellow gold from brass (0.77) and rose gold from copper (0.74). A "platinum" or
    /// "diamond" drafted from a photo would be a guess in a claim's words — the false claim that matters
    /// most — so the draft says "white metal" or "clear stone" and a person confirms the value.
    public static let lookAlikes: Set<String> = ["sterling-silver", "white-gold", "platinum", "diamond", "cubic-zirconia"]

    public static func metalFamily(_ slug: String) -> String? { metalFamilies.first { $0.value.contains(slug) }?.key }
    public static func gemstoneFamily(_ slug: String) -> String { gemstoneFamilies.first { $0.value.contains(slug) }?.key ?? slug }

    /// The metal family with the highest summed probability.
    public func topMetalFamily(_ p: AttributeProbabilities) -> (family: String, confidence: Double)? {
        guard let metals = p.single["metal"] else { return nil }
        var sums: [String: Double] = [:]
        for (slug, q) in metals { if let f = Self.metalFamily(slug) { sums[f, default: 0] += q } }
        return sums.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }.map { ($0.key, $0.value) }
    }

    /// Neutral words for a slot whose claim is not supported.
    static let neutral: [String: (String, String)] = [
        "<metal>": ("metal", "metal"), "<category>": ("piece", "piece"),
        "<gem1>": ("stone", "stones"), "<gem2>": ("stone", "stones"),
    ]

    /// Fills slots from the attribute probabilities. Returns the prose and the fields that lacked support.
    public func fill(_ tokens: [String], with p: AttributeProbabilities, thresholds: GroundingThresholds,
                     titleCase: Bool) -> (text: String, unsupported: Set<String>) {
        var out: [String] = [], unsupported = Set<String>()
        let gems = gemstoneWords(p, thresholds: thresholds)
        for (i, token) in tokens.enumerated() {
            guard Self.slotTokens.contains(token) else { out.append(token); continue }
            var words: String
            switch token {
            case "<metal>":
                if let (slug, confidence) = p.top("metal"), confidence >= thresholds.metal, !unnamed.contains(slug) {
                    words = slug == "two-tone" ? "two-tone gold" : taxonomy.metal.label(slug) ?? slug
                } else if let (family, confidence) = topMetalFamily(p), confidence >= thresholds.metal {
                    // Sure of the colour, not of the metal (or the metal is a look-alike): say what the
                    // photo shows ("white metal").
                    words = Self.metalFamilyWords[family] ?? "metal"
                    unsupported.insert("metal")
                } else { words = "metal"; unsupported.insert("metal") }
            case "<category>":
                if let (slug, confidence) = p.top("category"), confidence >= thresholds.category {
                    words = taxonomy.category.label(slug) ?? slug
                } else { words = "piece"; unsupported.insert("category") }
            default:
                let plural = token.hasSuffix("s>")
                let n = token.hasPrefix("<gem1") ? 0 : 1
                if n < gems.count {
                    words = plural ? gems[n].plural : gems[n].singular
                    if !gems[n].named { unsupported.insert("gemstones") }
                } else {
                    words = plural ? "stones" : "stone"
                    unsupported.insert("gemstones")
                }
            }
            if titleCase {
                words = words.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
            } else if i == 0 || [".", "!", "?"].contains(tokens[i - 1]) {
                words = words.prefix(1).uppercased() + words.dropFirst()
            }
            out.append(words)
        }
        return (Vocabulary.join(out), unsupported)
    }

    /// Gemstones the text may name: above threshold and not `unnamed`, most probable first; empty when
    /// `none` wins.
    public func supportedGemstones(_ p: AttributeProbabilities, thresholds: GroundingThresholds) -> [String] {
        p.gemstones.filter { $0.key != taxonomy.gemstone.exclusive && $0.value >= thresholds.gemstone && !unnamed.contains($0.key) }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
    }

    /// What the stone slots say, most probable first: the supported stones by name, and a family of
    /// stones the text may not name ("clear stones") when its summed probability clears the threshold.
    func gemstoneWords(_ p: AttributeProbabilities, thresholds: GroundingThresholds) -> [(singular: String, plural: String, named: Bool)] {
        var ranked: [(probability: Double, key: String, words: (singular: String, plural: String, named: Bool))] = []
        let named = supportedGemstones(p, thresholds: thresholds)
        for slug in named {
            guard let label = taxonomy.gemstone.label(slug) else { continue }
            ranked.append((p.gemstones[slug] ?? 0, slug, (label, Self.plural(label), true)))
        }
        // A family stands in for members the text may not name, not beside a member it names.
        for (family, members) in Self.gemstoneFamilies.sorted(by: { $0.key < $1.key }) {
            guard let (singular, plural) = Self.gemstoneFamilyWords[family], !members.contains(where: named.contains) else { continue }
            let sum = members.map { p.gemstones[$0] ?? 0 }.reduce(0, +)
            if sum >= thresholds.gemstone { ranked.append((sum, family, (singular, plural, false))) }
        }
        return ranked.sorted { $0.probability != $1.probability ? $0.probability > $1.probability : $0.key < $1.key }.map(\.words)
    }

    /// Claims in `text` that the probabilities do not support (the grounding violations), and forbidden terms.
    public func violations(in text: String, probabilities p: AttributeProbabilities, thresholds: GroundingThresholds) -> [Mention] {
        mentions(in: text).filter { m in
            switch m.field {
            case "forbidden": return true
            case "metal":
                guard let (slug, confidence) = p.top("metal"), confidence >= thresholds.metal, !unnamed.contains(m.value) else { return true }
                return m.value == "gold" ? !slug.hasSuffix("gold") && slug != "two-tone" : m.value != slug
            case "category":
                guard let (slug, confidence) = p.top("category"), confidence >= thresholds.category else { return true }
                return m.value != slug
            default:
                return unnamed.contains(m.value) || (p.gemstones[m.value] ?? 0) < thresholds.gemstone
            }
        }
    }

    /// Claims in `text` that contradict the true attributes (false claims), for evaluation.
    public func falseClaims(in text: String, truth: Attributes) -> [Mention] {
        mentions(in: text).filter { m in
            switch m.field {
            case "forbidden": return true
            case "metal": return m.value == "gold" ? !truth.metal.hasSuffix("gold") && truth.metal != "two-tone" : m.value != truth.metal
            case "category": return m.value != truth.category
            default: return !truth.gemstones.contains(m.value)
            }
        }
    }
}
