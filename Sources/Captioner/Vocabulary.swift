import Foundation

/// Word-level tokenizer built from the training texts: words (letters, digits, inner hyphens and
/// apostrophes) and single punctuation marks, case kept. Slot tokens (`<metal>`, `<category>`, `<gem1>`…)
/// stand where a text names a grounded attribute (see `Grounding`).
public struct Vocabulary: Codable, Sendable, Equatable {
    public static let pad = "<pad>", bos = "<bos>", eos = "<eos>", unknown = "<unk>", separator = "<sep>"
    public static let specials = [pad, bos, eos, unknown, separator]

    public let tokens: [String]
    private let index: [String: Int]

    public var count: Int { tokens.count }
    public var padID: Int { 0 }
    public var bosID: Int { 1 }
    public var eosID: Int { 2 }
    public var unknownID: Int { 3 }
    public var separatorID: Int { 4 }

    public init(tokens: [String]) {
        precondition(Array(tokens.prefix(Self.specials.count)) == Self.specials, "a vocabulary starts with the special tokens")
        self.tokens = tokens
        var index: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { index[t] = i }
        precondition(index.count == tokens.count, "duplicate tokens in the vocabulary")
        self.index = index
    }

    /// Every token seen at least `minCount` times in `texts`, most frequent first (ties alphabetical),
    /// after the specials and the slot tokens.
    public static func build(from texts: [String], minCount: Int = 1) -> Vocabulary {
        var counts: [String: Int] = [:]
        for text in texts { for word in split(text) { counts[word, default: 0] += 1 } }
        let reserved = specials + Grounding.slotTokens
        let words = counts.filter { $0.value >= minCount && !reserved.contains($0.key) }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        return Vocabulary(tokens: reserved + words)
    }

    public func id(_ token: String) -> Int { index[token] ?? unknownID }
    public func contains(_ token: String) -> Bool { index[token] != nil }

    /// `<bos> title <sep> description <eos>` as ids.
    public func encode(title: String, description: String) -> [Int] {
        [bosID] + Self.split(title).map(id) + [separatorID] + Self.split(description).map(id) + [eosID]
    }

    /// Splits generated ids (without `<bos>`) at `<sep>` and stops at `<eos>`.
    public func decodeParts(_ ids: [Int]) -> (title: [String], description: [String]) {
        var title: [String] = [], description: [String] = [], inDescription = false
        for id in ids {
            if id == eosID { break }
            if id == separatorID { inDescription = true; continue }
            if id == bosID || id == padID { continue }
            if inDescription { description.append(tokens[id]) } else { title.append(tokens[id]) }
        }
        return (title, description)
    }

    /// Words and punctuation marks. A hyphen or apostrophe inside a word stays in it ("hand-hammered");
    /// slot tokens (`<metal>`) are kept whole.
    public static func split(_ text: String) -> [String] {
        var out: [String] = [], word = ""
        let chars = Array(text)
        var i = 0
        func flush() { if !word.isEmpty { out.append(word); word = "" } }
        while i < chars.count {
            let c = chars[i]
            if c == "<", let slot = Grounding.slotTokens.first(where: { i + $0.count <= chars.count && String(chars[i ..< i + $0.count]) == $0 }) {
                flush()
                out.append(slot)
                i += slot.count
                continue
            }
            let inner = (c == "-" || c == "'") && !word.isEmpty && i + 1 < chars.count && (chars[i + 1].isLetter || chars[i + 1].isNumber)
            if c.isLetter || c.isNumber || inner {
                word.append(c)
            } else {
                flush()
                if !c.isWhitespace { out.append(String(c)) }
            }
            i += 1
        }
        flush()
        return out
    }

    /// Joins tokens as prose: no space before closing punctuation.
    public static func join(_ tokens: [String]) -> String {
        var text = ""
        for token in tokens {
            if !text.isEmpty && !(token.count == 1 && ".,;:!?)".contains(token)) && !text.hasSuffix("(") { text += " " }
            text += token
        }
        return text
    }
}
