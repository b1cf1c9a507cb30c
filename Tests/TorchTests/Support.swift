import Foundation
import Testing
@testable import Torch

/// Debian's interpreter, which has python3-torch (a pyenv `python3` earlier on PATH does not).
let referencePython = "/usr/bin/python3"

/// Runs a Python script with Debian's python3-torch; returns stdout, fails the test on a non-zero exit.
@discardableResult
func runPython(_ script: String, _ arguments: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: referencePython)
    process.arguments = ["-c", script] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: output, as: UTF8.self)
    if process.terminationStatus != 0 {
        throw TorchError("python failed (\(process.terminationStatus)): \(String(decoding: errors, as: UTF8.self))")
    }
    return text
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func expectClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "lengths \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "max difference \(worst) > \(tolerance)", sourceLocation: sourceLocation)
}

func expectClose(_ a: [Double], _ b: [Double], tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "lengths \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    let worst = zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "max difference \(worst) > \(tolerance)", sourceLocation: sourceLocation)
}
