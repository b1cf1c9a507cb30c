import Catalog
import Foundation
import LoupeTestSupport
import PostgresNIO
import Store
import Testing

/// Promotion, rejection and rollback in the model registry: one active model per kind, files checked
/// against their recorded SHA-256, the guard's "still the model I was compared with" condition.
@Suite struct ModelRegistryTests {
    func model(_ db: TestDatabase, _ name: String, directory: URL, activate: Bool, on c: PostgresConnection) async throws -> Int64 {
        let url = directory.appendingPathComponent("\(name).pt")
        let bytes = Data("weights of \(name)".utf8)
        try bytes.write(to: url)
        return try await ModelRegistry().register(kind: "captioner", version: name, path: url.path, sha256: sha256Hex(bytes), configJSON: "{}",
                                                  metricsJSON: "{}", snapshotJSON: "{}", products: [], activate: activate, on: c, logger: testLogger)
    }

    @Test func promoteRejectAndRollBack() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await TestDatabase.with { db in
            try await db.migrateProject()
            try await db.configuration.withConnection(logger: testLogger) { c in
                let registry = ModelRegistry()
                let a = try await model(db, "a", directory: directory, activate: true, on: c)
                let b = try await model(db, "b", directory: directory, activate: false, on: c)
                let cc = try await model(db, "c", directory: directory, activate: false, on: c)
                func active() async throws -> Int64? { try await registry.active(kind: "captioner", on: c, logger: testLogger)?.id }

                // The guard compared b with a; if the active model changed meanwhile, nothing happens.
                await #expect(throws: RegistryError.activeChanged(expected: cc, now: a)) {
                    try await registry.promote(b, reason: "guard", expectedActive: .some(cc), on: c, logger: testLogger)
                }
                #expect(try await active() == a)
                try await registry.promote(b, reason: "guard passed", expectedActive: .some(a), on: c, logger: testLogger)
                #expect(try await active() == b)
                #expect(try await registry.find(a, on: c, logger: testLogger).status == "retired")

                // A rejected model needs --force; a model whose file changed is never promoted.
                try await registry.reject(cc, reason: "metal accuracy 0.5 < active 0.9 − 0.01", on: c, logger: testLogger)
                await #expect(throws: RegistryError.cannotPromote(id: cc, status: .rejected)) {
                    try await registry.promote(cc, reason: "x", on: c, logger: testLogger)
                }
                try Data("tampered".utf8).write(to: directory.appendingPathComponent("c.pt"))
                await #expect(throws: RegistryError.fileMismatch(id: cc, path: directory.appendingPathComponent("c.pt").path)) {
                    try await registry.promote(cc, reason: "x", force: true, on: c, logger: testLogger)
                }
                #expect(try await active() == b)
                #expect(try await registry.find(cc, on: c, logger: testLogger).statusReason?.contains("metal accuracy") == true)

                // Rollback: b → a, then nothing earlier; b is marked rolled back and never returned to.
                let (from, to) = try await registry.rollback(kind: "captioner", reason: "bad drafts", on: c, logger: testLogger)
                #expect(from.id == b && to.id == a)
                #expect(try await active() == a)
                #expect(try await registry.find(b, on: c, logger: testLogger).rolledBackAt != nil)
                await #expect(throws: RegistryError.nothingToRollBackTo(kind: "captioner")) {
                    try await registry.rollback(kind: "captioner", reason: "again", on: c, logger: testLogger)
                }
                #expect(try await active() == a)
                #expect(try await db.scalar("SELECT count(*)::bigint FROM models WHERE status = 'active'") == 1)
            }
        }
    }
}
