import Captioner
import Foundation
import HTTPTypes
import HummingbirdTesting
import LoupeTestSupport
import NIOCore
import PostgresNIO
import Retraining
import Service
import Store
import Testing

/// The retraining loop end to end, through the service's own API over a real PostgreSQL: the active
/// model, trained on a catalogue that mislabels rose gold as yellow gold, drafts rose-gold pieces as
/// yellow gold; moderators correct them and approve; an admin asks for a retraining; a worker fine-tunes,
/// evaluates on the held-out split and promotes the candidate; the service drafts with the new version
/// and gets rose gold right. Then a moderator's corrupted labels train a candidate the guard rejects.
@Suite(.serialized) struct RetrainingLoopTests {
    static let rose = "rose-gold"

    func uploadDisc(_ client: any TestClientProtocol, _ h: Harness, metal: String, category: String, variant: Int) async throws -> [String: Any] {
        let photo = try SyntheticCatalogue.photo(metal: metal, category: category, variant: variant)
        let (headersIn, body) = multipart([("photo", "disc.png", photo)])
        let response = try await client.execute(uri: "/v1/drafts", method: .post, headers: headers(headersIn, h.bearer("ada")), body: body)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return try json(response)
    }

    func post(_ client: any TestClientProtocol, _ h: Harness, _ uri: String, as user: String, _ body: [String: Any]) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .post, headers: headers(jsonHeaders, h.bearer(user)),
                                 body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
    }

    func metal(_ draft: [String: Any]) -> String { ((draft["attributes"] as? [String: Any])?["metal"] as? [String: Any])?["value"] as? String ?? "" }

    /// Uploads until the service drafts with `version` (the registry watcher polls every 100 ms).
    func waitForVersion(_ version: String, _ client: any TestClientProtocol, _ h: Harness) async throws -> [String: Any] {
        for attempt in 0 ..< 60 {
            let draft = try await uploadDisc(client, h, metal: Self.rose, category: "ring", variant: 100 + attempt)
            if draft["model"] as? String == version { return draft }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the service never served \(version)")
        return [:]
    }

    /// Moderator `mona` sets the fields and approves; artisan `ada` rates.
    func moderate(_ client: any TestClientProtocol, _ h: Harness, draft: [String: Any], to metal: String, category: String, rating: Int) async throws {
        let id = draft["id"] as! Int
        let label = SyntheticCatalogue.label(metal)
        let edit = try await post(client, h, "/v1/drafts/\(id)/edit", as: "mona",
                                  ["metal": metal, "category": category, "title": "\(label.capitalized) \(category.capitalized)",
                                   "description": SyntheticCatalogue.descriptions(metal: metal, category: category)[0]])
        #expect(edit.status == .ok, "\(String(buffer: edit.body))")
        #expect(try await post(client, h, "/v1/drafts/\(id)/approve", as: "mona", [:]).status == .ok)
        let feedback = try await post(client, h, "/v1/drafts/\(id)/feedback", as: "ada", ["rating": rating, "corrections": ["metal": metal]])
        #expect(feedback.status == .created)
    }

    /// Runs one job with an in-process worker (the same `Worker` and `RetrainJob` as `loupe worker`).
    func runWorker(_ h: Harness, models: URL) async throws {
        let settings = RetrainSettings(objects: h.objects, modelsDirectory: models, runsDirectory: models.appendingPathComponent("runs"), cacheDirectory: nil)
        let ran = try await h.db.withClient { client in
            try await Worker(name: "test-worker", queue: JobQueue(client: client), handlers: [.retrain: RetrainJob(settings: settings)],
                             lease: .seconds(30), logger: testLogger).run(once: true)
        }
        #expect(ran == 1)
    }

    func job(_ client: any TestClientProtocol, _ h: Harness, _ id: Int) async throws -> [String: Any] {
        let response = try await client.execute(uri: "/v1/admin/jobs/\(id)", method: .get, headers: h.bearer("root"))
        #expect(response.status == .ok)
        return try json(response)
    }

    @Test func correctionsRetrainAndPromoteThenACorruptedCandidateIsRejected() async throws {
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-retrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: models) }
        try await withService(configure: { $0.retrainAfter = 0 }) { client, h in
            try await SyntheticCatalogue.load(into: h.db, objects: h.objects, artisan: "ada", mislabelRoseGold: true)
            let v1 = try await SyntheticCatalogue.trainActiveModel(db: h.db, objects: h.objects, directory: models)

            // The systematic error, as artisans see it: rose gold drafted as yellow gold.
            _ = try await waitForVersion(v1.version, client, h)
            var drafts: [(draft: [String: Any], category: String)] = []
            for k in 0 ..< 8 {
                let category = k % 2 == 0 ? "ring" : "bangle"
                drafts.append((try await uploadDisc(client, h, metal: Self.rose, category: category, variant: k), category))
            }
            let yellow = drafts.filter { metal($0.draft) == "yellow-gold" }.count
            #expect(yellow >= 6, "v1 drafted \(drafts.map { metal($0.draft) }) for rose-gold pieces")
            for d in drafts { try await moderate(client, h, draft: d.draft, to: Self.rose, category: d.category, rating: 2) }

            // Only an admin may ask; the request is validated; a second request joins the first.
            #expect(try await post(client, h, "/v1/admin/retrain", as: "mona", [:]).status == .forbidden)
            #expect(try await post(client, h, "/v1/admin/retrain", as: "root", ["epochs": 0]).status == .unprocessableContent)
            let request: [String: Any] = ["epochs": 30, "learning_rate": 3e-3, "views": 2, "listing_weight": 4, "tolerance": 0.1, "beam": 1,
                                          "reason": "rose gold corrections"]
            let queued = try await post(client, h, "/v1/admin/retrain", as: "root", request)
            #expect(queued.status == .accepted)
            let jobID = try json(queued)["id"] as! Int
            #expect(try json(try await post(client, h, "/v1/admin/retrain", as: "root", [:]))["created"] as? Bool == false)

            try await runWorker(h, models: models)
            let done = try await job(client, h, jobID)
            #expect(done["status"] as? String == "succeeded", "\(done)")
            let result = try #require(done["result"] as? [String: Any])
            #expect(result["status"] as? String == "active", "\(result)")
            let v2ID = try #require(result["model_id"] as? Int)
            #expect(result["parent_id"] as? Int == Int(v1.id))

            // The registry: v2 active with its held-out figures beside v1's, and its snapshot rows.
            let registry = try await h.db.configuration.withConnection(logger: testLogger) { c in
                (try await ModelRegistry().find(Int64(v2ID), on: c, logger: testLogger), try await ModelRegistry().find(v1.id, on: c, logger: testLogger))
            }
            #expect(registry.0.status == "active" && registry.1.status == "retired" && registry.0.jobID == Int64(jobID))
            let metrics = try JSONDecoder().decode(RetrainMetrics.self, from: Data(registry.0.metrics.utf8))
            #expect(metrics.test.accuracy["metal"]! > metrics.activeTest.accuracy["metal"]!, "metal \(metrics.activeTest.accuracy) → \(metrics.test.accuracy)")
            #expect(metrics.test.recall?["metal"]?[Self.rose] ?? 0 > metrics.activeTest.recall?["metal"]?[Self.rose] ?? 1)
            #expect(try await h.db.scalar("SELECT count(*)::bigint FROM model_training_listings WHERE model_id = \(v2ID) AND usage = 'reference'") == 8)
            // The text each moderator replaced is kept for analysis, and is never a reference.
            #expect(try await h.db.scalar("""
                SELECT count(*)::bigint FROM model_training_listings WHERE model_id = \(v2ID) AND replaced_text IS NOT NULL AND replaced_text <> reference
                """) == 8)
            #expect(try await h.db.scalar("SELECT count(*)::bigint FROM model_training_products WHERE model_id = \(v2ID)") > 8)

            // The running service switched without a restart, and drafts rose gold as rose gold.
            let after = try await waitForVersion(registry.0.version, client, h)
            #expect(metal(after) == Self.rose, "v2 drafted \(metal(after))")

            // The feedback report shows the mistake that was fixed.
            let reportResponse = try await client.execute(uri: "/v1/admin/feedback-report", method: .get, headers: h.bearer("root"))
            #expect(reportResponse.status == .ok)
            let report = try json(reportResponse)
            let mistakes = report["most_corrected"] as? [[String: Any]] ?? []
            for by in ["moderator", "artisan"] {
                #expect(mistakes.contains { $0["field"] as? String == "metal" && $0["generated"] as? String == "yellow-gold"
                        && $0["corrected"] as? String == Self.rose && $0["by"] as? String == by && $0["count"] as? Int == 8 }, "\(mistakes)")
            }
            let metalRate = (report["fields"] as? [[String: Any]])?.first { $0["field"] as? String == "metal" }
            #expect(metalRate?["moderator_edit_rate"] as? Double == 1 && metalRate?["approved"] as? Int == 8, "\(String(describing: metalRate))")
            let ratings = report["ratings"] as? [[String: Any]] ?? []
            #expect(ratings.contains { $0["model_version"] as? String == v1.version && ($0["distribution"] as? [String: Int])?["2"] == 8 }, "\(ratings)")
            #expect(try await client.execute(uri: "/v1/admin/feedback-report", method: .get, headers: h.bearer("ada")).status == .forbidden)

            // A planted regression: a moderator "corrects" rose-gold pieces to sterling silver.
            for k in 0 ..< 16 {
                let category = k % 2 == 0 ? "ring" : "bangle"
                let d = try await uploadDisc(client, h, metal: Self.rose, category: category, variant: 20 + k)
                try await moderate(client, h, draft: d, to: "sterling-silver", category: category, rating: 5)
            }
            var corrupted = request
            corrupted["listing_weight"] = 8
            let second = try await post(client, h, "/v1/admin/retrain", as: "root", corrupted)
            #expect(second.status == .accepted)
            try await runWorker(h, models: models)
            let rejected = try await job(client, h, try json(second)["id"] as! Int)
            let verdict = try #require(rejected["result"] as? [String: Any])
            #expect(verdict["status"] as? String == "rejected", "\(verdict)")
            let reasons = verdict["reasons"] as? [String] ?? []
            #expect(reasons.contains { $0.hasPrefix("metal accuracy") }, "\(reasons)")
            let stillActive = try await h.db.configuration.withConnection(logger: testLogger) {
                try await ModelRegistry().active(kind: "captioner", on: $0, logger: testLogger)
            }
            #expect(stillActive?.id == Int64(v2ID))
            let rejectedRow = try await h.db.configuration.withConnection(logger: testLogger) {
                try await ModelRegistry().find(Int64(verdict["model_id"] as! Int), on: $0, logger: testLogger)
            }
            #expect(rejectedRow.status == "rejected" && rejectedRow.statusReason?.contains("metal accuracy") == true)
            let last = try await uploadDisc(client, h, metal: Self.rose, category: "bangle", variant: 99)
            #expect(last["model"] as? String == registry.0.version)
        }
    }
}

/// The automatic trigger: after N approved edits and feedback records since the last retraining was
/// queued, the service queues one (once: later signals join the open job).
@Suite struct RetrainTriggerTests {
    @Test func queuesARetrainingAfterNSignals() async throws {
        try await withService(configure: { $0.retrainAfter = 7 }) { client, h in
            func post(_ uri: String, _ user: String, _ body: [String: Any]) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers(jsonHeaders, h.bearer(user)),
                                         body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
            }
            let a = try await upload(client, h), b = try await upload(client, h, photo: 2)
            let (ida, idb) = (a["id"] as! Int, b["id"] as! Int)
            // The untrained model's text may be empty: the moderator writes it (2 + 3 edits).
            let text: [String: Any] = ["title": "Silver Ring", "description": "A ring in sterling silver."]
            #expect(try await post("/v1/drafts/\(idb)/edit", "mona", text).status == .ok)
            #expect(try await post("/v1/drafts/\(ida)/edit", "mona", text.merging(["metal": "rose-gold"]) { a, _ in a }).status == .ok)
            #expect(try await post("/v1/drafts/\(ida)/approve", "mona", [:]).status == .ok)
            #expect(try await post("/v1/drafts/\(idb)/approve", "mona", [:]).status == .ok)
            // Five approved edits so far: not yet.
            #expect(try await h.count("jobs") == 0)
            #expect(try await post("/v1/drafts/\(ida)/feedback", "ada", ["rating": 4]).status == .created)
            #expect(try await h.count("jobs") == 0)
            #expect(try await post("/v1/drafts/\(idb)/feedback", "ada", ["rating": 2, "corrections": ["metal": "sterling-silver"]]).status == .created)
            #expect(try await h.count("jobs") == 1)
            let reason = try await h.db.text("SELECT payload->>'reason' FROM jobs")
            #expect(reason.first?.hasPrefix("automatic: 7 new approved edits and feedback records") == true, "\(reason)")
            // More feedback joins the open job instead of queuing another.
            #expect(try await post("/v1/drafts/\(idb)/feedback", "ada", ["rating": 3]).status == .ok)
            #expect(try await h.count("jobs") == 1)
        }
    }
}
