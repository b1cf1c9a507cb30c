import Foundation
import HummingbirdTesting
import LoupeTestSupport
import Service
import Testing

/// The pages as a person uses them: headless Chromium (Debian's chromium and chromium-driver, which
/// `make test` installs) driven by selenium from `.cache/pyref`, against the real server on a port.
@Suite(.serialized) struct WebPagesTests {
    @Test func artisanUploadsAndRatesModeratorEditsAndApproves() async throws {
        try await withService(live: true) { client, harness in
            let port = try #require(client.port)
            let photo = repositoryRoot.appendingPathComponent("Fixtures/catalogue/images/fx-2026-000004.jpg").path
            let script = repositoryRoot.appendingPathComponent("Tests/ServiceTests/Web/pages.py").path
            let python = repositoryRoot.appendingPathComponent(".cache/pyref/bin/python").path
            let (status, output, errors) = try await runProcess(URL(fileURLWithPath: python),
                                                           [script, "http://127.0.0.1:\(port)", harness.tokens["ada"]!, harness.tokens["mona"]!, photo])
            #expect(status == 0, "\(output)\n\(errors)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(seen["final_status"] as? String == "approved")
            // What the browser did is in the database.
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM drafts WHERE status = 'approved' AND notes = 'Made by hand in my studio'") == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM draft_feedback WHERE rating = 4 AND corrections ->> 'metal' = 'rose-gold'") == 1)
            #expect(try await harness.db.scalar("""
                SELECT count(*)::bigint FROM draft_edits e JOIN users u ON u.id = e.editor_id
                WHERE u.name = 'mona' AND e.field = 'metal' AND e.value #>> '{}' = 'rose-gold'
                """) == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM listings WHERE description = 'A rose gold piece, made by hand.'") == 1)
        }
    }
}
