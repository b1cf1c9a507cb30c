import Captioner
import Foundation

/// Everything `loupe serve` can be told. Defaults here; the CLI fills values from flags and environment.
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Apply pending migrations from this directory at start (nil: don't).
    public var migrationsDirectory: String?
    /// Where photos go (content-addressed).
    public var objectsDirectory = ".cache/objects"
    /// The model to serve when the registry has no active captioner (nil: wait for one).
    public var fallbackModel: String?
    /// How often to look for a newly promoted model.
    public var modelPollInterval: Duration = .seconds(5)
    /// Beam width for drafts.
    public var beam = 3
    /// Beam search's length penalty α (`DecodingOptions.lengthPenalty`).
    public var lengthPenalty = DecodingOptions().lengthPenalty
    /// Run the encoder as libtorch operators (the reference) instead of its fused oneDNN primitives;
    /// for side-by-side measurements (`benchmarks/service_ab.sh`).
    public var operatorEncoder = false
    /// Most uploads drafted together (those waiting while the previous batch ran).
    public var inferenceBatch = 8
    /// How long a batch waits for the uploads the previous one saw (`ModelServer.gatherWindow`).
    public var inferenceGather: Duration = .milliseconds(70)
    /// Largest request body for an upload, in bytes (413 above it).
    public var maxUploadBytes = 15 * 1024 * 1024
    /// Most photos in one draft.
    public var maxPhotos = 8
    /// Largest decoded photo, in pixels (a 1000×1000 photo is 1 MP; 40 MP covers any camera).
    public var maxPixels = 40_000_000
    /// Objects no row refers to are deleted after this long (an upload in flight is always younger).
    public var orphanGracePeriod: Duration = .seconds(3600)
    public var collectorInterval: Duration = .seconds(600)
    /// Queue a retraining once this many approved edits and feedback records have arrived since the
    /// last one was queued (0: never automatically).
    public var retrainAfter = 50
    /// Database connections in the pool.
    public var databaseConnections = 16
    /// The conditional GAN behind `POST /v1/synthetic-images` (nil: the endpoint answers 503).
    public var ganModel: String?
    /// The sentiment model that scores reviews as they arrive (nil: posting a review answers 503).
    public var sentimentModel: String?
    /// Most images one synthetic-image request may ask for.
    public var maxSyntheticImages = 16

    public init() {}
}
