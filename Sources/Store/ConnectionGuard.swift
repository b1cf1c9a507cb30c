import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The connection an operation ran on closed under it (PostgreSQL stopped or restarted, the backend was
/// terminated, the network dropped) and the operation did not finish by itself: nothing after the close
/// was committed on that connection; the caller may try again on a new one.
public struct DatabaseConnectionLost: Error, CustomStringConvertible {
    public let connectionID: PostgresConnection.ID
    public var description: String { "the database connection \(connectionID) closed during the operation" }
}

// Why this file exists. postgres-nio 1.33.2 sends a query with `channel.write(task, promise: nil)`. Once a
// connection's channel has closed and its handlers are gone (the server sent FATAL 57P01 on shutdown, say,
// while the caller was between two queries of a transaction), the write is refused by the channel and the
// query's own promise is never completed: the caller waits forever, and so does the graceful shutdown
// that waits for it (upstream: vapor/postgres-nio#497, open). Measured here with `loupe serve` under
// uploads while PostgreSQL was stopped and started: 4 of 12 runs, then 1 of 3, left uploads waiting for ever.
//
// `guarded` runs the operation in its own task and watches the connection: if the connection closes and
// the operation has not finished `grace` later, the caller gets `DatabaseConnectionLost` and the stuck
// task is abandoned (it holds only what the operation captured). An operation whose query failed
// normally finishes within microseconds of the close, and one whose COMMIT was answered before the
// close keeps its result, so the grace only matters for the stuck case.

extension PostgresConnection {
    /// Runs `body` on this connection; fails with `DatabaseConnectionLost` if the connection closes and
    /// `body` has not finished `grace` later (a query written after the close would never answer).
    public func guarded<R: Sendable>(grace: Duration = ConnectionWatch.defaultGrace,
                                     _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        let outcome = GuardedOutcome<R>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
                outcome.install(continuation)
                let id = self.id
                let token = ConnectionWatch.shared.watch(self, grace: grace) {
                    outcome.finish(.failure(DatabaseConnectionLost(connectionID: id)))
                }
                outcome.start(Task {
                    let result: Result<R, any Error>
                    do { result = .success(try await body(self)) } catch { result = .failure(error) }
                    ConnectionWatch.shared.forget(self, token: token)
                    outcome.finish(result)
                })
            }
        } onCancel: {
            outcome.cancel()
        }
    }
}

extension PostgresClient {
    /// `withConnection`, guarded: fails with `DatabaseConnectionLost` instead of waiting forever when the
    /// leased connection closes under `body`.
    public func leasing<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        try await withConnection { connection in try await connection.guarded(body) }
    }

    /// `withTransaction`, guarded the same way (BEGIN, `body`, COMMIT; ROLLBACK when `body` throws).
    public func transaction<R: Sendable>(logger: Logger,
                                         _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        try await leasing { try await $0.withTransaction(logger: logger) { try await body($0) } }
    }

    /// One query on a leased connection, guarded, its rows read to the end (so the lease is returned).
    public func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await leasing { try await $0.query(query, logger: logger).collect() }
    }
}

extension Array where Element == PostgresRow {
    /// Each row's one column.
    public func decode<Column: PostgresDecodable>(_ column: Column.Type, file: String = #fileID, line: Int = #line) throws -> [Column] {
        try map { try $0.decode(column, file: file, line: line) }
    }

    /// Each row decoded as the given columns, like `PostgresRowSequence.decode`.
    public func decode<each Column: PostgresDecodable>(_ columns: (repeat each Column).Type,
                                                       file: String = #fileID, line: Int = #line) throws -> [(repeat each Column)] {
        try map { try $0.decode(columns, file: file, line: line) }
    }
}

/// One close watcher per open connection (a callback on `closeFuture` per operation would pile up on a
/// pooled connection that lives for hours): the operations running on it when it closes are told,
/// `grace` later. The table holds each connection it watches until then, so no new connection can reuse
/// its address as the key while the old one is still listed.
public final class ConnectionWatch: Sendable {
    public static let defaultGrace: Duration = .seconds(2)
    static let shared = ConnectionWatch()

    private struct Watched {
        let connection: PostgresConnection
        var waiting: [UInt64: @Sendable () -> Void] = [:]
    }
    private struct State {
        var next: UInt64 = 0
        var connections: [ObjectIdentifier: Watched] = [:]
    }
    private let state = Mutex(State())

    /// Operations waiting on some connection now (the tests check that finished ones leave nothing).
    var waitingCount: Int { state.withLock { $0.connections.values.reduce(0) { $0 + $1.waiting.count } } }

    func watch(_ connection: PostgresConnection, grace: Duration, onLost: @escaping @Sendable () -> Void) -> UInt64 {
        let key = ObjectIdentifier(connection)
        let (token, first) = state.withLock { state -> (UInt64, Bool) in
            state.next += 1
            let first = state.connections[key] == nil
            if first { state.connections[key] = Watched(connection: connection) }
            state.connections[key]!.waiting[state.next] = onLost
            return (state.next, first)
        }
        if first {
            // Runs at once if the connection has closed already.
            connection.closeFuture.whenComplete { _ in
                Task {
                    try? await Task.sleep(for: grace)
                    let lost = self.state.withLock { $0.connections.removeValue(forKey: key)?.waiting.values.map { $0 } ?? [] }
                    for tell in lost { tell() }
                }
            }
        }
        return token
    }

    func forget(_ connection: PostgresConnection, token: UInt64) {
        _ = state.withLock { $0.connections[ObjectIdentifier(connection)]?.waiting.removeValue(forKey: token) }
    }
}

/// The caller's continuation, resumed once: by the operation's result or by the connection's loss.
final class GuardedOutcome<R: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<R, any Error>?
        var finished = false
        var work: Task<Void, Never>?
        var cancelled = false
    }
    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<R, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func start(_ work: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.work = work
            return state.cancelled
        }
        if cancelNow { work.cancel() }
    }

    func cancel() {
        let work = state.withLock { state -> Task<Void, Never>? in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }

    func finish(_ result: Result<R, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<R, any Error>? in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil; state.work = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}
