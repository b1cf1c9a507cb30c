import Foundation

/// Crash-safe file replacement: write a temporary file in the same directory, fsync it, rename it over
/// the destination, fsync the directory. A reader sees the old file or the new one, never a mix.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try data.write(to: temporary)
            try replace(url, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// fsyncs `temporary`, renames it to `url` and fsyncs the directory.
    public static func replace(_ url: URL, with temporary: URL) throws {
        try fsync(path: temporary.path)
        guard rename(temporary.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                            NSLocalizedDescriptionKey: "rename failed: \(String(cString: strerror(errno)))"])
        }
        try? fsync(path: url.deletingLastPathComponent().path)
    }

    static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        _ = Glibc.fsync(fd)
    }
}
