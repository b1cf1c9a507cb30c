import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import PostgresNIO
import Prometheus
import Store

/// One Prometheus registry per process: swift-metrics can be bootstrapped only once, and every app a
/// test builds shares it. A metric object (`Counter`, `Timer`) binds to the factory in place when it is
/// made, so `bootstrap()` must run before the first one exists: before the model server and the routes.
enum ServiceMetrics {
    static func bootstrap() { _ = registry }

    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let buckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                   .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)]
        factory.defaultDurationHistogramBuckets = buckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}

/// `/healthz` (the process answers), `/readyz` (database and model ready), `/metrics`, `/openapi.json`.
struct HealthController: Sendable {
    let client: PostgresClient
    let drafts: any DraftStore
    let generator: any DraftGenerator
    let openAPI: Data
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<LoupeRequestContext>) {
        router.get("healthz") { _, _ in ["status": "ok"] }
        router.get("readyz", use: ready)
        router.get("metrics", use: metrics)
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
    }

    struct Readiness: Codable, ResponseEncodable {
        let status: String
        let database: String
        let model: String?
    }

    @Sendable func ready(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        var database = "ok"
        do {
            try await withTimeout(.seconds(2)) {
                _ = try await client.rows("SELECT 1", logger: context.logger)
            }
        } catch {
            database = "unavailable"
        }
        let model = generator.loaded?.version
        let ok = database == "ok" && model != nil
        return try Readiness(status: ok ? "ready" : "not ready", database: database, model: model)
            .response(from: request, context: context, status: ok ? .ok : .serviceUnavailable, location: nil)
    }

    @Sendable func metrics(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        if let counts = try? await drafts.countsByStatus(logger: context.logger) {
            for (status, count) in counts {
                registry.makeGauge(name: "loupe_drafts", labels: [("status", status.rawValue)], help: "Drafts by status").set(Double(count))
            }
        }
        if let model = generator.loaded {
            ModelGauge.shared.set(version: model.version, registry: registry)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}

/// `loupe_model_info{version="…"} 1` for the served model, 0 for versions served before.
final class ModelGauge: @unchecked Sendable {
    static let shared = ModelGauge()
    private let lock = NSLock()
    private var current: String?

    func set(version: String, registry: PrometheusCollectorRegistry) {
        lock.withLock {
            guard current != version else { return }
            if let current { registry.makeGauge(name: "loupe_model_info", labels: [("version", current)], help: "The served captioner").set(0.0) }
            registry.makeGauge(name: "loupe_model_info", labels: [("version", version)], help: "The served captioner").set(1.0)
            current = version
        }
    }
}

struct TimedOut: Error {}

func withTimeout<T: Sendable>(_ duration: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask { try await Task.sleep(for: duration); throw TimedOut() }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
