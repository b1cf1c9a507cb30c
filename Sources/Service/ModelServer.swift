import Captioner
import Foundation
import Imaging
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Store
import Torch

/// Which model wrote a draft.
public struct ModelInfo: Sendable, Equatable {
    /// The registry row, when the model came from the registry.
    public let id: Int64?
    public let version: String
    public let path: String

    public init(id: Int64?, version: String, path: String) { (self.id, self.version, self.path) = (id, version, path) }
}

public struct GeneratedDraft: Sendable {
    public let draft: Draft
    public let model: ModelInfo
    public let milliseconds: Double
}

/// Photos → a draft. The service depends on this protocol; tests can substitute a failing one.
public protocol DraftGenerator: Sendable {
    func generate(_ images: [RGBImage]) async throws -> GeneratedDraft
    var loaded: ModelInfo? { get }
}

/// The captioner, served from one serial queue: libtorch modules are not safe to share between threads,
/// and on 2 cores running drafts one at a time (each using every core) is also the fastest. A new model
/// is loaded on a second queue while the current one keeps serving, then swapped in between two drafts.
public final class ModelServer: DraftGenerator, @unchecked Sendable {
    private let inference = DispatchQueue(label: "loupe.model.inference")
    private let loading = DispatchQueue(label: "loupe.model.loading")
    private let lock = NSLock()
    private var drafter: Drafter?          // read and swapped on `inference` only
    private var info: ModelInfo?           // guarded by `lock`
    let options: DecodingOptions
    let logger: Logger
    let latency = Timer(label: "loupe_inference_seconds", dimensions: [], preferredDisplayUnit: .seconds)

    public init(beam: Int, logger: Logger) {
        options = DecodingOptions(beamWidth: beam)
        self.logger = logger
    }

    public var loaded: ModelInfo? { lock.withLock { info } }

    public func generate(_ images: [RGBImage]) async throws -> GeneratedDraft {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GeneratedDraft, any Error>) in
            inference.async { [self] in
                guard let drafter, let info = loaded else { continuation.resume(throwing: ModelUnavailable()); return }
                let start = ContinuousClock.now
                do {
                    let draft = try drafter.describe(images, options: options)
                    let elapsed = ContinuousClock.now - start
                    latency.recordNanoseconds(elapsed.nanoseconds)
                    continuation.resume(returning: GeneratedDraft(draft: draft, model: info, milliseconds: elapsed.milliseconds))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Loads `path` (weights + `.json` config) and makes it the served model once loaded.
    public func load(_ model: ModelInfo) async throws {
        let drafter = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Drafter, any Error>) in
            loading.async {
                continuation.resume(with: Result { try Drafter(contentsOf: URL(fileURLWithPath: model.path)) })
            }
        }
        let box = UncheckedBox(drafter)
        let version = drafter.model.config.version
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            inference.async { [self] in
                self.drafter = box.value
                lock.withLock { info = ModelInfo(id: model.id, version: version, path: model.path) }
                continuation.resume()
            }
        }
        logger.info("serving model", metadata: ["version": "\(version)", "registry_id": "\(model.id.map(String.init) ?? "none")",
                                                "path": "\(model.path)"])
    }
}

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ value: T) { self.value = value } }

/// Keeps the model server on the registry's active captioner: at start and then every poll interval it
/// asks which model is active and loads it when it changed, so a promotion takes effect without a
/// restart. With no active model it serves the fallback file, if configured. A model that fails to load
/// is logged and the current one keeps serving.
struct ModelWatcher: Service {
    let server: ModelServer
    let client: PostgresClient
    let fallback: String?
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var failed: Int64?
        await repeatUntilShutdown(every: interval) { await refresh(failed: &failed) }
    }

    func refresh(failed: inout Int64?) async {
        do {
            let active = try await client.withConnection { connection in
                try await ModelRegistry().active(kind: "captioner", on: connection, logger: logger)
            }
            if let active {
                guard server.loaded?.id != active.id, failed != active.id else { return }
                do {
                    try await server.load(ModelInfo(id: active.id, version: active.version, path: active.path))
                } catch {
                    failed = active.id
                    logger.error("cannot load the active model", metadata: ["id": "\(active.id)", "error": "\(error)"])
                }
            } else if server.loaded == nil, let fallback, failed != -1 {
                do {
                    try await server.load(ModelInfo(id: nil, version: "", path: fallback))
                } catch {
                    failed = -1
                    logger.error("cannot load the fallback model", metadata: ["path": "\(fallback)", "error": "\(error)"])
                }
            }
        } catch {
            logger.warning("model registry unreachable", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
