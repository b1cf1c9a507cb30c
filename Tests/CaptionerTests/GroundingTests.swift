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
        AttributeProbabilities(single: ["metal": ["yellow-gold": metal, "sterling-silver": 1 - metal],
                                        "category": ["ring": category, "bangle": 1 - category]],
                               gemstones: gems)
    }

    @Test func fillsSupportedSlotsAndWithholdsTheRest() {
        let tokens = Vocabulary.split("<metal> <gem1> <category>")
        let sure = probabilities(metal: 0.97, category: 0.95, gems: ["sapphire": 0.93, "none": 0.02])
        let filled = grounding.fill(tokens, with: sure, thresholds: .init(), titleCase: true)
        #expect(filled.text == "Yellow Gold Sapphire Ring")
        #expect(filled.unsupported.isEmpty)

        // A metal at 0.85 is below the 0.9 threshold: the text must not say "yellow gold".
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

    /// White metals and clear stones are look-alikes a photo does not separate (benchmarks/lookalikes.py):
    /// however sure the head, the text says the family and the field goes to review.
    @Test func neverNamesALookAlike() {
        let sure = AttributeProbabilities(single: ["metal": ["platinum": 0.97, "white-gold": 0.02, "yellow-gold": 0.01],
                                                   "category": ["ring": 0.99]],
                                          gemstones: ["diamond": 0.95, "cubic-zirconia": 0.03, "none": 0.01])
        let tokens = Vocabulary.split("A <category> in <metal> with <gem1s>.")
        let filled = grounding.fill(tokens, with: sure, thresholds: .init(), titleCase: false)
        #expect(filled.text == "A ring in white metal with clear stones.")
        #expect(filled.unsupported == ["metal", "gemstones"])
        #expect(grounding.violations(in: "A platinum ring with diamonds.", probabilities: sure, thresholds: .init()).map(\.value)
            == ["platinum", "diamond"])
        // The policy is what withholds them: without it the same probabilities name both.
        let naming = Grounding(unnamed: [])
        #expect(naming.fill(tokens, with: sure, thresholds: .init(), titleCase: false).text == "A ring in platinum with diamonds.")
        #expect(naming.violations(in: "A platinum ring with diamonds.", probabilities: sure, thresholds: .init()).isEmpty)
        // A nameable stone keeps its name beside the clear ones, likeliest first.
        let mixed = AttributeProbabilities(single: ["metal": ["yellow-gold": 0.95, "brass": 0.05]],
                                           gemstones: ["ruby": 0.96, "diamond": 0.6, "cubic-zirconia": 0.3, "none": 0.01])
        let both = grounding.fill(Vocabulary.split("A <metal> band with a <gem1> and <gem2s>."), with: mixed, thresholds: .init(), titleCase: false)
        #expect(both.text == "A yellow gold band with a ruby and clear stones.")
        #expect(both.unsupported == ["gemstones"])
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

    /// No value above 0.5: the draft still names the likeliest stone (as it names the likeliest metal),
    /// with its confidence, flagged for review — not an empty list that approval would turn into "no
    /// stones". Measured: gemstone-set accuracy 0.305 → 0.439 on the committed test split (README).
    @Test func anUncertainHeadStillNamesItsLikeliestStone() throws {
        let uncertain = try draft(gemstones: ["none": 0.1, "ruby": 0.35, "garnet": 0.3, "pearl": 0.02])
        #expect(uncertain.attributes.gemstones.map(\.value) == ["ruby"])
        #expect(uncertain.attributes.gemstones.map(\.confidence) == [0.35])
        #expect(uncertain.needsReview.contains("gemstones"))
        // Below the uncertain band (≤ 1 − threshold) and still the likeliest: listed and flagged.
        let faint = try draft(gemstones: ["none": 0.1, "onyx": 0.15, "pearl": 0.05])
        #expect(faint.attributes.gemstones.map(\.value) == ["onyx"])
        #expect(faint.needsReview.contains("gemstones"))
        // A likely stone below the claim threshold is listed and flagged too.
        let likely = try draft(gemstones: ["none": 0.05, "sapphire": 0.7, "topaz": 0.1])
        #expect(likely.attributes.gemstones.map(\.value) == ["sapphire"])
        #expect(likely.needsReview.contains("gemstones"))
    }

    @Test func aLookAlikeIsListedButAlwaysSentToReview() throws {
        let drafter = Drafter(model: try CaptionModel(config: tinyConfig(texts: ["A yellow gold ring."])))
        let p = AttributeProbabilities(single: ["category": ["ring": 0.95], "metal": ["sterling-silver": 0.98],
                                                "style": ["minimalist": 0.9], "finish": ["polished": 0.9]],
                                       gemstones: ["diamond": 0.97, "none": 0.01])
        let draft = drafter.compose(ids: [], probabilities: p)
        #expect(draft.attributes.metal.value == "sterling-silver" && draft.attributes.gemstones.map(\.value) == ["diamond"])
        #expect(draft.needsReview == ["metal", "gemstones"])
    }

    @Test func gemstoneSetRanksAndBreaksTiesBySlug() {
        func set(_ g: [String: Double]) -> ([String], Bool) {
            let (values, conflict) = AttributeProbabilities(single: [:], gemstones: g).gemstoneSet(exclusive: Taxonomy.standard.gemstone.exclusive)
            return (values.map(\.value), conflict)
        }
        #expect(set(["diamond": 0.3, "cubic-zirconia": 0.3, "none": 0.1]) == (["cubic-zirconia"], false))
        #expect(set(["diamond": 0.9, "pearl": 0.6, "none": 0.1]) == (["diamond", "pearl"], false))
        #expect(set(["none": 0.8, "ruby": 0.6]) == (["none"], true))
        #expect(set(["none": 0.6, "ruby": 0.8, "pearl": 0.7]) == (["ruby", "pearl"], true))
        #expect(set([:]) == ([], false))
    }

    /// Evaluation scores the set the draft lists: the likeliest stone when none reaches 0.5, and one side
    /// of a "no stones" conflict. Under the old rule (only values ≥ 0.5, "none" when empty) these four
    /// score 1 of 4.
    @Test func evaluationScoresTheListedSet() throws {
        let drafter = Drafter(model: try CaptionModel(config: tinyConfig(texts: ["A yellow gold ring."])))
        let cases: [(truth: [String], probabilities: [String: Double])] = [
            (["ruby"], ["none": 0.1, "ruby": 0.4, "garnet": 0.3]),       // fallback: right (old: "none", wrong)
            (["none"], ["none": 0.45, "diamond": 0.2]),                    // fallback: right (old: right)
            (["none"], ["none": 0.8, "ruby": 0.6]),                        // conflict, none kept: right (old: wrong)
            (["diamond"], ["none": 0.3, "cubic-zirconia": 0.35, "diamond": 0.2]),  // wrong stone, same family
        ]
        let examples = cases.enumerated().map { i, c in
            CaptionExample(productID: Int64(i), externalID: "x\(i)", split: .test,
                           attributes: Attributes(category: "ring", metal: "yellow-gold", gemstones: c.truth, style: "classic", finish: "polished"),
                           title: "", descriptions: ["A ring."], images: [])
        }
        let probabilities = cases.map {
            AttributeProbabilities(single: ["category": ["ring": 0.9], "metal": ["yellow-gold": 0.9], "style": ["classic": 0.9],
                                            "finish": ["polished": 0.9]], gemstones: $0.probabilities)
        }
        let drafts = probabilities.map { drafter.compose(ids: [], probabilities: $0) }
        let report = Evaluator.score(drafts: drafts, probabilities: probabilities, examples: examples, grounding: drafter.grounding,
                                      fields: drafter.model.config.fields, thresholds: drafter.model.config.thresholds)
        #expect(report.accuracy["gemstone"] == 0.75)
        #expect(report.colourAccuracy["gemstone"] == 1.0)  // diamond ≡ cubic zirconia
    }
}
