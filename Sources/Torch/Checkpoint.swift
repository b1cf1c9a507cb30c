import CTorch
import Foundation

/// Named-tensor checkpoints in PyTorch's own file format.
///
/// - Saving writes a `{name: tensor}` dict with libtorch's `torch::pickle_save`: the zip format that
///   Python's `torch.load` reads. The file is written to a temporary name, fsynced and renamed.
/// - Loading reads `torch.save` files — the zip format (PyTorch ≥ 1.6, and Loupe's own) and the legacy
///   pre-zip format — with Loupe's own pickle reader, because libtorch 1.13's `pickle_load` cannot read
///   the `OrderedDict` that Python's `model.state_dict()` is.
/// - A model's config is saved beside its weights as JSON: `model.pt` and `model.json`.
public enum Checkpoint {
    public static func save(_ tensors: [(name: String, tensor: Tensor)], to url: URL) throws {
        var seen = Set<String>()
        for (name, _) in tensors where !seen.insert(name).inserted {
            throw TorchError("duplicate tensor name \(name) in checkpoint")
        }
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var cNames = tensors.map { strdup($0.name) }
        defer { cNames.forEach { free($0) } }
        try AtomicFile.write(to: url) { temporary in
            try cNames.withUnsafeMutableBufferPointer { names in
                try withHandles(tensors.map(\.tensor)) { handles, n in
                    let constNames = UnsafeRawPointer(names.baseAddress!).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
                    try check(lt_save_tensor_dict(constNames, handles, n, temporary.path))
                }
            }
        }
    }

