import Catalog
import Foundation
import Logging
import Store

/// What the service needs from the database for drafts. `DraftRepository` (PostgreSQL) is the one
/// implementation; tests wrap it to make a step fail.
public protocol DraftStore: Sendable {
    func create(_ new: NewDraft, logger: Logger) async throws -> DraftRecord
    func find(id: Int64, scope: DraftScope, logger: Logger) async throws -> DraftRecord
    func list(status: DraftStatus?, scope: DraftScope, before: Int64?, limit: Int, logger: Logger) async throws -> [DraftRecord]
    func queue(order: DraftRepository.QueueOrder, limit: Int, logger: Logger) async throws -> [DraftRecord]
    // Writes return the draft read inside their transaction: no read after the commit that could fail.
    func edit(id: Int64, changes: [DraftField: FieldValue], by user: User, logger: Logger) async throws -> DraftRecord
    func approve(id: Int64, by user: User, logger: Logger) async throws -> DraftRecord
    func reject(id: Int64, reason: String, by user: User, logger: Logger) async throws -> DraftRecord
    func feedback(id: Int64, rating: Int, corrections: [DraftField: FieldValue], comment: String, by user: User,
                  logger: Logger) async throws -> (FeedbackRecord, created: Bool)
    func listings(before: Int64?, limit: Int, logger: Logger) async throws -> [ListingRecord]
    func listing(id: Int64, logger: Logger) async throws -> ListingRecord?
    func countsByStatus(logger: Logger) async throws -> [DraftStatus: Int]
    func referenced(_ keys: [ObjectKey], logger: Logger) async throws -> Set<ObjectKey>
}

extension DraftRepository: DraftStore {}
