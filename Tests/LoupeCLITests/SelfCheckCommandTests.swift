import Foundation
import LoupeTestSupport
import Testing
import Torch

/// `loupe selfcheck`, and the BLAS kernels every `loupe` command ends up on.
struct SelfCheckCommandTests {
    /// OpenBLAS 0.3.21 falls back to its SSE3 ("Prescott") kernels on CPU models newer than it knows,
    /// and `loupe` then re-executes itself with OPENBLAS_CORETYPE set. This test process is not
    /// re-executed, so it sees what OpenBLAS chose alone: the CLI must run on the suggested kernels when
    /// there is a suggestion, and on the same ones when there is none. Setting OPENBLAS_CORETYPE turns
    /// the restart off (with a warning from selfcheck).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, "needs OpenBLAS's own choice"))
    func runsOnTheKernelsTheCPUSupports() throws {
        let own = LibTorch.blasCore
        let expected = own.suggested ?? own.current
        let result = try runLoupe(["selfcheck", "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains(expected.map { "BLAS: OpenBLAS, \($0) kernels" } ?? "BLAS: not OpenBLAS"), "\(lines)")
        #expect(lines.last == "selfcheck passed")
        #expect(!result.stderr.contains("warning"))

        guard own.suggested != nil else { return }  // a CPU OpenBLAS knows: nothing to force
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = "Prescott"
        let forced = try runProcess(loupeExecutable(), ["selfcheck", "--threads", "1"], environment: environment)
        #expect(forced.status == 0)
        #expect(forced.stdout.contains("BLAS: OpenBLAS, Prescott kernels"))
        #expect(forced.stderr.contains("warning: OpenBLAS runs its Prescott kernels"))
    }
}
