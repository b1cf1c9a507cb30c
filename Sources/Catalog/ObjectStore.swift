import Crypto
import Foundation
import Torch

/// The SHA-256 of `data` as 64 lowercase hex characters.
public func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// The address of an object: the lowercase hex SHA-256 of its bytes. A key can only be made from a
/// digest or by parsing exactly 64 hex characters, so a key can never name a path outside the store.
public struct ObjectKey: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let hex: String

    public init?(_ description: String) {
        guard description.utf8.count == 64,
              description.utf8.allSatisfy({ (0x30 ... 0x39).contains($0) || (0x61 ... 0x66).contains($0) })
        else { return nil }
        hex = description
    }

    public init(digestOf data: Data) { hex = sha256Hex(data) }

    public var description: String { hex }

    /// `ab/cd/abcd…`: two levels of fan-out keep directories small.
    public var relativePath: String {
        let h = Array(hex)
        return "\(String(h[0 ..< 2]))/\(String(h[2 ..< 4]))/\(hex)"
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = ObjectKey(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a SHA-256 key: \(text)"))
        }
        self = key
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

public enum ObjectStoreError: Error, CustomStringConvertible, Equatable {
    case notFound(ObjectKey)
    case corrupt(ObjectKey)
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let key): "object \(key) not found"
        case .corrupt(let key): "object \(key) does not match its digest"
        case .io(let message): "object store: \(message)"
        }
    }
}

/// Content-addressed blob storage. A directory implements it here; an S3-compatible bucket can
/// implement the same four calls (PUT is idempotent because keys are digests).
public protocol ObjectStore: Sendable {
    /// Stores `data` and returns its key. Storing the same bytes twice stores them once.
    func put(_ data: Data) async throws -> ObjectKey
    func get(_ key: ObjectKey) async throws -> Data
    func contains(_ key: ObjectKey) async throws -> Bool
    func delete(_ key: ObjectKey) async throws
}

/// Objects as files under `root/objects/ab/cd/<sha256>`. Writes go to `root/tmp`, are fsynced and
/// renamed into place, so a crash leaves either the whole object or nothing at its key.
public struct DirectoryObjectStore: ObjectStore {
    public let root: URL

    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        for sub in ["objects", "tmp"] {
            try FileManager.default.createDirectory(at: self.root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    public func url(for key: ObjectKey) -> URL {
        root.appendingPathComponent("objects").appendingPathComponent(key.relativePath)
    }

    public func put(_ data: Data) async throws -> ObjectKey {
        let key = ObjectKey(digestOf: data)
        let destination = url(for: key)
        if FileManager.default.fileExists(atPath: destination.path) {
            // Fresh again: the orphan collector only deletes objects untouched for its grace period, so
            // bytes that a new upload is about to reference are never collected under it.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: destination.path)
            return key
        }
        do {
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(data, to: destination, temporaryDirectory: root.appendingPathComponent("tmp"))
        } catch {
            throw ObjectStoreError.io("writing \(key.relativePath): \(error.localizedDescription)")
        }
        return key
    }

    public func get(_ key: ObjectKey) async throws -> Data {
        let file = url(for: key)
        guard let data = FileManager.default.contents(atPath: file.path) else { throw ObjectStoreError.notFound(key) }
        guard ObjectKey(digestOf: data) == key else { throw ObjectStoreError.corrupt(key) }
        return data
    }

    public func contains(_ key: ObjectKey) async throws -> Bool {
        FileManager.default.fileExists(atPath: url(for: key).path)
    }

    public func delete(_ key: ObjectKey) async throws {
        let file = url(for: key)
        guard FileManager.default.fileExists(atPath: file.path) else { return }
        try FileManager.default.removeItem(at: file)
    }

    /// Every stored object last written or re-stored before `date` (the orphan collector's candidates).
    public func keys(modifiedBefore date: Date) throws -> [ObjectKey] {
        let base = root.appendingPathComponent("objects")
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.contentModificationDateKey, .isRegularFileKey])
        else { return [] }
        var out: [ObjectKey] = []
        for case let url as URL in walker {
            let values = try url.resourceValues(forKeys: [.contentModificationDateKey, .isRegularFileKey])
            guard values.isRegularFile == true, let key = ObjectKey(url.lastPathComponent),
                  let modified = values.contentModificationDate, modified < date else { continue }
            out.append(key)
        }
        return out
    }
}
