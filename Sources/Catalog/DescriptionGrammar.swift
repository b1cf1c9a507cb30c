import Foundation
import Imaging

/// Titles and reference descriptions from a grammar: several phrasings per slot, 2–4 sentences per
/// description naming the category, metal, stones, style, finish and an occasion — several references per
/// product, as COCO keeps several captions per image.
public struct DescriptionGrammar: Sendable {
    public let taxonomy: Taxonomy
    public init(taxonomy: Taxonomy = .standard) { self.taxonomy = taxonomy }

    static let occasions = ["everyday wear", "weddings", "anniversaries", "evening events", "the office",
                            "birthdays", "engagements", "holiday gifting", "layering with other pieces", "special occasions"]

    static let designWords: [String: [String]] = [
        "solitaire": ["solitaire", "single-stone"], "halo": ["halo", "halo-set"], "band": ["band", "wedding band"],
        "eternity": ["eternity", "full eternity"], "signet": ["signet"], "cluster": ["cluster"],
        "chain-centrepiece": ["centrepiece"], "pearl-strand": ["strand"], "bar": ["bar"], "station": ["station"],
        "drop": ["drop", "teardrop"], "disc": ["disc", "coin"], "heart": ["heart"], "hexagon": ["hexagon"],
        "studs": ["stud"], "drops": ["drop"], "hoops": ["hoop"], "link": ["link", "chain link"],
        "tennis": ["tennis", "line"], "bead": ["beaded"], "round": ["round"], "cuff": ["cuff"],
        "stone-set": ["stone-set"], "flower": ["flower"], "star": ["star"], "chain-charms": ["charm"],
        "beaded": ["beaded"],
    ]

    static let finishPhrases: [String: [String]] = [
        "polished": ["a high-polish finish", "a mirror-bright polish", "a smooth polished surface"],
        "hammered": ["a hand-hammered texture", "a hammered finish that catches the light", "softly hammered facets"],
        "brushed": ["a brushed satin finish", "fine brushed lines", "a soft brushed surface"],
        "matte": ["a matte finish", "a muted matte surface", "a velvety matte texture"],
    ]

    static let stylePhrases: [String: [String]] = [
        "minimalist": ["clean, minimalist lines", "a pared-back minimalist design", "an understated minimalist look"],
        "vintage": ["vintage-inspired detailing", "an heirloom, vintage character", "old-world vintage charm"],
        "art-deco": ["art deco geometry", "a 1920s art deco feel", "crisp art deco symmetry"],
        "boho": ["a relaxed boho spirit", "free-spirited boho styling", "an earthy boho feel"],
        "statement": ["bold statement presence", "a striking statement silhouette", "an eye-catching statement design"],
        "floral": ["delicate floral motifs", "a petal-inspired floral design", "a garden-fresh floral shape"],
        "geometric": ["sharp geometric forms", "a modern geometric outline", "angular geometric lines"],
        "classic": ["timeless classic styling", "a classic, elegant profile", "enduring classic proportions"],
    ]

    func label(_ field: Taxonomy.Field, _ slug: String) -> String { field.label(slug) ?? slug.replacingOccurrences(of: "-", with: " ") }

    func metalPhrase(_ metal: String, rng: inout SplitMix) -> String {
        switch metal {
        case "yellow-gold": rng.pick(["yellow gold", "warm yellow gold", "rich yellow gold"])
        case "white-gold": rng.pick(["white gold", "bright white gold"])
        case "rose-gold": rng.pick(["rose gold", "blush rose gold", "soft pink rose gold"])
        case "sterling-silver": rng.pick(["sterling silver", "bright sterling silver"])
        case "platinum": rng.pick(["platinum", "cool platinum"])
        case "copper": rng.pick(["copper", "warm copper"])
        case "brass": rng.pick(["brass", "golden brass"])
        case "two-tone": rng.pick(["two-tone yellow and white gold", "two-tone gold", "mixed yellow and white gold"])
        default: label(taxonomy.metal, metal)
        }
    }

