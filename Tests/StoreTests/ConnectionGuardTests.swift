import Foundation
import LoupeTestSupport
import PostgresNIO
@testable import Store
import Synchronization
import Testing

/// The guard around pooled connections: a query written after the server closed the connection must fail
/// (postgres-nio 1.33.2 drops it and its caller would wait forever); work that finished keeps its result.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionGuardTests {
    /// Ends the backend serving `pid` the way a PostgreSQL shutdown does (FATAL 57P01, then the socket
    /// closes), from another connection, and waits until `connection` has seen the close.
    func terminate(_ pid: Int32, of connection: PostgresConnection, with client: PostgresClient) async throws {
        let ended = try await client.rows("SELECT pg_terminate_backend(\(pid))", logger: testLogger).decode(Bool.self)
        #expect(ended == [true])
        for _ in 0..<200 where !connection.isClosed { try await Task.sleep(for: .milliseconds(10)) }
        #expect(connection.isClosed)
        // Past the close, the channel drops its handlers: from here a write is refused without an answer.
        try await Task.sleep(for: .milliseconds(200))
    }

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

    func backendPID(_ connection: PostgresConnection) async throws -> Int32 {
        try await connection.query("SELECT pg_backend_pid()", logger: testLogger).collect().decode(Int32.self)[0]
    }

    @Test func aQueryAfterTheServerClosedTheTransactionsConnectionFailsInsteadOfWaiting() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 3) { client in
                try await client.rows("CREATE TABLE t (n int)", logger: testLogger)
                let started = ContinuousClock.now
                let outcome = await finishes(within: .seconds(20)) {
                    try await client.transaction(logger: testLogger) { tx in
                        try await tx.query("INSERT INTO t VALUES (1)", logger: testLogger)
                        try await terminate(try await backendPID(tx), of: tx, with: client)
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
                    let pid = try await backendPID(connection)
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

    @Test func aReadIsRepeatedOnceOnAnotherConnectionWhenItsConnectionWasLost() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 2) { client in
                let attempts = Mutex(0)
                // Lost once: the second attempt's answer comes back.
                let value = try await client.reading(logger: testLogger) { connection in
                    let n = attempts.withLock { $0 += 1; return $0 }
                    if n == 1 { throw DatabaseConnectionLost(connectionID: connection.id) }
                    return try await connection.query("SELECT 41 + 1", logger: testLogger).collect().decode(Int.self)[0]
                }
                #expect(value == 42 && attempts.withLock { $0 } == 2)
                // Lost twice: the second loss is the answer.
                attempts.withLock { $0 = 0 }
                await #expect(throws: DatabaseConnectionLost.self) {
                    try await client.reading(logger: testLogger) { connection -> Int in
                        attempts.withLock { $0 += 1 }
                        throw DatabaseConnectionLost(connectionID: connection.id)
                    }
                }
                #expect(attempts.withLock { $0 } == 2)
                // A failing statement is not a lost connection: no second try.
                attempts.withLock { $0 = 0 }
                await #expect(throws: PSQLError.self) {
                    try await client.reading(logger: testLogger) { connection in
                        attempts.withLock { $0 += 1 }
                        try await connection.query("SELECT * FROM missing_table", logger: testLogger)
                    }
                }
                #expect(attempts.withLock { $0 } == 1)
            }
        }
    }

    @Test func whatCountsAsALostConnection() async throws {
        try await TestDatabase.with { db in
            #expect(isConnectionLoss(DatabaseConnectionLost(connectionID: 0)))
            #expect(!isConnectionLoss(CancellationError()))
            try await db.configuration.withConnection(logger: testLogger) { connection in
                do {
                    try await connection.query("SELECT * FROM missing_table", logger: testLogger)
                    Issue.record("no error")
                } catch {
                    #expect(!isConnectionLoss(error), "\(String(reflecting: error))")   // 42P01: the statement's own fault
                }
                do {
                    try await connection.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: testLogger)
                    try await connection.query("SELECT 1", logger: testLogger)
                    Issue.record("no error")
                } catch {
                    #expect(isConnectionLoss(error), "\(String(reflecting: error))")    // 57P01, or the closed connection
                }
            }
        }
    }

    /// After its backend is ended the pool may still lend the dead connection for a moment; a read
    /// then goes to another one instead of failing. (The race is timing-bound: without the repeat all 8 rounds
    /// passed in each of 3 runs here, while the same pattern after a transaction failed in 2 of 6 runs;
    /// the repeat's logic is pinned by the test above.)
    @Test func readsRightAfterTheServerEndedThePoolsConnectionSucceed() async throws {
        try await TestDatabase.with { db in
            try await db.withClient(connections: 1) { client in
                for _ in 0..<8 {
                    // The backend is ended while the connection is still lent, so it goes back to the pool
                    // about as the close arrives.
                    // `reading`: this lease itself may be lent the previous round's dead connection.
                    try await client.reading(logger: testLogger) { connection in
                        let pid = try await backendPID(connection)
                        try await db.configuration.withConnection(logger: testLogger) { other in
                            _ = try await other.query("SELECT pg_terminate_backend(\(pid))", logger: testLogger).collect()
                        }
                    }
                    #expect(try await client.read("SELECT 7", logger: testLogger).decode(Int.self) == [7])
                }
            }
        }
    }
}

