import Foundation

/// The review aspects the marketplace tracks.
public enum ReviewAspect: String, Codable, Sendable, CaseIterable {
    case quality, appearance, sizeFit = "size_fit", priceValue = "price_value", shipping, durability, service

    /// Words and phrases that mention the aspect (lower case, matched on word boundaries; a trailing `*`
    /// matches any ending: `tarnish*` → tarnished, tarnishes).
    public var cues: [String] {
        switch self {
        case .quality: ["quality", "well made", "well-made", "craftsmanship", "crafted", "workmanship", "cheap looking", "cheaply made", "flimsy",
                        "sturdy", "solid", "poorly made", "shoddy", "defect*", "finish", "clasp*"]
        case .appearance: ["beautiful", "gorgeous", "pretty", "stunning", "lovely", "ugly", "looks", "look", "looked", "sparkl*", "shin*", "colour*",
                           "color*", "design", "elegant", "dull", "as pictured", "than pictured", "photo*", "picture*"]
        case .sizeFit: ["size", "sized", "fit", "fits", "fitted", "too small", "too big", "too large", "too tight", "too loose", "length", "tight",
                        "loose", "resiz*", "adjustable", "comfortable", "uncomfortable"]
        case .priceValue: ["price", "priced", "value", "worth", "expensive", "cheap", "overpriced", "money", "cost*", "bargain", "deal", "afford*"]
        case .shipping: ["shipping", "shipped", "delivery", "delivered", "arrived", "arrival", "package*", "packaging", "parcel", "post", "courier",
                         "late", "on time", "box"]
        case .durability: ["tarnish*", "broke", "broken", "break*", "bent", "durab*", "lasted", "didn't last", "did not last", "fell apart", "fell off", "discolo*",
                           "turned green", "rust*", "fade*", "faded", "wear*", "worn", "scratch*", "still looks"]
        case .service: ["service", "seller", "artisan", "maker", "shop", "customer service", "communication", "respon*", "refund*", "return*",
                        "replac*", "helpful", "rude", "support", "contacted", "reply", "replied"]
        }
    }
}

/// A clause of a review that mentions an aspect.
public struct AspectMention: Codable, Sendable, Equatable {
    public let aspect: ReviewAspect
    public let excerpt: String
}

/// Finds aspect mentions: the review is cut into clauses (sentences, and at ";", and before "but",
/// "however", "although", "though", "except"), and a clause mentions every aspect one of whose cues it
/// contains. The sentiment of each mention is then the classifier's on that clause alone, so "lovely
/// colour but it tarnished in a week" is positive on appearance and negative on durability.
public enum AspectExtractor {
    public static func clauses(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        let contrast: Set<String> = ["but", "however", "although", "though", "except", "yet", "whereas"]
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let bare = word.lowercased().trimmingCharacters(in: .punctuationCharacters)
            if contrast.contains(bare), !current.trimmingCharacters(in: .whitespaces).isEmpty {
                parts.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
            if let last = word.last, ".!?;".contains(last) {
                parts.append(current)
                current = ""
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.contains(where: \.isLetter) }
    }

    /// Mentions in clause order; one per (clause, aspect).
    public static func mentions(_ text: String) -> [AspectMention] {
        var out: [AspectMention] = []
        for clause in clauses(text) {
            let words = clause.lowercased().split(whereSeparator: { !$0.isLetter && $0 != "'" && $0 != "-" }).map(String.init)
            let joined = " " + words.joined(separator: " ") + " "
            for aspect in ReviewAspect.allCases where aspect.cues.contains(where: { matches($0, words: words, joined: joined) }) {
                out.append(AspectMention(aspect: aspect, excerpt: clause))
            }
        }
        return out
    }

    static func matches(_ cue: String, words: [String], joined: String) -> Bool {
        if cue.contains(" ") { return joined.contains(" " + cue + " ") }
        if cue.hasSuffix("*") {
            let stem = String(cue.dropLast())
            return words.contains { $0.hasPrefix(stem) }
        }
        return words.contains(cue)
    }
}
