import Captioner
import Catalog
import Foundation
import HTTPTypes
import HummingbirdTesting
import Imaging
import LoupeTestSupport
import NIOCore
import Service
import Store
import Testing

@Suite(.serialized) struct DraftAPITests {
    @Test func uploadWritesDraftImagesProvenanceAndPhotoInOneGo() async throws {
        try await withService { client, harness in
            let draft = try await upload(client, harness)
            let id = try #require(draft["id"] as? Int)
            #expect(draft["status"] as? String == "pending")
            #expect(draft["model"] as? String == "tiny-a")
            #expect(draft["model_id"] as? Int == Int(harness.modelID))
            #expect(draft["notes"] as? String == "hand made in silver")
            #expect((draft["title"] as? String)?.isEmpty == false)
            let category = try #require(draft["category"] as? [String: Any])
            #expect(Taxonomy.standard.category.contains(category["value"] as? String ?? ""))
            #expect((category["confidence"] as? Double).map { $0 > 0 && $0 <= 1 } == true)
            #expect(category["source"] as? String == "model")
            // The photo was decoded reduced to the served model's input side (64: 1/4 of the 256-px JPEG),
            // and the stored size is still the photo's own.
            let drafter = try Drafter(contentsOf: TinyModels.file(version: "tiny-a"))
            let reduced = try drafter.describe(RGBImage(decoding: try fixturePhoto(1), reducedTo: 64))
            let full = try drafter.describe(RGBImage(decoding: try fixturePhoto(1)))
            let confidence = try #require(category["confidence"] as? Double)
            #expect(abs(confidence - reduced.category.confidence) < 1e-5)
            #expect(abs(reduced.category.confidence - full.category.confidence) > 1e-5, "the test tells the two decodes apart")
            let stored = try #require((draft["images"] as? [[String: Any]])?.first)
            #expect(stored["width"] as? Int == 256 && stored["height"] as? Int == 256)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_images WHERE width = 256 AND height = 256") == 1)
            // The rows: one draft, its photo, seven provenance rows, one event.
            #expect(try await harness.count("drafts") == 1)
            #expect(try await harness.count("draft_images") == 1)
            #expect(try await harness.count("draft_fields") == 7)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_events WHERE action = 'created'") == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_fields WHERE field IN ('title','description') AND generated_confidence IS NULL") == 2)
            // The photo is in the object store under its digest, and served back byte for byte.
            let photo = try fixturePhoto(1)
            #expect(harness.objectFiles().map { URL(fileURLWithPath: $0).lastPathComponent } == [sha256Hex(photo)])
            let image = try await client.execute(uri: "/v1/drafts/\(id)/images/0", method: .get, headers: harness.bearer("ada"))
            #expect(image.status == .ok)
            #expect(image.headers[.contentType] == "image/jpeg")
            #expect(Data(image.body.readableBytesView) == photo)
            // GET returns the same draft, field for field: the upload's answer is built from the one
            // INSERT statement's result and what was inserted, not read back.
            let again = try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: harness.bearer("ada"))
            #expect(again.status == .ok)
            #expect(NSDictionary(dictionary: try json(again)).isEqual(to: draft), "\(String(buffer: again.body))\nvs\n\(draft)")
        }
    }

    @Test func severalPhotosMakeOneDraft() async throws {
        try await withService { client, harness in
            let (h, body) = multipart([("photo", "a.jpg", try fixturePhoto(1)), ("photo", "b.jpg", try fixturePhoto(2))])
            let response = try await client.execute(uri: "/v1/drafts", method: .post, headers: headers(h, harness.bearer("ada")), body: body)
            #expect(response.status == .created)
            let draft = try json(response)
            #expect((draft["images"] as? [[String: Any]])?.compactMap { $0["filename"] as? String } == ["a.jpg", "b.jpg"])
            let again = try await client.execute(uri: "/v1/drafts/\(try #require(draft["id"] as? Int))", method: .get, headers: harness.bearer("ada"))
            #expect(NSDictionary(dictionary: try json(again)).isEqual(to: draft), "\(String(buffer: again.body))\nvs\n\(draft)")
            #expect(try await harness.count("draft_images") == 2)
            #expect(harness.objectFiles().count == 2)
        }
    }

    @Test func artisansNeverSeeOrChangeAnotherArtisansDrafts() async throws {
        try await withService { client, harness in
            let id = try #require(try await upload(client, harness, as: "ada")["id"] as? Int)
            for uri in ["/v1/drafts/\(id)", "/v1/drafts/\(id)/images/0"] {
                let response = try await client.execute(uri: uri, method: .get, headers: harness.bearer("ben"))
                #expect(response.status == .notFound, "ben reads \(uri)")
            }
            let list = try await client.execute(uri: "/v1/drafts", method: .get, headers: harness.bearer("ben"))
            #expect((try json(list)["drafts"] as? [Any])?.isEmpty == true)
            let feedback = try await client.execute(uri: "/v1/drafts/\(id)/feedback", method: .post, headers: headers(jsonHeaders, harness.bearer("ben")),
                                                    body: ByteBuffer(string: #"{"rating": 1}"#))
            #expect(feedback.status == .notFound)
            #expect(try await harness.count("draft_feedback") == 0)
            // Artisans cannot moderate; moderators cannot upload or rate.
            for action in ["approve", "reject", "edit"] {
                let r = try await client.execute(uri: "/v1/drafts/\(id)/\(action)", method: .post, headers: headers(jsonHeaders, harness.bearer("ada")),
                                                 body: ByteBuffer(string: #"{"reason": "x", "title": "x"}"#))
                #expect(r.status == .forbidden, "ada \(action)")
            }
            #expect(try await client.execute(uri: "/v1/moderation/queue", method: .get, headers: harness.bearer("ada")).status == .forbidden)
            let (h, body) = multipart([("photo", "a.jpg", try fixturePhoto(1))])
            #expect(try await client.execute(uri: "/v1/drafts", method: .post, headers: headers(h, harness.bearer("mona")), body: body).status == .forbidden)
            let rate = try await client.execute(uri: "/v1/drafts/\(id)/feedback", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                body: ByteBuffer(string: #"{"rating": 5}"#))
            #expect(rate.status == .forbidden)
            // No token, a wrong token, a malformed header.
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: [.authorization: "Bearer lp_wrong"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: [.authorization: "Basic abc"]).status == .unauthorized)
            // The owner and the moderator see it.
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: harness.bearer("ada")).status == .ok)
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: harness.bearer("mona")).status == .ok)
            #expect(try await client.execute(uri: "/v1/drafts/\(id)", method: .get, headers: harness.bearer("root")).status == .ok)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM drafts WHERE status = 'pending'") == 1)
        }
    }

    @Test func editKeepsTheGeneratedValueAndApprovalPublishes() async throws {
        try await withService { client, harness in
            let draft = try await upload(client, harness)
            let id = try #require(draft["id"] as? Int)
            let generatedTitle = try #require(draft["title"] as? String)
            let edit = try await client.execute(uri: "/v1/drafts/\(id)/edit", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                body: ByteBuffer(string: #"{"title": "Rose gold ring", "description": "A rose gold ring set with a ruby.", "attributes": {"metal": "rose-gold", "gemstones": ["ruby"]}}"#))
            #expect(edit.status == .ok, "\(String(buffer: edit.body))")
            let edited = try json(edit)
            #expect(edited["title"] as? String == "Rose gold ring")
            let metal = try #require((edited["attributes"] as? [String: Any])?["metal"] as? [String: Any])
            #expect(metal["value"] as? String == "rose-gold")
            #expect(metal["source"] as? String == "moderator")
            #expect(metal["needs_review"] as? Bool == false)
            let provenance = try #require((edited["provenance"] as? [String: Any])?["title"] as? [String: Any])
            #expect(provenance["generated"] as? String == generatedTitle)
            #expect((provenance["edit"] as? [String: Any])?["by"] as? String == "mona")
            #expect(try await harness.count("draft_edits") == 4)
            // The generated row is untouched.
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_fields WHERE field = 'title' AND generated_value #>> '{}' = '\(generatedTitle.replacingOccurrences(of: "'", with: "''"))'") == 1)

            let approve = try await client.execute(uri: "/v1/drafts/\(id)/approve", method: .post, headers: harness.bearer("mona"))
            #expect(approve.status == .ok)
            let approved = try json(approve)
            #expect(approved["status"] as? String == "approved")
            let product = try #require(approved["product"] as? [String: Any])
            let productID = try #require(product["id"] as? Int)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM products WHERE id = \(productID) AND source = 'listing' AND title = 'Rose gold ring'") == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM product_attributes WHERE product_id = \(productID) AND field = 'metal' AND value = 'rose-gold'") == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM product_attributes WHERE product_id = \(productID) AND field = 'gemstone' AND value = 'ruby'") == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM product_images WHERE product_id = \(productID) AND source = 'upload'") == 1)
            // The moderator's description becomes the product's reference text.
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM product_descriptions WHERE product_id = \(productID) AND source = 'moderator' AND text = 'A rose gold ring set with a ruby.'") == 1)
            let listings = try await client.execute(uri: "/v1/listings", method: .get)
            let first = try #require((try json(listings)["listings"] as? [[String: Any]])?.first)
            #expect(first["title"] as? String == "Rose gold ring")
            #expect(((first["fields"] as? [String: Any])?["metal"] as? [String: Any])?["generated"] as? String == ((draft["attributes"] as? [String: Any])?["metal"] as? [String: Any])?["value"] as? String)
            let listingID = try #require(first["id"] as? Int)
            #expect(try await client.execute(uri: "/v1/listings/\(listingID)", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/listings/999999", method: .get).status == .notFound)

            // Illegal transitions: 409 and nothing changes.
            for (action, body) in [("approve", ""), ("reject", #"{"reason": "late"}"#), ("edit", #"{"title": "Late edit"}"#)] {
                let r = try await client.execute(uri: "/v1/drafts/\(id)/\(action)", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                 body: ByteBuffer(string: body))
                #expect(r.status == .conflict, "\(action) after approval")
                #expect(errorCode(r) == "illegal_state")
            }
            #expect(try await harness.count("listings") == 1)
            #expect(try await harness.count("draft_edits") == 4)
        }
    }

    @Test func aRejectedDraftCannotBeApproved() async throws {
        try await withService { client, harness in
            let id = try #require(try await upload(client, harness)["id"] as? Int)
            let empty = try await client.execute(uri: "/v1/drafts/\(id)/reject", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                 body: ByteBuffer(string: #"{"reason": "  "}"#))
            #expect(empty.status == .unprocessableContent)
            let reject = try await client.execute(uri: "/v1/drafts/\(id)/reject", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                  body: ByteBuffer(string: #"{"reason": "photo shows two pieces"}"#))
            #expect(reject.status == .ok)
            #expect((try json(reject)["decision"] as? [String: Any])?["reason"] as? String == "photo shows two pieces")
            let approve = try await client.execute(uri: "/v1/drafts/\(id)/approve", method: .post, headers: harness.bearer("mona"))
            #expect(approve.status == .conflict)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM drafts WHERE status = 'rejected' AND reject_reason = 'photo shows two pieces'") == 1)
            #expect(try await harness.count("listings") == 0)
            #expect(try await harness.count("products") == 0)
        }
    }

    @Test func feedbackIsOnePerArtisanAndDraft() async throws {
        try await withService { client, harness in
            let id = try #require(try await upload(client, harness)["id"] as? Int)
            let uri = "/v1/drafts/\(id)/feedback"
            let h = headers(jsonHeaders, harness.bearer("ada"))
            let first = try await client.execute(uri: uri, method: .post, headers: h,
                                                 body: ByteBuffer(string: #"{"rating": 2, "corrections": {"metal": "rose-gold"}, "comment": "it is rose gold"}"#))
            #expect(first.status == .created)
            let second = try await client.execute(uri: uri, method: .post, headers: h,
                                                  body: ByteBuffer(string: #"{"rating": 4, "corrections": {"attributes": {"metal": "rose-gold"}, "title": "Rose ring"}}"#))
            #expect(second.status == .ok)
            #expect(try json(second)["rating"] as? Int == 4)
            #expect(try await harness.count("draft_feedback") == 1)
            #expect(try await harness.db.scalar("SELECT rating::bigint FROM draft_feedback") == 4)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_feedback WHERE corrections ->> 'metal' = 'rose-gold' AND corrections ->> 'title' = 'Rose ring' AND model_version = 'tiny-a'") == 1)
            // Bad feedback changes nothing.
            for (body, status) in [(#"{"rating": 7}"#, HTTPResponse.Status.unprocessableContent), (#"{"rating": 3, "corrections": {"metal": "gold-ish"}}"#, .unprocessableContent),
                                   (#"{"rating": 3, "corrections": {"colour": "red"}}"#, .badRequest), (#"{"rating": "five"}"#, .badRequest),
                                   (#"{"rating": 3"#, .badRequest), (#"{}"#, .badRequest)] {
                let r = try await client.execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body))
                #expect(r.status == status, "\(body) → \(r.status)")
                #expect(errorCode(r) != nil)
            }
            #expect(try await harness.db.scalar("SELECT rating::bigint FROM draft_feedback") == 4)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_events WHERE action = 'feedback'") == 2)
        }
    }

    @Test func queueOrdersOldestOrLeastConfidentFirst() async throws {
        try await withService { client, harness in
            let a = try #require(try await upload(client, harness, photo: 1)["id"] as? Int)
            let b = try #require(try await upload(client, harness, photo: 2)["id"] as? Int)
            let c = try #require(try await upload(client, harness, photo: 3)["id"] as? Int)
            try await harness.db.configuration.withConnection(logger: testLogger) { connection in
                try await connection.query("UPDATE drafts SET min_confidence = 0.9 WHERE id = \(a)", logger: testLogger)
                try await connection.query("UPDATE drafts SET min_confidence = 0.1 WHERE id = \(b)", logger: testLogger)
                try await connection.query("UPDATE drafts SET min_confidence = 0.5 WHERE id = \(c)", logger: testLogger)
            }
            func ids(_ query: String) async throws -> [Int] {
                let r = try await client.execute(uri: "/v1/moderation/queue\(query)", method: .get, headers: harness.bearer("mona"))
                return (try json(r)["drafts"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            }
            #expect(try await ids("") == [a, b, c])
            #expect(try await ids("?order=low-confidence") == [b, c, a])
            let bad = try await client.execute(uri: "/v1/moderation/queue?order=random", method: .get, headers: harness.bearer("mona"))
            #expect(bad.status == .badRequest)
            // Decided drafts leave the queue; status filters the list. (The untrained test model may write
            // an empty description, which cannot be published; the moderator writes one first.)
            let edit = try await client.execute(uri: "/v1/drafts/\(b)/edit", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                                body: ByteBuffer(string: #"{"title": "Ring", "description": "A plain ring."}"#))
            #expect(edit.status == .ok)
            #expect(try await client.execute(uri: "/v1/drafts/\(b)/approve", method: .post, headers: harness.bearer("mona")).status == .ok)
            #expect(try await ids("?order=low-confidence") == [c, a])
            let approved = try await client.execute(uri: "/v1/drafts?status=approved", method: .get, headers: harness.bearer("ada"))
            #expect((try json(approved)["drafts"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [b])
            let page = try await client.execute(uri: "/v1/drafts?limit=2", method: .get, headers: harness.bearer("ada"))
            let body = try json(page)
            #expect((body["drafts"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [c, b])
            let next = try #require(body["next"] as? Int)
            let rest = try await client.execute(uri: "/v1/drafts?limit=2&before=\(next)", method: .get, headers: harness.bearer("ada"))
            #expect((try json(rest)["drafts"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [a])
        }
    }
}
