import Foundation
import Logging
import PostgresNIO
import Store

/// Runs one kind of job. Returns the result as JSON text.
public protocol JobHandler: Sendable {
    func run(_ job: Job, context: JobContext) async throws -> String
}

/// Why a running job was told to stop.
public enum StopReason: Error, CustomStringConvertible, Sendable, Equatable {
    /// The worker is shutting down: the job is handed back without counting the attempt.
    case shutdown
    /// Another worker took the job over (this one's heartbeat lapsed).
    case leaseLost

    public var description: String {
        switch self {
        case .shutdown: "the worker is shutting down"
        case .leaseLost: "the job's lease was lost to another worker"
        }
    }
}

/// What a running job sees of its worker: the database, a logger, a place for its progress line (sent
/// with each heartbeat) and the stop signal, which long computations poll through `checkStop`.
public final class JobContext: @unchecked Sendable {
    public let client: PostgresClient
    public let logger: Logger
    private let lock = NSLock()
    private var _progress = ""
    private var _stop: StopReason?
    private let queue = DispatchQueue(label: "loupe.worker.compute")

    init(client: PostgresClient, logger: Logger) { (self.client, self.logger) = (client, logger) }

    public func report(_ progress: String) { lock.withLock { _progress = progress } }
    var progress: String { lock.withLock { _progress } }

    func stop(_ reason: StopReason) { lock.withLock { if _stop == nil { _stop = reason } } }
    var stopReason: StopReason? { lock.withLock { _stop } }

    /// Throws the stop reason once the job has been told to stop.
    public func checkStop() throws { if let reason = stopReason { throw reason } }

    /// Runs CPU-bound work (training, evaluation) on a thread of its own, off the concurrency pool, so
    /// heartbeats and the database keep going meanwhile.
    public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Claims jobs from the queue and runs them, one at a time, sending a heartbeat (with the job's
/// progress) every `lease / 3`. A job that throws is recorded as a failed attempt (queued again while
/// attempts remain); on shutdown the running job is asked to stop and handed back.
public final class Worker: Sendable {
    public let name: String
    let queue: JobQueue
    let handlers: [JobKind: any JobHandler]
    let lease: Duration
    let poll: Duration
    let logger: Logger
    private let shutdown = ShutdownFlag()

    public init(name: String, queue: JobQueue, handlers: [JobKind: any JobHandler], lease: Duration = .seconds(60),
                poll: Duration = .seconds(5), logger: Logger) {
        precondition(lease >= .seconds(1), "the lease is at least a second")
        (self.name, self.queue, self.handlers, self.lease, self.poll, self.logger) = (name, queue, handlers, lease, poll, logger)
    }

    /// Asks the worker to stop: it claims nothing more and stops the running job.
    public func requestShutdown() { shutdown.set() }

    /// Runs until shut down; with `once`, until one job has been run (or, when `exitWhenIdle`, until the
    /// queue has nothing to claim). Returns the number of jobs run.
    @discardableResult
    public func run(once: Bool = false, exitWhenIdle: Bool = false) async throws -> Int {
        var ran = 0
        logger.info("worker started", metadata: ["worker": "\(name)", "lease_s": "\(lease.components.seconds)"])
        while !shutdown.isSet {
            let job: Job?
            do {
                job = try await queue.claim(worker: name, kinds: Array(handlers.keys), lease: lease, logger: logger)
            } catch {
                logger.warning("cannot claim jobs", metadata: ["error": "\(String(reflecting: error))"])
                job = nil
            }
            if let job {
                await execute(job)
                ran += 1
                if once { break }
                continue
            }
            if exitWhenIdle { break }
            await shutdown.wait(upTo: poll)
        }
        logger.info("worker stopped", metadata: ["worker": "\(name)", "jobs": "\(ran)"])
        return ran
    }

    func execute(_ job: Job) async {
        guard let handler = handlers[job.kind] else { return }
        let context = JobContext(client: queue.client, logger: {
            var l = logger
            l[metadataKey: "job"] = "\(job.id)"
            return l
        }())
        logger.info("job claimed", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "attempt": "\(job.attempts)/\(job.maxAttempts)"])
        let start = ContinuousClock.now
        let outcome: Result<String, any Error> = await withTaskGroup(of: Result<String, any Error>?.self) { group in
            // Heartbeats (and the shutdown signal) until the job ends.
            group.addTask { [queue, lease, shutdown, name, logger] in
                while !Task.isCancelled {
                    await shutdown.wait(upTo: lease / 3)
                    if Task.isCancelled { break }
                    if shutdown.isSet { context.stop(.shutdown) }
                    do {
                        try await queue.heartbeat(job.id, worker: name, progress: context.progress, logger: logger)
                    } catch JobError.leaseLost {
                        context.stop(.leaseLost)
                    } catch {
                        logger.warning("heartbeat failed", metadata: ["job": "\(job.id)", "error": "\(String(reflecting: error))"])
                    }
                }
                return nil
            }
            group.addTask {
                do { return .success(try await handler.run(job, context: context)) } catch { return .failure(error) }
            }
            var outcome: Result<String, any Error> = .failure(StopReason.shutdown)
            for await value in group {
                if let value { outcome = value; group.cancelAll() }
            }
            return outcome
        }
        let seconds = (ContinuousClock.now - start).components.seconds
        do {
            switch outcome {
            case .success(let result):
                try await queue.complete(job.id, worker: name, result: result, logger: logger)
                logger.info("job succeeded", metadata: ["job": "\(job.id)", "seconds": "\(seconds)"])
            case .failure(let error) where context.stopReason == .leaseLost || (error as? JobError).map({ if case .leaseLost = $0 { true } else { false } }) == true:
                logger.warning("job abandoned: another worker holds it now", metadata: ["job": "\(job.id)"])
            case .failure where context.stopReason == .shutdown:
                try await queue.release(job.id, worker: name, logger: logger)
                logger.info("job handed back for another worker", metadata: ["job": "\(job.id)"])
            case .failure(let error):
                try await queue.fail(job.id, worker: name, error: String(describing: error), logger: logger)
                logger.error("job failed", metadata: ["job": "\(job.id)", "attempt": "\(job.attempts)/\(job.maxAttempts)", "error": "\(error)"])
            }
        } catch {
            logger.error("cannot record the job's outcome", metadata: ["job": "\(job.id)", "error": "\(String(reflecting: error))"])
        }
    }
}

/// A flag with an async wait that ends early when it is set.
final class ShutdownFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    var isSet: Bool { lock.withLock { value } }

    func set() {
        let pending = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            value = true
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for c in pending { c.resume() }
    }

    /// Returns after `duration`, or as soon as the flag is set (or the task is cancelled).
    func wait(upTo duration: Duration) async {
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: duration)
            }
            group.addTask { [self] in
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                        let resumeNow = lock.withLock { () -> Bool in
                            if value || Task.isCancelled { return true }
                            waiters[id] = c
                            return false
                        }
                        if resumeNow { c.resume() }
                    }
                } onCancel: { [self] in
                    let c = lock.withLock { waiters.removeValue(forKey: id) }
                    c?.resume()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
