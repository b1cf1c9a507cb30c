import Foundation

/// Crash-safe file replacement: write a temporary file, fsync it, rename it over the destination, fsync
/// the destination's directory. A reader sees the old file or the new one, never a mix.
public enum AtomicFile {
    /// `produce` writes the temporary file at the URL it is given. The temporary file lives in
    /// `temporaryDirectory` (default: the destination's directory; it must be on the same filesystem) and
    /// is removed if anything fails.
    public static func write(to url: URL, temporaryDirectory: URL? = nil, _ produce: (URL) throws -> Void) throws {
        let directory = temporaryDirectory ?? url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try produce(temporary)
            try fsync(path: temporary.path)
            guard rename(temporary.path, url.path) == 0 else { throw failure("rename to \(url.path)") }
            try? fsync(path: url.deletingLastPathComponent().path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public static func write(_ data: Data, to url: URL, temporaryDirectory: URL? = nil) throws {
        try write(to: url, temporaryDirectory: temporaryDirectory) { try data.write(to: $0, options: .withoutOverwriting) }
    }

    static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure("open \(path)") }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw failure("fsync \(path)") }
    }

    static func failure(_ what: String) -> CocoaError {
        CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(what) failed: \(String(cString: strerror(errno)))"])
    }
}
