import Captioner
import Catalog
import Foundation
@testable import Retraining
import Store
import Testing

@Suite struct PromotionGuardTests {
    func report(bleu4: Double, rouge: Double, metal: Double, violations: Int = 0, falseClaims: Int = 0) -> EvaluationReport {
        var r = EvaluationReport()
        r.examples = 50
        r.bleu = [0.8, 0.7, 0.6, bleu4]
        r.rougeL = rouge
        r.accuracy = ["category": 0.98, "metal": metal, "gemstone": 0.9]
        r.groundingViolations = violations
        r.falseClaims = falseClaims
        return r
    }

    @Test func notWorseWithinToleranceIsPromoted() {
        let active = report(bleu4: 0.40, rouge: 0.46, metal: 0.61)
        let verdict = PromotionGuard(tolerance: 0.01).judge(candidate: report(bleu4: 0.395, rouge: 0.47, metal: 0.80), active: active)
        #expect(verdict.promote, "\(verdict.reasons)")
        #expect(verdict.comparisons.count == 2 + 3 + 2)
    }

    @Test func eachWorseFigureIsAReason() {
        let active = report(bleu4: 0.40, rouge: 0.46, metal: 0.61, violations: 0, falseClaims: 2)
        let candidate = report(bleu4: 0.38, rouge: 0.46, metal: 0.50, violations: 1, falseClaims: 3)
        let verdict = PromotionGuard(tolerance: 0.01).judge(candidate: candidate, active: active)
        #expect(!verdict.promote)
        #expect(verdict.reasons == ["BLEU-4 0.380 < active 0.400 − 0.010", "metal accuracy 0.500 < active 0.610 − 0.010",
                                    "grounding violations 1 > active 0", "false claims 3 > active 2"])
        // A looser tolerance forgives the small drop but never the metal regression.
        let loose = PromotionGuard(tolerance: 0.05, violationTolerance: 1, falseClaimTolerance: 1).judge(candidate: candidate, active: active)
        #expect(loose.reasons == ["metal accuracy 0.500 < active 0.610 − 0.050"])
    }

    func listing(_ id: Int64, metal: String, description: String, edited: [String] = [], disputed: [String] = [],
                 generated: String? = "A yellow gold ring.") -> ListingExample {
        ListingExample(listingID: id, productID: 100 + id, split: .train, title: "Ring", description: description, generatedDescription: generated,
                       attributes: Attributes(category: "ring", metal: metal, gemstones: ["none"], style: "classic", finish: "polished"),
                       images: [ObjectKey(digestOf: Data("\(id)".utf8))], editedFields: edited, disputedFields: disputed)
    }

    @Test func listingsTeachOnlyConsistentApprovedText() {
        let (examples, uses) = ListingSelection.select([
            // Corrected metal and text: trained on, the replaced text kept for analysis only.
            listing(1, metal: "rose-gold", description: "A rose gold ring.", edited: ["description", "metal"]),
            // Label corrected but the text still says yellow gold: excluded.
            listing(2, metal: "rose-gold", description: "A yellow gold ring.", edited: ["metal"]),
            // The artisan says the moderator's metal is wrong: excluded.
            listing(3, metal: "yellow-gold", description: "A gold ring.", disputed: ["metal"]),
            // Approved unchanged: its text is the moderator's final text.
            listing(4, metal: "yellow-gold", description: "A yellow gold ring."),
        ], grounding: Grounding())
        #expect(examples.map(\.productID) == [101, 104])
        #expect(examples[0].descriptions == ["A rose gold ring."] && examples[0].attributes.metal == "rose-gold")
        #expect(uses.map(\.used) == [true, false, false, true])
        #expect(uses[0].replacedText == "A yellow gold ring." && uses[0].correctedFields == ["description", "metal"])
        #expect(uses[3].replacedText == nil)
        #expect(uses[1].reason == "the published text names metal yellow-gold against its labels")
        #expect(uses[2].reason == "the artisan's feedback disputes metal")
        #expect(!examples.contains { $0.descriptions.contains("A yellow gold ring.") && $0.attributes.metal == "rose-gold" })
    }
}
