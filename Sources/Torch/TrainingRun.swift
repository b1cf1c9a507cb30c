import Foundation

/// The resume step every trainer shares: a run directory keeps `state.json` after each epoch, and
/// `--resume` continues from it only if it is the same run.
public enum TrainingRun {
    /// The state saved at `url` when `resume` is set and a readable one is there; nil to start afresh.
    /// A saved run that `isSameRun` rejects (other options) is an error naming the directory, so that a
    /// resumed run never mixes two runs' weights.
    public static func savedState<State: Decodable>(_: State.Type, at url: URL, resume: Bool, isSameRun: (State) -> Bool) throws -> State? {
        guard resume, let data = try? Data(contentsOf: url), let saved = try? JSONDecoder().decode(State.self, from: data) else { return nil }
        guard isSameRun(saved) else {
            throw TorchError("\(url.deletingLastPathComponent().path) was started with other options; use a new run directory")
        }
        return saved
    }
}

/// Training options with an epoch count that a resumed run may raise (a finished run can be extended).
public protocol ExtensibleTrainingOptions: Equatable {
    var epochs: Int { get set }
}

extension ExtensibleTrainingOptions {
    /// Equal but for the epoch count.
    public func isSameRun(as other: Self) -> Bool {
        var same = self
        same.epochs = other.epochs
        return same == other
    }
}
