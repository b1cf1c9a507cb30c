import Foundation
import LoupeTestSupport
import PostgresNIO
@testable import Retraining
import Store
import Testing

/// The PostgreSQL job queue: exclusive claims, heartbeats and lease expiry, retries, one open
/// retraining at a time — and the worker loop over it.
@Suite(.serialized) struct JobQueueTests {
    @Test func oneOpenRetrainingAndExclusiveClaims() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            try await db.withClient { client in
                let queue = JobQueue(client: client)
                let (first, created) = try await queue.enqueue(.retrain, payload: #"{"epochs": 2}"#, logger: testLogger)
                #expect(created)
                // A second request while the first is queued joins it.
                let (second, again) = try await queue.enqueue(.retrain, logger: testLogger)
                #expect(!again && second.id == first.id)
                #expect(try await db.scalar("SELECT count(*)::bigint FROM jobs") == 1)

                // Eight workers race for it, ten rounds: each round exactly one wins.
                for round in 0 ..< 10 {
                    if round > 0 { _ = try await queue.enqueue(.retrain, logger: testLogger) }
                    let winners = try await withThrowingTaskGroup(of: Job?.self) { group in
                        for w in 0 ..< 8 { group.addTask { try await queue.claim(worker: "w\(w)", lease: .seconds(60), logger: testLogger) } }
                        var out: [Job] = []
                        for try await job in group { if let job { out.append(job) } }
                        return out
                    }
                    #expect(winners.count == 1, "round \(round): \(winners.count) claims")
                    guard let job = winners.first else { continue }
                    #expect(job.status == .running && job.attempts == 1)
                    try await queue.complete(job.id, worker: job.worker!, result: #"{"ok": true}"#, logger: testLogger)
                }
                #expect(try await db.scalar("SELECT count(*)::bigint FROM jobs WHERE status = 'succeeded' AND attempts = 1") == 10)
            }
        }
    }

    @Test func expiredLeaseIsTakenOverAndTheOldWorkerLosesIt() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            try await db.withClient { client in
                let queue = JobQueue(client: client)
                let job = try await queue.enqueue(.retrain, logger: testLogger).job
                let a = try #require(try await queue.claim(worker: "a", lease: .seconds(1), logger: testLogger))
                #expect(a.id == job.id)
                // Within the lease nobody else gets it.
                #expect(try await queue.claim(worker: "b", lease: .seconds(1), logger: testLogger) == nil)
                try await Task.sleep(for: .milliseconds(1500))
                let b = try #require(try await queue.claim(worker: "b", lease: .seconds(1), logger: testLogger))
                #expect(b.id == job.id && b.attempts == 2 && b.worker == "b")
                #expect(b.error?.contains("worker a stopped sending heartbeats") == true)
                // Worker a comes back: every write on its behalf is refused.
                await #expect(throws: JobError.leaseLost(id: job.id, worker: "a")) {
                    try await queue.heartbeat(job.id, worker: "a", logger: testLogger)
                }
                await #expect(throws: JobError.leaseLost(id: job.id, worker: "a")) {
                    try await queue.complete(job.id, worker: "a", result: "{}", logger: testLogger)
                }
                try await queue.heartbeat(job.id, worker: "b", progress: "epoch 1/2", logger: testLogger)
                #expect(try await queue.find(job.id, logger: testLogger).progress == "epoch 1/2")
                try await queue.complete(job.id, worker: "b", result: "{}", logger: testLogger)
                #expect(try await queue.find(job.id, logger: testLogger).status == .succeeded)
            }
        }
    }

    @Test func failuresAreRetriedThenGivenUp() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            try await db.withClient { client in
                let queue = JobQueue(client: client)
                let job = try await queue.enqueue(.retrain, maxAttempts: 2, logger: testLogger).job
                var claimed = try #require(try await queue.claim(worker: "a", lease: .seconds(60), logger: testLogger))
                try await queue.fail(job.id, worker: "a", error: "boom 1", retryAfter: .seconds(0), logger: testLogger)
                #expect(try await queue.find(job.id, logger: testLogger).status == .queued)
                // A shutdown hands the job back without spending an attempt.
                claimed = try #require(try await queue.claim(worker: "a", lease: .seconds(60), logger: testLogger))
                #expect(claimed.attempts == 2)
                try await queue.release(job.id, worker: "a", logger: testLogger)
                #expect(try await queue.find(job.id, logger: testLogger).attempts == 1)
                claimed = try #require(try await queue.claim(worker: "a", lease: .seconds(60), logger: testLogger))
                try await queue.fail(job.id, worker: "a", error: "boom 2", logger: testLogger)
                let final = try await queue.find(job.id, logger: testLogger)
                #expect(final.status == .failed && final.error == "boom 2" && final.attempts == 2 && final.finishedAt != nil)
                #expect(try await queue.claim(worker: "a", lease: .seconds(60), logger: testLogger) == nil)
            }
        }
    }

    /// Two `Worker` loops on one database; jobs are queued one after another (one open retraining at
    /// a time). Every job runs exactly once.
    @Test func twoWorkersRunEachJobOnce() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            try await db.withClient { client in
                let queue = JobQueue(client: client)
                let log = RunLog()
                let handler = CountingHandler(log: log)
                let workers = ["w1", "w2"].map {
                    Worker(name: $0, queue: queue, handlers: [.retrain: handler], lease: .seconds(10), poll: .milliseconds(20), logger: testLogger)
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in workers { group.addTask { try await worker.run() } }
                    for _ in 0 ..< 12 {
                        let job = try await queue.enqueue(.retrain, logger: testLogger).job
                        while try await queue.find(job.id, logger: testLogger).status != .succeeded { try await Task.sleep(for: .milliseconds(10)) }
                    }
                    for worker in workers { worker.requestShutdown() }
                    try await group.waitForAll()
                }
                let runs = log.runs
                #expect(runs.count == 12)
                #expect(Set(runs.map(\.job)).count == 12, "a job ran twice: \(runs)")
                #expect(try await db.scalar("SELECT count(*)::bigint FROM jobs WHERE status = 'succeeded' AND attempts = 1") == 12)
            }
        }
    }
}

final class RunLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _runs: [(job: Int64, worker: String)] = []
    func add(_ job: Int64, _ worker: String) { lock.withLock { _runs.append((job, worker)) } }
    var runs: [(job: Int64, worker: String)] { lock.withLock { _runs } }
}

struct CountingHandler: JobHandler {
    let log: RunLog
    func run(_ job: Job, context: JobContext) async throws -> String {
        log.add(job.id, job.worker ?? "")
        try await Task.sleep(for: .milliseconds(30))
        return "{}"
    }
}