    /// Every tensor in a `torch.save` file, in file order. Nested dicts (`{"model": state_dict, …}`)
    /// are flattened with dotted names; non-tensor values (epochs, strings) are skipped.
    public static func load(from url: URL) throws -> [(name: String, tensor: Tensor)] {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: url))
        } catch {
            throw TorchError("cannot read checkpoint \(url.path): \(error.localizedDescription)")
        }
        do {
            return try ZipArchive.isZip(bytes) ? loadZip(bytes) : loadLegacy(bytes)
        } catch let error as PickleError {
            throw TorchError("\(url.lastPathComponent): \(error.message)")
        }
    }

    /// Saves a parameter store's tensors and the model's config beside them (`<name>.json`).
    public static func save<Config: Encodable>(_ store: ParameterStore, config: Config, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try save(store.namedTensors, to: url)
        try AtomicFile.write(try encoder.encode(config), to: configURL(for: url))
    }

    /// The config saved beside `url`'s weights.
    public static func loadConfig<Config: Decodable>(_ type: Config.Type, for url: URL) throws -> Config {
        try JSONDecoder().decode(type, from: Data(contentsOf: configURL(for: url)))
    }

    public static func configURL(for weights: URL) -> URL {
        weights.deletingPathExtension().appendingPathExtension("json")
    }

    // MARK: formats

    static func loadZip(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
        let archive = try ZipArchive(bytes: bytes)
        guard let pickleName = archive.entries.keys.filter({ $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }).min()
        else { throw PickleError(message: "no data.pkl in the archive") }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        var unpickler = Unpickler(bytes: Array(archive.data(pickleName)!))
        let root = try unpickler.load(persistentLoad: storageReference)
        return try collectTensors(root) { ref in
            guard let data = archive.data("\(prefix)data/\(ref.key)") else {
                throw PickleError(message: "storage \(ref.key) missing from the archive")
            }
            return try data.withUnsafeBytes { raw in
                try Tensor.fromBytes(raw, dtype: ref.dtype, shape: [raw.count / ref.dtype.byteSize])
            }
        }
    }

    static func loadLegacy(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
        var position = 0
        func next(_ persistent: (PyValue) throws -> PyValue = { _ in throw PickleError(message: "unexpected storage") }) throws -> PyValue {
            var u = Unpickler(bytes: bytes, position: position)
            let value = try u.load(persistentLoad: persistent)
            position = u.position
            return value
        }
        guard case .int = try next() else { throw PickleError(message: "not a PyTorch checkpoint (no magic number)") }
        guard try next().asInt == 1001 else { throw PickleError(message: "unsupported legacy protocol version") }
        _ = try next()  // sys_info
        var dtypes: [String: DType] = [:]
        let root = try next { pid in
            let value = try storageReference(pid)
            if case .storage(let ref) = value { dtypes[ref.key] = ref.dtype }
            return value
        }
        guard let keys = try next().asTuple?.compactMap(\.asString) else {
            throw PickleError(message: "legacy storage key list missing")
        }
        var storages: [String: Tensor] = [:]
        for key in keys {
            guard let dtype = dtypes[key] else { throw PickleError(message: "storage \(key) has no type") }
            guard position + 8 <= bytes.count else { throw PickleError(message: "storage \(key) is truncated") }
            let count = (0 ..< 8).reduce(0) { $0 | Int(bytes[position + $1]) << (8 * $1) }
            position += 8
            let length = count * dtype.byteSize
            guard count >= 0, position + length <= bytes.count else { throw PickleError(message: "storage \(key) is truncated") }
            storages[key] = try bytes[position ..< position + length].withUnsafeBytes { raw in
                try Tensor.fromBytes(raw, dtype: dtype, shape: [count])
            }
            position += length
        }
        return try collectTensors(root) { ref in
            guard let storage = storages[ref.key] else { throw PickleError(message: "storage \(ref.key) missing") }
            return storage
        }
    }

    /// Walks the unpickled value and rebuilds each tensor from its storage (one storage may back several
    /// tensors, so each is loaded once).
    static func collectTensors(_ root: PyValue, storage: (StorageRef) throws -> Tensor) throws -> [(name: String, tensor: Tensor)] {
        var cache: [String: Tensor] = [:]
        var result: [(name: String, tensor: Tensor)] = []
        func rebuild(_ ref: TensorRef) throws -> Tensor {
            let base: Tensor
            if let cached = cache[ref.storage.key] { base = cached } else {
                base = try storage(ref.storage)
                cache[ref.storage.key] = base
            }
            let needed = zip(ref.shape, ref.strides).reduce(ref.offset + 1) { $0 + ($1.0 - 1) * $1.1 }
            if ref.shape.contains(0) { return try Tensor.zeros(ref.shape, dtype: ref.storage.dtype) }
            guard needed <= base.count else {
                throw PickleError(message: "tensor view exceeds its storage \(ref.storage.key)")
            }
            return try base.asStridedCopy(shape: ref.shape, strides: ref.strides, offset: ref.offset)
        }
        func walk(_ value: PyValue, _ prefix: String) throws {
            switch value {
            case .tensor(let ref): result.append((prefix, try rebuild(ref)))
            case .dict(let d):
                for (key, v) in d.items {
                    let name = key.asString ?? key.asInt.map(String.init) ?? "?"
                    try walk(v, prefix.isEmpty ? name : "\(prefix).\(name)")
                }
            case .list(let l):
                for (i, v) in l.items.enumerated() { try walk(v, prefix.isEmpty ? "\(i)" : "\(prefix).\(i)") }
            case .tuple(let items):
                for (i, v) in items.enumerated() { try walk(v, prefix.isEmpty ? "\(i)" : "\(prefix).\(i)") }
            default: break
            }
        }
        try walk(root, "")
        return result
    }
}

extension ParameterStore {
    /// Saves every parameter and buffer (see `Checkpoint.save`).
    public func save(to url: URL) throws { try Checkpoint.save(namedTensors, to: url) }

    /// Loads a checkpoint written by Loupe or by Python's `torch.save(model.state_dict(), …)`.
    public func load(from url: URL, strict: Bool = true) throws {
        try load(Checkpoint.load(from: url), strict: strict)
    }
}

/// A TorchScript module loaded with `torch::jit::load` (for example the FID InceptionV3 network).
public final class ScriptModule {
    private let handle: lt_module

    public init(contentsOf url: URL) throws {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw TorchError("cannot read TorchScript file \(url.path)")
        }
        var out: lt_module? = nil
        try check(lt_jit_load(url.path, &out))
        handle = out!
        try check(lt_jit_eval(handle))
    }

    deinit { lt_jit_free(handle) }

    public func forward(_ inputs: Tensor...) throws -> Tensor { try forward(inputs) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try withHandles(inputs) { p, n in try make { lt_jit_forward(handle, p, n, $0) } }
    }
}
