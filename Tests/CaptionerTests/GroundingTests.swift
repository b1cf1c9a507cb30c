import Captioner
import Catalog
import Testing

@Suite struct VocabularyTests {
    @Test func splitsWordsAndPunctuationAndJoinsBack() {
        let text = "A hand-hammered ring, crafted in <metal>. It's ideal for weddings."
        let tokens = Vocabulary.split(text)
        #expect(tokens == ["A", "hand-hammered", "ring", ",", "crafted", "in", "<metal>", ".", "It's", "ideal", "for", "weddings", "."])
        #expect(Vocabulary.join(tokens) == text)
    }

    @Test func encodesTitleAndDescriptionAndDecodesTheParts() {
        let vocabulary = Vocabulary.build(from: ["<metal> <category>", "A <category> in <metal>."])
        let ids = vocabulary.encode(title: "<metal> <category>", description: "A <category> in <metal>.")
        #expect(ids.first == vocabulary.bosID && ids.last == vocabulary.eosID)
        let (title, description) = vocabulary.decodeParts(Array(ids.dropFirst()))
        #expect(title == ["<metal>", "<category>"])
        #expect(description == ["A", "<category>", "in", "<metal>", "."])
        #expect(vocabulary.id("never-seen") == vocabulary.unknownID)
    }
}

@Suite struct GroundingTests {
    let grounding = Grounding()

    @Test func delexicalisesEveryClaim() {
        #expect(grounding.delexicalize("This blush rose gold solitaire ring features a brilliant-cut sapphire.")
            == "This <metal> solitaire <category> features a brilliant-cut <gem1>.")
        #expect(grounding.delexicalize("A central diamond with ruby accents, in two-tone yellow and white gold.")
            == "A central <gem1> with <gem2> accents, in <metal>.")
        #expect(grounding.delexicalize("Yellow Gold Cubic Zirconia Hoop Earrings") == "<metal> <gem1> Hoop <category>")
        #expect(grounding.delexicalize("sparkling rubys and lustrous pearls") == "sparkling <gem1s> and lustrous <gem2s>")
    }

    func probabilities(metal: Double, category: Double, gems: [String: Double]) -> AttributeProbabilities {
        AttributeProbabilities(single: ["metal": ["sterling-silver": metal, "yellow-gold": 1 - metal],
                                        "category": ["ring": category, "bangle": 1 - category]],
                               gemstones: gems)
    }

    @Test func fillsSupportedSlotsAndWithholdsTheRest() {
        let tokens = Vocabulary.split("<metal> <gem1> <category>")
        let sure = probabilities(metal: 0.97, category: 0.95, gems: ["sapphire": 0.93, "none": 0.02])
        let filled = grounding.fill(tokens, with: sure, thresholds: .init(), titleCase: true)
        #expect(filled.text == "Sterling Silver Sapphire Ring")
        #expect(filled.unsupported.isEmpty)

        // A metal at 0.85 is below the 0.9 threshold: the text must not say "sterling silver".
        let unsure = probabilities(metal: 0.85, category: 0.95, gems: ["sapphire": 0.6, "none": 0.3])
        let withheld = grounding.fill(Vocabulary.split("A <category> in <metal> with <gem1s>."), with: unsure,
                                      thresholds: .init(), titleCase: false)
        #expect(withheld.text == "A ring in metal with stones.")
        #expect(withheld.unsupported == ["metal", "gemstones"])
        #expect(grounding.violations(in: withheld.text, probabilities: unsure, thresholds: .init()).isEmpty)
        // Capitalised at the start of a sentence.
        #expect(grounding.fill(["<gem1s>", "sit", "here", "."], with: sure, thresholds: .init(), titleCase: false).text == "Sapphires sit here.")
    }

    @Test func saysTheColourWhenOnlyTheColourIsCertain() {
        // White gold or sterling silver, the photo cannot say which; it is surely a white metal and clear stones.
        let p = AttributeProbabilities(single: ["metal": ["white-gold": 0.47, "sterling-silver": 0.49, "yellow-gold": 0.04],
                                                "category": ["ring": 0.99]],
                                       gemstones: ["diamond": 0.55, "cubic-zirconia": 0.42, "none": 0.01])
        let filled = grounding.fill(Vocabulary.split("A <category> in <metal> with <gem1s>."), with: p, thresholds: .init(), titleCase: false)
        #expect(filled.text == "A ring in white metal with clear stones.")
        #expect(filled.unsupported == ["metal", "gemstones"])
        #expect(grounding.violations(in: filled.text, probabilities: p, thresholds: .init()).isEmpty)
        #expect(grounding.topMetalFamily(p)?.family == "white")
    }

    @Test func countsViolationsAndFalseClaims() {
        let p = probabilities(metal: 0.85, category: 0.95, gems: ["sapphire": 0.95])
        let text = "An 18k gold ring in sterling silver with a sapphire and a ruby."
        let violations = grounding.violations(in: text, probabilities: p, thresholds: .init())
        // "18k" is forbidden outright; "gold" and "sterling silver" lack support (0.85 < 0.9); ruby is unsupported.
        #expect(violations.map(\.value) == ["18k", "gold", "sterling-silver", "ruby"])
        let truth = Attributes(category: "ring", metal: "sterling-silver", gemstones: ["sapphire"], style: "classic", finish: "polished")
        #expect(grounding.falseClaims(in: text, truth: truth).map(\.value) == ["18k", "gold", "ruby"])
    }

    @Test func claimWordsCoverNamesButNotColours() {
        for word in ["gold", "silver", "sterling", "platinum", "sapphire", "sapphires", "ring", "earrings", "18k", "925"] {
            #expect(grounding.claimWords.contains(word), "\(word)")
        }
        for word in ["white", "yellow", "rose", "bright", "and"] { #expect(!grounding.claimWords.contains(word), "\(word)") }
    }
}

@Suite struct DraftCompositionTests {
    func draft(gemstones: [String: Double]) throws -> Draft {
        let drafter = Drafter(model: try CaptionModel(config: tinyConfig(texts: ["A yellow gold ring."])))
        let p = AttributeProbabilities(single: ["category": ["ring": 0.95], "metal": ["yellow-gold": 0.97],
                                                "style": ["minimalist": 0.9], "finish": ["polished": 0.9]], gemstones: gemstones)
        return drafter.compose(ids: [], probabilities: p)
    }

    /// "No stones" and a stone above 0.5 contradict each other: the likelier side is kept and the field
    /// goes to review, so a draft can always be published once confirmed.
    @Test func noStonesAndAStoneAreNeverClaimedTogether() throws {
        let noneWins = try draft(gemstones: ["none": 0.7, "ruby": 0.6, "pearl": 0.1])
        #expect(noneWins.attributes.gemstones.map(\.value) == ["none"])
        #expect(noneWins.needsReview.contains("gemstones"))
        let stonesWin = try draft(gemstones: ["none": 0.55, "ruby": 0.9, "pearl": 0.8])
        #expect(stonesWin.attributes.gemstones.map(\.value) == ["ruby", "pearl"])
        #expect(stonesWin.needsReview.contains("gemstones"))
        let clear = try draft(gemstones: ["none": 0.02, "ruby": 0.97, "pearl": 0.03])
        #expect(clear.attributes.gemstones.map(\.value) == ["ruby"])
        #expect(!clear.needsReview.contains("gemstones"))
        #expect(clear.needsReview.isEmpty)
    }
}
