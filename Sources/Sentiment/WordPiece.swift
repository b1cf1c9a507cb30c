import Foundation

/// BERT's uncased tokeniser (the MiniLM vocabulary): basic tokenisation — text cleaning, spaces around
/// CJK ideographs, lower-casing, accent stripping (NFD without combining marks), splitting on
/// punctuation — then greedy longest-match-first word pieces, continuations prefixed `##`, a word with
/// no segmentation (or over 100 characters) as `[UNK]`. Equal to Hugging Face's `BertTokenizer` /
/// `tokenizers` on the same vocabulary (a test checks the ids of tricky sentences).
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int]
    public let tokens: [String]
    public let unknown: Int, classification: Int, separator: Int, padding: Int
    public let maxCharactersPerWord = 100

    /// `vocab.txt`: one token per line, the line number is its id.
    public init(vocabularyFile url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 })
    }

    public init(tokens: [String]) throws {
        var vocabulary: [String: Int] = [:]
        for (i, token) in tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = i }
        func id(_ token: String) throws -> Int {
            guard let id = vocabulary[token] else { throw TokenizerError.missingSpecialToken(token) }
            return id
        }
        (self.vocabulary, self.tokens) = (vocabulary, tokens)
        (unknown, classification, separator, padding) = (try id("[UNK]"), try id("[CLS]"), try id("[SEP]"), try id("[PAD]"))
    }

    /// Word pieces of `text` (no special tokens).
    public func tokenize(_ text: String) -> [String] {
        BasicTokenizer.tokenize(text).flatMap(wordPieces)
    }

    /// Ids of `text` (no special tokens).
    public func ids(_ text: String) -> [Int] { tokenize(text).map { vocabulary[$0] ?? unknown } }

    /// `[CLS] text [SEP]`, cut to `maxLength` (the `[SEP]` kept).
    public func encode(_ text: String, maxLength: Int = 128) -> [Int] {
        precondition(maxLength >= 2, "room for [CLS] and [SEP]")
        return [classification] + ids(text).prefix(maxLength - 2) + [separator]
    }

    /// A padded batch: ids (N × L) and the attention mask (1 for tokens, 0 for padding), L the longest.
    public func batch(_ texts: [String], maxLength: Int = 128) -> (ids: [[Int]], mask: [[Int]]) {
        pad(texts.map { encode($0, maxLength: maxLength) })
    }

    /// Encoded texts padded to the longest: ids (N × L) and the attention mask.
    public func pad(_ encoded: [[Int]]) -> (ids: [[Int]], mask: [[Int]]) {
        let length = encoded.map(\.count).max() ?? 2
        return (encoded.map { $0 + Array(repeating: padding, count: length - $0.count) },
                encoded.map { Array(repeating: 1, count: $0.count) + Array(repeating: 0, count: length - $0.count) })
    }

    func wordPieces(_ word: String) -> [String] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxCharactersPerWord else { return ["[UNK]"] }
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: String? = nil
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start ..< end]))
                if start > 0 { piece = "##" + piece }
                if vocabulary[piece] != nil { found = piece; break }
                end -= 1
            }
            guard let found else { return ["[UNK]"] }
            pieces.append(found)
            start = end
        }
        return pieces
    }
}

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingSpecialToken(String)
    public var description: String {
        switch self { case .missingSpecialToken(let t): "the vocabulary has no \(t) token" }
    }
}

/// BERT's `BasicTokenizer` with `do_lower_case` (which also strips accents).
enum BasicTokenizer {
    static func tokenize(_ text: String) -> [String] {
        // Clean: drop NUL, U+FFFD and control characters; every whitespace character becomes a space;
        // CJK ideographs become words of their own.
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJK(scalar) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var out: [String] = []
        for token in String(cleaned).split(separator: " ", omittingEmptySubsequences: true) {
            let lowered = String(token).lowercased()
            // NFD, then drop combining marks (Mn).
            let stripped = lowered.decomposedStringWithCanonicalMapping.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
            var word = String.UnicodeScalarView()
            for scalar in stripped {
                if isPunctuation(scalar) {
                    if !word.isEmpty { out.append(String(word)); word = String.UnicodeScalarView() }
                    out.append(String(scalar))
                } else {
                    word.append(scalar)
                }
            }
            if !word.isEmpty { out.append(String(word)) }
        }
        return out
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s == " " || s == "\t" || s == "\n" || s == "\r" { return true }
        return s.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        let c = s.properties.generalCategory
        return c == .control || c == .format
    }

    /// ASCII non-letters/digits (so `$`, `^`, `` ` `` count) and every Unicode P* category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33 ... 47).contains(v) || (58 ... 64).contains(v) || (91 ... 96).contains(v) || (123 ... 126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
             .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00 ... 0x9FFF).contains(v) || (0x3400 ... 0x4DBF).contains(v) || (0x20000 ... 0x2A6DF).contains(v)
            || (0x2A700 ... 0x2B73F).contains(v) || (0x2B740 ... 0x2B81F).contains(v) || (0x2B820 ... 0x2CEAF).contains(v)
            || (0xF900 ... 0xFAFF).contains(v) || (0x2F800 ... 0x2FA1F).contains(v)
    }
}
