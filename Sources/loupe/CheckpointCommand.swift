import ArgumentParser
import Foundation
import Torch

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Inspect PyTorch checkpoints.", subcommands: [Info.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the tensors of a torch.save file (zip or legacy format): name, dtype, shape.")

        @Argument(help: "Checkpoint file (.pt, .pth).") var file: String
        @Option(help: "Print at most this many tensors (0: all).") var limit = 0

        func run() throws {
            let tensors = try Checkpoint.load(from: URL(fileURLWithPath: file))
            let shown = limit > 0 ? Array(tensors.prefix(limit)) : tensors
            for (name, tensor) in shown {
                print("\(name)\t\(tensor.dtype)\t\(tensor.shape.map(String.init).joined(separator: "x"))")
            }
            if shown.count < tensors.count { print("… \(tensors.count - shown.count) more") }
            let elements = tensors.reduce(0) { $0 + $1.tensor.count }
            print("\(tensors.count) tensors, \(elements) elements")
        }
    }
}
