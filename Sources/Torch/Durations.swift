import Foundation

/// "42s", "3m5s", "1h12m": how progress lines and training logs show elapsed time and ETAs.
public func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
}

/// "20261123-114905": UTC time to the second, for model versions and run directories.
public func runTimestamp(_ date: Date = Date()) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyyMMdd-HHmmss"
    return f.string(from: date)
}

extension Duration {
    public var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }
    public var seconds: Double { Double(nanoseconds) / 1e9 }
}
