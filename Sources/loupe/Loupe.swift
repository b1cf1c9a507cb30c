import ArgumentParser
import Foundation
import Torch

@main
struct Loupe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loupe",
        abstract: "Turns jewellery photos into draft marketplace listings.",
        subcommands: [MigrateCommand.self, CatalogCommand.self, FixturesCommand.self, ImageCommand.self, CheckpointCommand.self,
                      TrainCommand.self, DescribeCommand.self, EvalCommand.self, ServeCommand.self, UsersCommand.self, WorkerCommand.self, RetrainCommand.self, ModelsCommand.self, GANCommand.self, SentimentCommand.self, ReviewsCommand.self, SelfCheck.self, Bench.self]
    )

    /// Before anything runs: OpenBLAS on this CPU's vector kernels and, for `serve`, OpenMP threads that
    /// sleep when idle (may re-execute); freed memory kept for reuse.
    static func main() async {
        LibTorch.restartForRuntimeSettingsIfNeeded(passiveThreadWaits: CommandLine.arguments.dropFirst().first == "serve")
        LibTorch.keepFreedMemory()
        await main(nil)
    }
}

/// Options every command that runs libtorch shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "libtorch threads (default: LOUPE_THREADS or every core).")
    var threads: Int?

    @Option(help: "Seed for libtorch's generator.")
    var seed: UInt64 = 0

    func apply() throws {
        if let threads {
            try LibTorch.setThreads(threads)
        } else {
            LibTorch.configureThreads(environment: ProcessInfo.processInfo.environment)
        }
        LibTorch.manualSeed(seed)
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
