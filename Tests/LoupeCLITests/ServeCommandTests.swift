import Foundation
import LoupeTestSupport
import Testing

/// `loupe users add` and `loupe serve` as an operator runs them: a real process on a port, stopped with
/// SIGTERM while an upload is still arriving.
@Suite(.serialized) struct ServeCommandTests {
    @Test func usersAddPrintsATokenOnceAndRefusesDuplicates() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let url = Self.url(db)
            let first = try runLoupe(["users", "add", "ada", "--role", "artisan", "--database-url", url])
            #expect(first.status == 0)
            #expect(first.stdout.contains("created artisan ada"))
            let token = try #require(first.stdout.split(separator: "\n").last.map(String.init))
            #expect(token.hasPrefix("lp_") && token.count > 40)
            // Only the hash is stored.
            #expect(try await db.scalar("SELECT count(*)::bigint FROM users WHERE token_hash = encode(sha256(convert_to('\(token)', 'UTF8')), 'hex')") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM users WHERE token_hash = '\(token)'") == 0)
            let again = try runLoupe(["users", "add", "ada", "--role", "moderator", "--database-url", url])
            #expect(again.status == 2)
            #expect(again.stderr.contains("already exists"))
            let bad = try runLoupe(["users", "add", "bad name!", "--role", "artisan", "--database-url", url])
            #expect(bad.status == 2)
            #expect(try runLoupe(["users", "add", "x", "--role", "owner", "--database-url", url]).status != 0)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM users") == 1)
        }
    }

    @Test func sigtermFinishesTheUploadInFlightThenExits() async throws {
        try await TestDatabase.with { db in
            let url = Self.url(db)
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-serve-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let model = work.appendingPathComponent("tiny.pt")
            try writeTinyCaptioner(version: "tiny-serve", to: model)

            let port = 18_000 + Int.random(in: 0 ..< 2000)
            let server = try startLoupe(["serve", "--migrate", "--migrations", root.appendingPathComponent("Migrations").path,
                                         "--port", "\(port)", "--database-url", url, "--objects", work.appendingPathComponent("objects").path,
                                         "--model", model.path, "--threads", "1"])
            var ready = false
            for _ in 0 ..< 150 where !ready {
                try await Task.sleep(for: .milliseconds(100))
                ready = (try? shell("curl -sf http://127.0.0.1:\(port)/readyz").status) == 0
            }
            #expect(ready, "the server never became ready")
            // `serve` restarted itself with sleeping OpenMP waits (its environment after the exec).
            if ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil {
                let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(server.process.processIdentifier)/environ"))
                #expect(environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.contains("OMP_WAIT_POLICY=passive"))
            }
            let token = try runLoupe(["users", "add", "ada", "--role", "artisan", "--quiet", "--database-url", url]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            // The 6.7 KB photo at 3 KB/s takes over two seconds to arrive; SIGTERM comes after half a second.
            let photo = root.appendingPathComponent("Fixtures/catalogue/images/fx-2026-000001.jpg").path
            let upload = Process()
            upload.executableURL = URL(fileURLWithPath: "/bin/sh")
            upload.arguments = ["-c", "curl -s -o /dev/null -w '%{http_code}' --limit-rate 3k -H 'Authorization: Bearer \(token)' -F photo=@\(photo) http://127.0.0.1:\(port)/v1/drafts"]
            let out = Pipe()
            upload.standardOutput = out
            let uploaded = try launch(upload)
            try await Task.sleep(for: .milliseconds(500))
            kill(server.process.processIdentifier, SIGTERM)
            let status = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            await uploaded.waitAsync()
            await server.exited.waitAsync()
            #expect(status == "201", "the upload in flight at SIGTERM finished")
            #expect(server.process.terminationStatus == 0)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM drafts") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM draft_images") == 1)
            #expect((try? shell("curl -sf http://127.0.0.1:\(port)/healthz").status) != 0, "the server is gone")
        }
    }

    static func url(_ db: TestDatabase) -> String {
        let c = db.configuration
        return "postgres://\(c.user)@\(c.host):\(c.port)/\(c.database)"
    }
}

/// Starts the built `loupe` without waiting for it.
func startLoupe(_ arguments: [String]) throws -> (process: Process, exited: DispatchSemaphore) {
    let process = Process()
    process.executableURL = loupeExecutable()
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    return (process, try launch(process))
}
