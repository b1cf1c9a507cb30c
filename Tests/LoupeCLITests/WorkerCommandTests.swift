import Catalog
import Foundation
import LoupeTestSupport
import PostgresNIO
import Store
import Testing

/// `loupe retrain`, `loupe worker` and `loupe models` as an operator runs them. A worker stopped with
/// SIGTERM hands its job back; one killed with SIGKILL in the middle of a retraining leaves the active
/// model and the registry as they were, and another worker takes the job over once its lease has
/// expired, resumes the run and finishes it.
@Suite(.serialized) struct WorkerCommandTests {
    @Test(.timeLimit(.minutes(8))) func killedWorkerLeavesTheActiveModelAndItsJobIsRetried() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let objects = dir.appendingPathComponent("objects")
            try await SyntheticCatalogue.load(into: db, objects: objects, artisan: "ada", mislabelRoseGold: false)
            let v1 = try await SyntheticCatalogue.trainActiveModel(db: db, objects: objects, directory: dir)
            let sha = sha256Hex(try Data(contentsOf: v1.file))
            let url = ServeCommandTests.url(db)

            let queued = try await runProcess(loupeExecutable(), ["retrain", "--database-url", url, "--epochs", "40", "--views", "1", "--lr", "0.001", "--beam", "1",
                                       "--tolerance", "1"])
            #expect(queued.status == 0, "\(queued.stderr)")
            #expect(queued.stdout.contains("queued retraining job"))
            let bad = try await runProcess(loupeExecutable(), ["retrain", "--database-url", url, "--epochs", "0"])
            #expect(bad.status != 0 && bad.stderr.contains("epochs must be 1–200"), "\(bad.stderr)")

            let common = ["--database-url", url, "--objects", objects.path, "--models", dir.appendingPathComponent("models").path,
                          "--runs", dir.appendingPathComponent("runs").path, "--features", dir.appendingPathComponent("features").path,
                          "--lease", "3", "--poll", "0.2"]
            let state = dir.appendingPathComponent("runs/retrain-job-1/state.json")
            func epochsDone() -> Int {
                guard let data = try? Data(contentsOf: state), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
                return object["epoch"] as? Int ?? 0
            }
            func waitForEpoch(after done: Int) async throws {
                var waited = 0
                while epochsDone() <= done, waited < 1200 {
                    try await Task.sleep(for: .milliseconds(100))
                    waited += 1
                }
                #expect(epochsDone() > done, "the worker never finished an epoch")
            }

            // SIGTERM mid-training: the worker hands the job back (the attempt not spent) and exits 0.
            let (polite, politeExited) = try startLoupe(["worker"] + common)
            try await waitForEpoch(after: 0)
            kill(polite.processIdentifier, SIGTERM)
            await politeExited.waitAsync()
            #expect(polite.terminationStatus == 0)
            #expect(try await db.text("SELECT status || ' ' || attempts FROM jobs") == ["queued 0"])

            // SIGKILL once it has resumed and finished another epoch.
            let resumedAt = epochsDone()
            let (worker, exited) = try startLoupe(["worker"] + common)
            try await waitForEpoch(after: resumedAt)
            kill(worker.processIdentifier, SIGKILL)
            await exited.waitAsync()

            // Nothing half-written: the same single active model, its file intact, no candidate, the job still
            // held by the dead worker.
            #expect(try await db.scalar("SELECT count(*)::bigint FROM models") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM models WHERE id = \(v1.id) AND status = 'active'") == 1)
            #expect(sha256Hex(try Data(contentsOf: v1.file)) == sha)
            #expect(try await db.text("SELECT status || ' ' || attempts FROM jobs") == ["running 1"])

            // A second worker waits out the lease, takes the job over and resumes the run.
            let second = try await runProcess(loupeExecutable(), ["worker", "--once"] + common)
            #expect(second.status == 0, "\(second.stderr)")
            #expect((second.stdout + second.stderr).contains("resuming after epoch"), "\(second.stderr.suffix(2000))")
            #expect(try await db.text("SELECT status || ' ' || attempts FROM jobs") == ["succeeded 2"])
            #expect(try await db.scalar("SELECT count(*)::bigint FROM models WHERE job_id = 1") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM models WHERE status = 'active'") == 1)

            // The operator's view and controls: list, roll back, promote again.
            let list = try await runProcess(loupeExecutable(), ["models", "list", "--database-url", url])
            #expect(list.status == 0 && list.stdout.contains(v1.version), "\(list.stdout)")
            let activeNow = try await db.scalar("SELECT id FROM models WHERE status = 'active'")
            if Int64(activeNow) != v1.id {
                let back = try await runProcess(loupeExecutable(), ["models", "rollback", "--database-url", url])
                #expect(back.status == 0 && back.stdout.contains("to model \(v1.id)"), "\(back.stdout) \(back.stderr)")
            }
            let none = try await runProcess(loupeExecutable(), ["models", "rollback", "--database-url", url])
            #expect(none.status == 1 && none.stderr.contains("nothing to roll back to"), "\(none.stderr)")
            let candidate = try await db.scalar("SELECT id FROM models WHERE job_id = 1")
            let promote = try await runProcess(loupeExecutable(), ["models", "promote", "\(candidate)", "--database-url", url, "--force"])
            #expect(promote.status == 0, "\(promote.stderr)")
            #expect(try await db.scalar("SELECT id FROM models WHERE status = 'active'") == candidate)
        }
    }
}
