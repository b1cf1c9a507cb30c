import Foundation
import LoupeTestSupport
import PostgresNIO
@testable import Store
import Testing

/// The guard around pooled connections: a query written after the server closed the connection must fail
/// (postgres-nio 1.33.2 drops it and its caller would wait forever); work that finished keeps its result.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionGuardTests {
    /// The body's outcome, or nil if it has not finished within `limit` (it is then left running).
    func finishes<R: Sendable>(within limit: Duration, _ body: @escaping @Sendable () async throws -> R) async -> Result<R, any Error>? {
        let (stream, continuation) = AsyncStream<Result<R, any Error>?>.makeStream()
        Task {
            do { continuation.yield(.success(try await body())) } catch { continuation.yield(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            continuation.yield(nil)
        }
        defer { timer.cancel() }
        for await first in stream { return first }
        return nil
    }

    @Test func aQueryAfterTheServerClosedTheTransactionsConnectionFailsInsteadOfWaiting() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 3) { client in
                try await client.rows("CREATE TABLE t (n int)", logger: testLogger)
                let started = ContinuousClock.now
                let outcome = await finishes(within: .seconds(20)) {
                    try await client.transaction(logger: testLogger) { tx in
                        try await tx.query("INSERT INTO t VALUES (1)", logger: testLogger)
                        #expect(try await tx.endBackend(using: client))
                        try await tx.query("INSERT INTO t VALUES (2)", logger: testLogger)
                    }
                }
                let waited = ContinuousClock.now - started
                let result = try #require(outcome, "the transaction was still waiting after \(waited)")
                #expect(throws: DatabaseConnectionLost.self) { try result.get() }
                #expect(waited < .seconds(10), "failed after \(waited)")
                // Nothing of the transaction was committed, and the pool serves the next request.
                #expect(try await client.rows("SELECT count(*)::int FROM t", logger: testLogger).decode(Int.self) == [0])
                #expect(ConnectionWatch.shared.waitingCount == 0)
            }
        }
    }

    @Test func workThatFinishedBeforeTheConnectionClosedKeepsItsResult() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 3) { client in
                try await client.rows("CREATE TABLE t (n int)", logger: testLogger)
                // Committed, then the connection is ended while the body is still finishing: the body's
                // own result comes back, not a lost connection (a 503 for a draft that exists invites a duplicate).
                let value = try await client.leasing { connection in
                    try await connection.withTransaction(logger: testLogger) { tx in
                        try await tx.query("INSERT INTO t VALUES (7)", logger: testLogger)
                    }
                    let pid = try await connection.backendPID()
                    _ = try await client.rows("SELECT pg_terminate_backend(\(pid))", logger: testLogger)
                    return 7
                }
                #expect(value == 7)
                // The pool learns of the close a moment later (until then it may lend the closed connection,
                // and that query fails with clientClosedConnection: a 503, not a hang).
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await client.rows("SELECT n FROM t", logger: testLogger).decode(Int.self) == [7])
                // Errors of the body pass through unchanged.
                await #expect(throws: PSQLError.self) {
                    try await client.rows("SELECT * FROM missing_table", logger: testLogger)
                }
                #expect(ConnectionWatch.shared.waitingCount == 0)
            }
        }
    }

    @Test func rowsDecodeLikeTheRowSequence() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 2) { client in
                let rows = try await client.rows("SELECT n, 'r' || n, NULLIF(n, 2) FROM generate_series(1, 3) AS n", logger: testLogger)
                let decoded = try rows.decode((Int, String, Int?).self)
                #expect(decoded.map(\.0) == [1, 2, 3] && decoded.map(\.1) == ["r1", "r2", "r3"] && decoded.map(\.2) == [1, nil, 3])
                #expect(throws: (any Error).self) { try rows.decode(Date.self) }
            }
        }
    }
}
