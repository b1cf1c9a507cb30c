import Foundation
import Testing
@testable import Torch

@Suite struct TrainingRunTests {
    struct Options: Codable, ExtensibleTrainingOptions { var epochs = 3; var learningRate = 1e-3 }
    struct State: Codable, Equatable { var options: Options; var epoch: Int }

    /// `--resume` continues a saved run with the same options (a larger epoch count allowed where the
    /// trainer says so), starts afresh without one or without `--resume`, and refuses another run's state.
    @Test func resumesOnlyTheSameRun() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: run) }
        let url = run.appendingPathComponent("state.json")
        var options = Options()
        #expect(try TrainingRun.savedState(State.self, at: url, resume: true, isSameRun: { _ in true }) == nil)
        try JSONEncoder().encode(State(options: options, epoch: 2)).write(to: url)
        #expect(try TrainingRun.savedState(State.self, at: url, resume: false, isSameRun: { _ in true }) == nil)
        options.epochs = 10
        let saved = try TrainingRun.savedState(State.self, at: url, resume: true, isSameRun: { $0.options.isSameRun(as: options) })
        #expect(saved == State(options: Options(), epoch: 2))
        #expect(throws: TorchError.self) { try TrainingRun.savedState(State.self, at: url, resume: true, isSameRun: { $0.options == options }) }
        options.learningRate = 2e-3
        #expect { try TrainingRun.savedState(State.self, at: url, resume: true, isSameRun: { $0.options.isSameRun(as: options) }) } throws: {
            "\($0)".contains(run.lastPathComponent) && "\($0)".contains("other options")
        }
    }
}
