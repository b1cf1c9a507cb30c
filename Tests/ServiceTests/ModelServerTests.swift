import Captioner
import Foundation
import Imaging
import LoupeTestSupport
import Service
import Testing

/// The model server drafts uploads that arrive together as one batch, each as it would be drafted alone.
@Suite struct ModelServerTests {
    @Test func concurrentUploadsAreBatchedAndEachGetsItsOwnDraft() async throws {
        let url = try TinyModels.file(version: "tiny-a")
        let server = ModelServer(beam: 2, maxBatch: 4, logger: testLogger)
        #expect(server.inputSide == nil)
        try await server.load(ModelInfo(id: nil, version: "", path: url.path))
        #expect(server.inputSide == 64, "uploads are decoded reduced to the served model's input side")
        // Eight uploads, one of them with two photos (probabilities averaged, text from the first).
        let photos = try (1 ... 9).map { try RGBImage(decoding: fixturePhoto($0)) }
        let uploads: [[RGBImage]] = (0 ..< 7).map { [photos[$0]] } + [[photos[7], photos[8]]]
        let alone = try Drafter(contentsOf: url)
        let expected = try uploads.map { try alone.describe($0, options: DecodingOptions(beamWidth: 2)) }
        let generated = try await withThrowingTaskGroup(of: (Int, GeneratedDraft).self) { group in
            for (i, upload) in uploads.enumerated() {
                group.addTask { (i, try await server.generate(upload)) }
            }
            var out = [GeneratedDraft?](repeating: nil, count: uploads.count)
            for try await (i, draft) in group { out[i] = draft }
            return out.map { $0! }
        }
        for (got, want) in zip(generated.map(\.draft), expected) {
            #expect(got.title == want.title && got.description == want.description)
            #expect(got.category.value == want.category.value && abs(got.category.confidence - want.category.confidence) < 1e-5)
            #expect(got.attributes.metal.value == want.attributes.metal.value
                    && abs(got.attributes.metal.confidence - want.attributes.metal.confidence) < 1e-5)
            #expect(got.attributes.gemstones.map(\.value) == want.attributes.gemstones.map(\.value))
            #expect(got.needsReview == want.needsReview)
        }
        #expect(generated.allSatisfy { (1 ... 4).contains($0.batch) })
        #expect(generated.contains { $0.batch > 1 }, "uploads waiting behind a batch go together: \(generated.map(\.batch))")
        // The two-photo upload's draft is not a one-photo one.
        let primaryOnly = try alone.describe(photos[7], options: DecodingOptions(beamWidth: 2))
        #expect(abs(primaryOnly.category.confidence - expected[7].category.confidence) > 1e-6)
    }

    /// Eight clients, each sending its next upload as soon as its draft comes back: once the server has
    /// seen all eight (its last batch plus those left waiting), every batch waits for all eight, instead
    /// of settling into groups that take turns (7 and 1, 4 and 4).
    @Test func aClosedLoopOfEightIsDraftedInBatchesOfEight() async throws {
        let url = try TinyModels.file(version: "tiny-a")
        let server = ModelServer(beam: 1, maxBatch: 8, gatherWindow: .seconds(2), logger: testLogger)
        try await server.load(ModelInfo(id: nil, version: "", path: url.path))
        let photo = try RGBImage(decoding: fixturePhoto(1), reducedTo: 64)
        let rounds = 6
        let batches = try await withThrowingTaskGroup(of: [Int].self) { group in
            for client in 0 ..< 8 {
                group.addTask {
                    var sizes: [Int] = []
                    for round in 0 ..< rounds {
                        // Clients start spread out, and one is always a little late: the groups that took turns.
                        if round == 0 || client == 7 { try await Task.sleep(for: .milliseconds(client == 7 ? 3 : client)) }
                        sizes.append(try await server.generate([photo]).batch)
                    }
                    return sizes
                }
            }
            var all: [[Int]] = []
            for try await sizes in group { all.append(sizes) }
            return all
        }
        // Rounds 2-4 of every client (the first client started alone, so it ends a round ahead and the
        // others' last round is a batch of seven).
        #expect(batches.allSatisfy { $0.dropFirst(2).dropLast().allSatisfy { $0 == 8 } }, "\(batches)")
    }

    @Test func withoutAModelEveryWaitingUploadIsRefused() async throws {
        let server = ModelServer(beam: 2, logger: testLogger)
        let photo = try RGBImage(decoding: fixturePhoto(1))
        await #expect(throws: ModelUnavailable.self) { try await server.generate([photo]) }
    }
}
