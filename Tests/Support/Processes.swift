import Foundation

/// Starts `process` and returns a semaphore signalled when it exits. Waiting on it instead of
/// `waitUntilExit()` keeps Foundation's run loop off Swift concurrency's threads. One clean-clone CI
/// run hung with every thread idle while tests waited that way; the run loop is a suspect, not a proven cause.
public func launch(_ process: Process) throws -> DispatchSemaphore {
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    return exited
}

/// Runs a program to completion; returns its status, standard output and standard error.
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let exited = try launch(process)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    exited.wait()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The same off Swift concurrency's threads: for tests whose in-process server must keep answering
/// while the program runs.
public func runProcess(_ executable: URL, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try runProcess(executable, arguments) }) }
    }
}

/// `/bin/sh -c command`.
@discardableResult
public func shell(_ command: String) throws -> (status: Int32, stdout: String) {
    let result = try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
    return (result.status, result.stdout)
}

extension DispatchSemaphore {
    /// Waits off Swift concurrency's threads: a blocked cooperative thread (there are as many as cores)
    /// can starve every other test running beside this one.
    public func waitAsync() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { self.wait(); continuation.resume() }
        }
    }
}
