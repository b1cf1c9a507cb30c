import Captioner
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Imaging
import Logging
import LoupeTestSupport
import NIOCore
import PostgresNIO
import Service
import Store
import Testing
import Torch

/// Tiny captioners (`writeTinyCaptioner`) written once per process; two versions test switching.
enum TinyModels {
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-service-models-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func file(version: String) throws -> URL {
        let url = directory.appendingPathComponent("\(version).pt")
        if !FileManager.default.fileExists(atPath: url.path) { try writeTinyCaptioner(version: version, to: url) }
        return url
    }
}

/// The catalogue's photos: real 256×256 JPEGs.
func fixturePhoto(_ n: Int = 1) throws -> Data {
    try Data(contentsOf: repositoryRoot.appendingPathComponent(String(format: "Fixtures/catalogue/images/fx-2026-%06d.jpg", n)))
}

/// A running service over a fresh database: users of every role, the tiny model active in the registry.
struct Harness: Sendable {
    let db: TestDatabase
    let objects: URL
    let tokens: [String: String]
    let modelID: Int64

    func bearer(_ name: String) -> HTTPFields { [.authorization: "Bearer \(tokens[name]!)"] }

    func count(_ table: String) async throws -> Int { try await db.scalar("SELECT count(*)::bigint FROM \(table)") }

    func objectFiles() -> [String] {
        let base = objects.appendingPathComponent("objects")
        let walker = FileManager.default.enumerator(atPath: base.path)
        var out: [String] = []
        while let path = walker?.nextObject() as? String {
            if ObjectKey(URL(fileURLWithPath: path).lastPathComponent) != nil { out.append(path) }
        }
        return out
    }

    func register(version: String, activate: Bool) async throws -> Int64 {
        let url = try TinyModels.file(version: version)
        return try await db.configuration.withConnection(logger: testLogger) {
            try await ModelRegistry().register(kind: "captioner", version: version, path: url.path, sha256: String(repeating: "0", count: 64),
                                               configJSON: "{}", metricsJSON: "{}", snapshotJSON: "{}", products: [], activate: activate,
                                               on: $0, logger: testLogger)
        }
    }
}

/// Builds the real application (the same `buildApplication` as `loupe serve`) over a fresh database and
/// runs `body` with a router test client once the model is loaded. `adjust` may swap dependencies.
func withService(
    live: Bool = false,
    configure: (inout ServiceConfiguration) -> Void = { _ in },
    adjust: @Sendable (inout ServiceDependencies) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol, Harness) async throws -> Void
) async throws {
    try await TestDatabase.with { db in
        try await db.migrateProject()
        var tokens: [String: String] = [:]
        try await db.configuration.withConnection(logger: testLogger) { connection in
            for (name, role) in [("ada", Role.artisan), ("ben", .artisan), ("mona", .moderator), ("root", .admin)] {
                tokens[name] = try await UserRepository().add(name: name, role: role, on: connection, logger: testLogger).token
            }
        }
        let objects = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-service-objects-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: objects) }
        var config = ServiceConfiguration()
        config.objectsDirectory = objects.path
        config.modelPollInterval = .milliseconds(100)
        config.databaseConnections = 4
        config.beam = 2
        configure(&config)
        if live { config.port = 0 }
        var harness = Harness(db: db, objects: objects, tokens: tokens, modelID: 0)
        harness = Harness(db: db, objects: objects, tokens: tokens, modelID: try await harness.register(version: "tiny-a", activate: true))
        var dependencies = try ServiceDependencies.live(config, database: db.configuration, logger: testLogger)
        adjust(&dependencies)
        let app = try await buildApplication(config, dependencies: dependencies, logger: testLogger)
        let frozen = harness
        try await app.test(live ? .live : .router) { client in
            try await waitUntilReady(client)
            try await body(client, frozen)
        }
    }
}

func waitUntilReady(_ client: any TestClientProtocol) async throws {
    for _ in 0 ..< 200 {
        if try await client.execute(uri: "/readyz", method: .get).status == .ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("the service never became ready")
}

/// A multipart/form-data body: (field name, file name or nil, bytes).
func multipart(_ parts: [(String, String?, Data)], boundary: String = "loupe-test-boundary-1234") -> (HTTPFields, ByteBuffer) {
    var body = Data()
    for (name, filename, data) in parts {
        body.append(Data("--\(boundary)\r\n".utf8))
        if let filename {
            body.append(Data("Content-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
        } else {
            body.append(Data("Content-Disposition: form-data; name=\"\(name)\"\r\n\r\n".utf8))
        }
        body.append(data)
        body.append(Data("\r\n".utf8))
    }
    body.append(Data("--\(boundary)--\r\n".utf8))
    return ([.contentType: "multipart/form-data; boundary=\(boundary)"], ByteBuffer(bytes: body))
}

func headers(_ a: HTTPFields, _ b: HTTPFields) -> HTTPFields {
    var out = a
    out.append(contentsOf: b)
    return out
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

func json(_ response: TestResponse) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] else {
        throw TorchError("not a JSON object: \(String(buffer: response.body))")
    }
    return object
}

func errorCode(_ response: TestResponse) -> String? {
    ((try? json(response))?["error"] as? [String: Any])?["code"] as? String
}

/// Uploads one fixture photo as `artisan`; returns the draft's JSON.
func upload(_ client: any TestClientProtocol, _ harness: Harness, as artisan: String = "ada", photo: Int = 1) async throws -> [String: Any] {
    let (h, body) = multipart([("photo", "ring.jpg", try fixturePhoto(photo)), ("notes", nil, Data("hand made in silver".utf8))])
    let response = try await client.execute(uri: "/v1/drafts", method: .post, headers: headers(h, harness.bearer(artisan)), body: body)
    #expect(response.status == .created, "\(String(buffer: response.body))")
    return try json(response)
}
