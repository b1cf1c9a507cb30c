import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LoupeTestSupport
import NIOCore
import Service
import Store
import Testing

@Suite(.serialized) struct OperationsTests {
    @Test func aPromotedModelIsServedWithoutRestart() async throws {
        try await withService { client, harness in
            #expect(try await upload(client, harness)["model"] as? String == "tiny-a")
            let b = try await harness.register(version: "tiny-b", activate: true)
            var version = ""
            for _ in 0 ..< 100 {
                let ready = try json(try await client.execute(uri: "/readyz", method: .get))
                version = ready["model"] as? String ?? ""
                if version == "tiny-b" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(version == "tiny-b")
            let draft = try await upload(client, harness)
            #expect(draft["model"] as? String == "tiny-b")
            #expect(draft["model_id"] as? Int == Int(b))
            #expect(try await harness.db.scalar("SELECT count(DISTINCT model_version)::bigint FROM drafts") == 2)
        }
    }

    @Test func healthReadinessAndMetrics() async throws {
        try await withService { client, harness in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            #expect(try json(ready)["database"] as? String == "ok")
            _ = try await upload(client, harness)
            _ = try await client.execute(uri: "/v1/drafts/1", method: .get, headers: harness.bearer("ada"))
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"loupe_drafts{status="pending"} 1"#))
            #expect(text.contains(#"loupe_model_info{version="tiny-a"} 1"#))
            #expect(text.contains("loupe_inference_seconds_bucket"))
            #expect(text.contains("http_server_request_duration_bucket"))
            #expect(text.contains(#"http_route="/v1/drafts""#))
            #expect(text.contains("hb_requests_total") || text.contains("hb_requests{"))
        }
    }

    @Test func notReadyWithoutAModel() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            var config = ServiceConfiguration()
            config.objectsDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-nomodel-\(UUID().uuidString)").path
            config.modelPollInterval = .milliseconds(100)
            let dependencies = try ServiceDependencies.live(config, database: db.configuration, logger: testLogger)
            let app = try await buildApplication(config, dependencies: dependencies, logger: testLogger)
            try await app.test(.router) { client in
                try await Task.sleep(for: .milliseconds(300))
                let ready = try await client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .serviceUnavailable)
                #expect(try json(ready)["database"] as? String == "ok")
            }
        }
    }

    /// The OpenAPI document lists exactly the routes the router serves, and the documented required
    /// properties of a draft, a list and an error are present in real responses.
    @Test func openAPIDocumentMatchesTheRouter() async throws {
        try await withService { client, harness in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            let document = try json(response)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(paths.flatMap { path, ops in ops.keys.map { "\($0.uppercased()) \(path)" } })

            let router = try await buildRouter(ServiceConfiguration(), dependencies: try ServiceDependencies.live(
                ServiceConfiguration(), database: harness.db.configuration, logger: testLogger), logger: testLogger)
            let api = Set(router.routes.map { route -> String in
                let path = "/" + route.path.components.map { c -> String in
                    let s = "\(c)"
                    return s.hasPrefix(":") ? "{\(s.dropFirst())}" : s
                }.joined(separator: "/")
                return "\(route.method) \(path)"
            }.filter { route in route.contains(" /v1/") || ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains { route.hasSuffix(" \($0)") } })
            #expect(api == documented, "served but undocumented: \(api.subtracting(documented).sorted()); documented but not served: \(documented.subtracting(api).sorted())")

            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            func required(_ name: String) -> [String] { schemas[name]?["required"] as? [String] ?? [] }
            let draft = try await upload(client, harness)
            #expect(!required("Draft").isEmpty)
            for key in required("Draft") { #expect(draft[key] != nil, "draft lacks \(key)") }
            let claim = try #require(draft["category"] as? [String: Any])
            for key in required("Claim") { #expect(claim.keys.contains(key), "claim lacks \(key)") }
            let error = try json(try await client.execute(uri: "/v1/drafts/999", method: .get, headers: harness.bearer("ada")))
            for key in required("Error") { #expect(error[key] != nil) }
        }
    }
}
