import CTorch
import Foundation

/// Process-wide libtorch settings.
public enum LibTorch {
    /// libtorch's version string (Debian ships 1.13.x).
    public static var version: String { String(cString: lt_version()) }

    /// Intra- and inter-op thread counts. Debian's build starts with one thread, so Loupe always sets
    /// this explicitly (`configureThreads()` at start-up).
    public static var threads: Int { Int(lt_get_num_threads()) }

    public static func setThreads(_ count: Int) throws {
        try check(lt_set_num_threads(Int32(count)))
    }

    /// Sets the thread count from `LOUPE_THREADS`, defaulting to every core. (Inter-op threads can only
    /// be set once per process; the shim keeps the first value.)
    @discardableResult
    public static func configureThreads(environment: [String: String] = [:]) -> Int {
        let requested = environment["LOUPE_THREADS"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
        try? setThreads(max(1, requested))
        return threads
    }

    /// The OpenBLAS kernel family in use ("SkylakeX", "Haswell", "Prescott", …) and the one this CPU
    /// should use instead when OpenBLAS fell back to pre-AVX kernels (nil: no change needed). Both nil
    /// when the BLAS is not OpenBLAS.
    public static var blasCore: (current: String?, suggested: String?) {
        var name = [CChar](repeating: 0, count: 64)
        let suggested = lt_blas_core_suggestion(&name, name.count).map { String(cString: $0) }
        return (name[0] == 0 ? nil : String(cString: name), suggested)
    }

    /// OpenBLAS picks its kernels once, when it is loaded, by CPU model; on a model newer than the
    /// library (Debian 12's 0.3.21 on current Xeons) it falls back to SSE3 kernels, several times
    /// slower for every convolution and matrix product. When that happened and `OPENBLAS_CORETYPE` is
    /// unset, this sets it to the CPU's family and re-executes the program (same arguments), so the
    /// library loads again with the right kernels. Returns when no restart is needed or the restart
    /// failed. Setting `OPENBLAS_CORETYPE` yourself (any value) turns it off.
    public static func restartForBLASKernelsIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let core = blasCore.suggested else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // execv returned: it failed; carry on with the kernels we have
    }

    /// Seeds libtorch's global generator (randn, rand, dropout, randperm, normal_/uniform_).
    public static func manualSeed(_ seed: UInt64) {
        _ = try? check(lt_manual_seed(seed))
    }

    public static var isGradEnabled: Bool { lt_is_grad_enabled() != 0 }
}

/// Runs `body` with gradient recording off, restoring the previous mode afterwards. Grad mode is
/// thread-local in libtorch, so the body is synchronous.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = lt_is_grad_enabled()
    lt_set_grad_enabled(0)
    defer { lt_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` with gradient recording on (inside a no-grad scope, for example).
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = lt_is_grad_enabled()
    lt_set_grad_enabled(1)
    defer { lt_set_grad_enabled(previous) }
    return try body()
}
