import PostgresNIO

/// The message a person can act on: the server's own text for a PostgreSQL error (unwrapping a failed
/// transaction to its cause), never connection internals.
func postgresMessage(_ error: any Error) -> String {
    if let tx = error as? PostgresTransactionError,
       let cause = tx.closureError ?? tx.commitError ?? tx.beginError ?? tx.rollbackError {
        return postgresMessage(cause)
    }
    if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] { return message }
    return String(describing: error)
}

/// The error that made a transaction fail: postgres-nio wraps what the closure (or BEGIN / COMMIT)
/// threw in a `PostgresTransactionError`; callers that map errors want the cause.
public func transactionCause(_ error: any Error) -> any Error {
    if let tx = error as? PostgresTransactionError, let cause = tx.closureError ?? tx.commitError ?? tx.beginError ?? tx.rollbackError {
        return transactionCause(cause)
    }
    return error
}
