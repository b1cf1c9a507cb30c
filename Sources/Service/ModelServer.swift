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
    /// Time to draft the whole batch this upload was in.
    public let milliseconds: Double
    /// Uploads drafted together with this one (itself included).
    public let batch: Int
}

/// Photos → a draft. The service depends on this protocol; tests can substitute a failing one.
public protocol DraftGenerator: Sendable {
    func generate(_ images: [RGBImage]) async throws -> GeneratedDraft
    var loaded: ModelInfo? { get }
    /// The side the served model shrinks photos to, so uploads can be decoded reduced; nil: full size.
    var inputSide: Int? { get }
}

extension DraftGenerator {
    public var inputSide: Int? { nil }
}

/// The captioner, served from one serial queue: libtorch modules are not safe to share between threads.
/// Requests that arrive while a batch is being drafted wait together and are drafted as the next batch
/// (at most `maxBatch`): one encoder pass over all their photos and one beam search stepping all their
/// beams, so the decoder's weights are read once per step for the whole batch. Under load that is what
/// keeps latency down; a lone request is a batch of one (see `gatherWindow`). A new model is loaded on a
/// second queue while the current one keeps serving, then swapped in between two batches.
public final class ModelServer: DraftGenerator, @unchecked Sendable {
    private let inference = DispatchQueue(label: "loupe.model.inference")
    private let loading = DispatchQueue(label: "loupe.model.loading")
    private let lock = NSLock()
    private var drafter: Drafter?          // read and swapped on `inference` only
    private var info: ModelInfo?           // guarded by `lock`
    private var side: Int?                 // guarded by `lock`: the served model's input side
    private var colourStatistics = false   // guarded by `lock`: whether the served model reads colour statistics
    private var waiting: [Request] = []    // guarded by `lock`
    private var scheduled = false          // guarded by `lock`: a batch is queued on `inference`
    private var demand = 0                 // on `inference` only: the last batch plus the uploads left waiting after it
    let options: DecodingOptions
    let maxBatch: Int
    /// Under load the uploads answered together come back together, but spread out: each is stored,
    /// answered, sent again, parsed and decoded, eight of them on two cores. The first would start a
    /// batch of one and the rest wait behind it. So the next batch waits up to this long for the demand
    /// the last one saw: its own uploads plus those left waiting when it ended. Counting only its own
    /// (and waiting 15 ms) let eight clients settle into batches of 7 and 1, or 4 and 4, each group
    /// waiting for the other's pass; with demand every batch is 8 — within 40 ms until the photos were
    /// prepared in the handlers, 70 ms since (README, service load). A lone upload (demand 1) never
    /// waits, and a full batch goes at once.
    let gatherWindow: Duration
    let logger: Logger
    let latency = Timer(label: "loupe_inference_seconds", dimensions: [], preferredDisplayUnit: .seconds)
    let batchSize = Recorder(label: "loupe_inference_batch_size")

    struct Request {
        let images: [RGBImage]
        /// Prepared in the request's handler for the model served then (nil: none was loaded yet).
        let prepared: Drafter.PreparedPhotos?
        let continuation: CheckedContinuation<GeneratedDraft, any Error>
    }

    /// Loaded drafters run their encoder as libtorch operators (`Drafter.operatorEncoder`).
    let operatorEncoder: Bool

    public init(beam: Int, lengthPenalty: Double = DecodingOptions().lengthPenalty, maxBatch: Int = 8,
                gatherWindow: Duration = .milliseconds(70), operatorEncoder: Bool = false, logger: Logger) {
        precondition(maxBatch >= 1, "batches of at least one request")
        precondition(gatherWindow >= .zero, "a gather window cannot be negative")
        options = DecodingOptions(beamWidth: beam, lengthPenalty: lengthPenalty)
        self.maxBatch = maxBatch
        self.gatherWindow = gatherWindow
        self.operatorEncoder = operatorEncoder
        self.logger = logger
    }

    public var loaded: ModelInfo? { lock.withLock { info } }
    public var inputSide: Int? { lock.withLock { side } }

    /// The photos are prepared for the encoder here, on the caller's thread (`Drafter.prepare`: resizing
    /// and colour statistics, a few milliseconds a photo), so that requests prepare theirs in parallel
    /// while a batch gathers instead of one after another inside it.
    public func generate(_ images: [RGBImage]) async throws -> GeneratedDraft {
        let (size, colour) = lock.withLock { (side, colourStatistics) }
        let prepared = try size.map { try Drafter.prepare(images, size: $0, colourStatistics: colour) }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GeneratedDraft, any Error>) in
            let schedule = lock.withLock {
                waiting.append(Request(images: images, prepared: prepared, continuation: continuation))
                defer { scheduled = true }
                return !scheduled
            }
            if schedule { inference.async { [self] in draftNextBatch() } }
        }
    }

    /// On `inference`: drafts the requests waiting now (up to `maxBatch`), then queues the next batch if
    /// more arrived, behind anything else queued meanwhile (a model swap).
    private func draftNextBatch() {
        if demand > 1 {
            let deadline = ContinuousClock.now + gatherWindow, wanted = min(demand, maxBatch)
            while lock.withLock({ waiting.count }) < wanted && ContinuousClock.now < deadline { usleep(500) }
        }
        let batch = lock.withLock {
            let taken = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(taken.count)
            return taken
        }
        if !batch.isEmpty { draft(batch) }
        let (more, left) = lock.withLock {
            scheduled = !waiting.isEmpty
            return (scheduled, waiting.count)
        }
        demand = batch.count + left
        if more { inference.async { [self] in draftNextBatch() } }
    }

    private func draft(_ batch: [Request]) {
        guard let drafter, let info = loaded else {
            for request in batch { request.continuation.resume(throwing: ModelUnavailable()) }
            return
        }
        let start = ContinuousClock.now
        let results = drafter.describe(prepared: batch.map { request in Result { try request.prepared ?? drafter.prepare(request.images) } },
                                       options: options)
        let elapsed = ContinuousClock.now - start
        latency.recordNanoseconds(elapsed.nanoseconds)
        batchSize.record(batch.count)
        for (request, result) in zip(batch, results) {
            request.continuation.resume(with: result.map { GeneratedDraft(draft: $0, model: info, milliseconds: elapsed.milliseconds, batch: batch.count) })
        }
    }

    /// Loads `path` (weights + `.json` config) and makes it the served model once loaded.
    public func load(_ model: ModelInfo) async throws {
        let drafter = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Drafter, any Error>) in
            loading.async {
                continuation.resume(with: Result {
                    let drafter = try Drafter(contentsOf: URL(fileURLWithPath: model.path))
                    drafter.operatorEncoder = self.operatorEncoder
                    return drafter
                })
            }
        }
        let box = UncheckedSendable(drafter)
        let version = drafter.model.config.version, imageSize = drafter.model.config.imageSize
        let colour = drafter.model.config.usesColourStatistics
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            inference.async { [self] in
                self.drafter = box.value
                lock.withLock { (info, side, colourStatistics) = (ModelInfo(id: model.id, version: version, path: model.path), imageSize, colour) }
                continuation.resume()
            }
        }
        logger.info("serving model", metadata: ["version": "\(version)", "registry_id": "\(model.id.map(String.init) ?? "none")",
                                                "path": "\(model.path)"])
    }
}


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
            let active = try await client.leasing { connection in
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
