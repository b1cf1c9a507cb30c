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

    /// Settings that OpenBLAS and libgomp read only once, when they are loaded, so a process can change
    /// them only by starting again. When one of them needs changing (and the user has not set it), this
    /// sets it and re-executes the program with the same arguments; it returns when nothing needs
    /// changing or the restart failed.
    /// - `OPENBLAS_CORETYPE`: OpenBLAS picks its kernels by CPU model; on a model newer than the library
    ///   (Debian 12's 0.3.21 on current Xeons) it falls back to SSE3 kernels, several times slower for
    ///   every convolution and matrix product. Set to the CPU's family (`blasCore.suggested`).
    /// - `OMP_WAIT_POLICY=passive`, when `passiveThreadWaits`: libgomp's idle threads otherwise spin for
    ///   a while after each parallel region, taking a core from whatever else runs. A server shares its
    ///   two cores with request handlers and PostgreSQL while the beam search runs on one thread; passive
    ///   waits took uploads at concurrency 8 from 24 to 30 drafts/s (README, load).
    public static func restartForRuntimeSettingsIfNeeded(passiveThreadWaits: Bool = false) {
        let environment = ProcessInfo.processInfo.environment
        var settings: [(String, String)] = []
        if environment["OPENBLAS_CORETYPE"] == nil, let core = blasCore.suggested { settings.append(("OPENBLAS_CORETYPE", core)) }
        if passiveThreadWaits && environment["OMP_WAIT_POLICY"] == nil { settings.append(("OMP_WAIT_POLICY", "passive")) }
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        for (name, _) in settings { unsetenv(name) }  // execv returned: it failed; carry on as we are
    }

    /// glibc returns every freed block above 128 KiB–32 MiB (its adaptive mmap threshold) to the kernel,
    /// so each draft's activations were mapped, zeroed by page faults and unmapped again: a third of a
    /// batch's time went to the kernel. This keeps freed memory in the heap instead (blocks up to 512 MiB
    /// come from it, and it is trimmed only above 1 GiB free), so the process stays at its peak size.
    /// Measured (README, captioner speed): a batch of eight drafts 242 → 182–193 ms.
    public static func keepFreedMemory() {
        lt_keep_freed_memory(512 << 20, 1 << 30)
    }

    /// Caps the vector instructions of the shim's own kernels (the fused decoder's): 0 plain C++, 1 AVX2 +
    /// FMA, 2 AVX-512, the default (each level used only where the CPU has it). Returns the previous cap.
    /// Tests run every level; nothing else needs it.
    @discardableResult
    public static func setKernelLimit(_ level: Int) -> Int { Int(lt_kernel_limit(Int32(level))) }

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