    func stonePhrase(_ stones: [String], rng: inout SplitMix) -> String? {
        let real = stones.filter { $0 != "none" }
        guard !real.isEmpty else { return nil }
        let names = real.map { label(taxonomy.gemstone, $0) }
        if names.count == 1 {
            let stone = names[0]
            if real[0] == "pearl" { return rng.pick(["lustrous pearls", "freshwater pearls", "glowing pearls"]) }
            return rng.pick(["a \(stone)", "sparkling \(stone)s", "a brilliant-cut \(stone)", "\(stone) accents"])
        }
        return rng.pick(["a \(names[0]) framed by \(names[1])s", "\(names[0]) and \(names[1]) stones",
                         "a central \(names[0]) with \(names[1]) accents"])
    }

    public func title(_ a: Attributes, design: String, rng: inout SplitMix) -> String {
        let metal = label(taxonomy.metal, a.metal).capitalized
        let category = label(taxonomy.category, a.category).capitalized
        let stone = a.gemstones.first { $0 != "none" }.map { label(taxonomy.gemstone, $0).capitalized }
        let designWord = (Self.designWords[design].map { rng.pick($0) } ?? design).capitalized
        let finish = a.finish == "polished" ? "" : label(taxonomy.finish, a.finish).capitalized + " "
        if let stone { return "\(metal) \(stone) \(designWord) \(category)" }
        return "\(finish)\(metal) \(designWord) \(category)"
    }

    public func descriptions(_ a: Attributes, design: String, count: Int, rng: inout SplitMix) -> [String] {
        (0 ..< count).map { _ in description(a, design: design, rng: &rng) }
    }

    public func description(_ a: Attributes, design: String, rng: inout SplitMix) -> String {
        let category = label(taxonomy.category, a.category)
        let metal = metalPhrase(a.metal, rng: &rng)
        let designWord = Self.designWords[design].map { rng.pick($0) } ?? design
        let stones = stonePhrase(a.gemstones, rng: &rng)
        let finish = rng.pick(Self.finishPhrases[a.finish] ?? [a.finish])
        let style = rng.pick(Self.stylePhrases[a.style] ?? [a.style])
        let occasion = rng.pick(Self.occasions)
        let noun = a.category == "earrings" ? "pair of \(designWord) earrings" : "\(designWord) \(category)"
        let article = noun.first.map { "aeiou".contains($0) } == true ? "An" : "A"
        let pronoun = a.category == "earrings" ? "They" : "It"
        let verb = a.category == "earrings" ? "are" : "is"

        var opening: [String] = [
            "\(article) \(noun) crafted in \(metal)\(stones.map { " with \($0)" } ?? "").",
            "This \(metal) \(noun) \(a.category == "earrings" ? "feature" : "features") \(stones ?? "a clean, stone-free design").",
            "Handmade in \(metal), this \(noun) \(stones.map { "sets \($0)" } ?? "lets the metal speak for itself").",
        ]
        if let stones { opening.append("\(stones.prefix(1).uppercased() + stones.dropFirst()) \(stones.hasPrefix("a ") ? "sits" : "sit") in this \(metal) \(noun).") }
        var middle = [
            "\(pronoun) \(verb) finished with \(finish) and \(style).",
            "The piece pairs \(finish) with \(style).",
            "Expect \(style), brought out by \(finish).",
        ]
        if a.category == "ring" { middle.append("The band has \(finish), and the design shows \(style).") }
        let closing = [
            "Perfect for \(occasion).",
            "A thoughtful choice for \(occasion).",
            "Made to be worn for \(occasion).",
            "\(pronoun) \(verb) ideal for \(occasion).",
        ]
        // Only labelled facts: no karat, purity, origin or packaging claims the photo cannot support.
        let extra = [
            "The \(label(taxonomy.finish, a.finish)) \(metal) gives it a \(label(taxonomy.style, a.style)) look.",
            "\(pronoun) \(verb) a \(label(taxonomy.style, a.style)) \(category == "earrings" ? "pair" : category) in \(metal).",
        ]
        // Every description names the occasion: in its own sentence, or folded into the second.
        let length = 2 + Int(rng.next() % 3)  // 2–4 sentences
        var sentences = [rng.pick(opening)]
        if length == 2 {
            let second = rng.pick(middle)
            sentences.append(String(second.dropLast()) + ", \(rng.pick(["made for", "ideal for", "lovely for"])) \(occasion).")
        } else {
            sentences.append(rng.pick(middle))
            sentences.append(rng.pick(closing))
            if length == 4 { sentences.append(rng.pick(extra)) }
        }
        return sentences.joined(separator: " ")
    }
}
