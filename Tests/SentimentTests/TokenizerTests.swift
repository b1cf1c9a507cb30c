import Foundation
@testable import Sentiment
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let miniLM = repositoryRoot.appendingPathComponent(".cache/models/minilm-l6")

/// The reference packages' Python (scripts/install-pyref.sh) on `script` with `input` on stdin.
func pyref(_ script: String, arguments: [String] = [], input: Data = Data()) throws -> Data {
    try python(".cache/pyref/bin/python", script, arguments: arguments, input: input)
}

/// A Python of one of install-pyref.sh's environments (`venv`, relative to the repository) on a script.
func python(_ venv: String, _ script: String, arguments: [String], input: Data) throws -> Data {
    let python = repositoryRoot.appendingPathComponent(venv)
    guard FileManager.default.isExecutableFile(atPath: python.path) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(python.path): run scripts/install-pyref.sh"])
    }
    let process = Process()
    process.executableURL = python
    process.arguments = ["-c", script] + arguments
    let stdin = Pipe(), stdout = Pipe()
    (process.standardInput, process.standardOutput) = (stdin, stdout)
    try process.run()
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
    return data
}

/// Hugging Face `tokenizers` 0.20.3 on MiniLM's own tokenizer.json: ids with [CLS]/[SEP], no padding or
/// truncation.
func referenceIDs(_ texts: [String]) throws -> [[Int]] {
    let data = try pyref("""
        import json, sys
        from tokenizers import Tokenizer
        t = Tokenizer.from_file(sys.argv[1])
        t.no_padding(); t.no_truncation()
        print(json.dumps([e.ids for e in t.encode_batch(json.load(sys.stdin))]))
        """, arguments: [miniLM.appendingPathComponent("tokenizer.json").path], input: try JSONEncoder().encode(texts))
    return try JSONDecoder().decode([[Int]].self, from: data)
}

@Suite struct TokenizerTests {
    static let tricky = [
        "Héllo, WORLD!! I can't believe it's 18k gold… naïve café",
        "UNAFFABLE unaffable Unaffable",
        "Ünïcödé àccénts: Crème brûlée, Señor, São Paulo, Ångström, Łódź, İstanbul, ΣΊΣΥΦΟΣ",
        "punctuation!?…—–“quotes” ‘single’ «guillemets» (brackets) [x] {y} $5.99 50% #1 @home a^b `tick` ~tilde",
        "emoji 😀👍🏽 and symbols ™ © ® ° ± × ÷ € £ ¥ 💍",
        "CJK 東京 and 北京市 mixed漢字text, kana ひらがな カタカナ, 한국어 hangul",
        "zero\u{200B}width\u{00AD}soft hyphen and non\u{00A0}breaking space\tand\ttabs\nnewlines\r\n",
        "control\u{0007}chars\u{0000}and\u{FFFD}replacement",
        "ﬁne ligatures ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ ¹²³ ½",
        "Devanagari हिन्दी, Arabic العربية, Hebrew עברית, Thai ภาษาไทย, Greek λόγος",
        String(repeating: "a", count: 101) + " " + String(repeating: "b", count: 100),
        "http://example.com/path?q=1&r=2 e-mail: someone@example.org, #hashtag, C++, A.B.C., U.S.A.",
        "", "   ", "don't won't shouldn't y'all ma'am o'clock rock'n'roll",
        "Tiếng Việt có dấu, Ελληνικά, Русский текст, Ça va? Ñandú. Øresund. Æsir. Œuvre.",
    ]

    @Test func matchesHuggingFaceOnTrickySentences() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLM.appendingPathComponent("vocab.txt"))
        let expected = try referenceIDs(Self.tricky)
        for (text, ids) in zip(Self.tricky, expected) {
            let mine = tokenizer.encode(text, maxLength: 10_000)
            #expect(mine == ids, "\(text.debugDescription): \(tokenizer.tokenize(text)) vs \(ids.map { tokenizer.tokens[$0] })")
        }
    }

    /// Every sentence of the four corpora (23,703) tokenises as the reference does.
    @Test func matchesHuggingFaceOnTheReviewCorpora() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLM.appendingPathComponent("vocab.txt"))
        let texts = try ReviewCorpus.allCases.flatMap { try ReviewCorpus.load($0, directory: repositoryRoot.appendingPathComponent(".cache/data/reviews")).map(\.text) }
        #expect(texts.count == 3708 + 10605 + 4200 + 5190)
        let expected = try referenceIDs(texts)
        var mismatches: [String] = []
        for (text, ids) in zip(texts, expected) where tokenizer.encode(text, maxLength: 10_000) != ids { mismatches.append(text) }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ, e.g. \(mismatches.prefix(3))")
    }

    @Test func encodesBatchesWithSpecialTokensAndPadding() throws {
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "gold", ","])
        #expect(tokenizer.tokenize("Unaffable, GOLD") == ["un", "##aff", "##able", ",", "gold"])
        #expect(tokenizer.tokenize("unaffablex silver") == ["[UNK]", "[UNK]"])
        let (ids, mask) = tokenizer.batch(["gold", "unaffable gold gold"], maxLength: 5)
        #expect(ids == [[2, 7, 3, 0, 0], [2, 4, 5, 6, 3]])
        #expect(mask == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        #expect(throws: TokenizerError.missingSpecialToken("[CLS]")) { try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[SEP]"]) }
    }
}
