import Catalog
import Foundation
import Logging
import ServiceLifecycle

/// Deletes photos that no draft or product refers to once they are older than the grace period: what a
/// failed upload (database down after the photos were stored) leaves behind. Uploads in flight are
/// always younger than the grace period, and re-storing existing bytes refreshes their age.
public struct ObjectCollector: Service {
    let store: DirectoryObjectStore
    let drafts: any DraftStore
    let gracePeriod: Duration
    let interval: Duration
    let logger: Logger

    public init(store: DirectoryObjectStore, drafts: any DraftStore, gracePeriod: Duration, interval: Duration, logger: Logger) {
        (self.store, self.drafts, self.gracePeriod, self.interval, self.logger) = (store, drafts, gracePeriod, interval, logger)
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval) {
            do {
                _ = try await collect()
            } catch {
                logger.warning("object collection failed", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    /// One pass; returns the keys deleted.
    public func collect(now: Date = Date()) async throws -> [ObjectKey] {
        let cutoff = now.addingTimeInterval(-Double(gracePeriod.components.seconds))
        let candidates = try store.keys(modifiedBefore: cutoff)
        var deleted: [ObjectKey] = []
        for start in stride(from: 0, to: candidates.count, by: 500) {
            let batch = Array(candidates[start ..< min(start + 500, candidates.count)])
            let keep = try await drafts.referenced(batch, logger: logger)
            for key in batch where !keep.contains(key) {
                try await store.delete(key)
                deleted.append(key)
            }
        }
        if !deleted.isEmpty { logger.info("deleted orphaned objects", metadata: ["count": "\(deleted.count)"]) }
        return deleted
    }
}
