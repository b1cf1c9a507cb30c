import Foundation

/// Reads the safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`, then the raw
/// little-endian tensor bytes. Every entry is checked against the file before any tensor is made: known
/// dtype, offsets inside the data and in order, byte count equal to shape × dtype size.
public enum SafeTensors {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let range: Range<Int>  // byte offsets within the data section
    }

    static let dtypes: [String: DType] = [
        "F32": .float32, "F64": .float64, "F16": .float16, "BF16": .bfloat16, "I64": .int64, "I32": .int32, "I16": .int16, "I8": .int8,
        "U8": .uint8, "BOOL": .bool,
    ]

    /// The tensors of a file by name, in the header's order of offsets.
    public static func load(from url: URL) throws -> [(name: String, tensor: Tensor)] {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        let (entries, start) = try header(data, file: url.lastPathComponent)
        return try data.withUnsafeBytes { raw in
            try entries.map { entry in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(start + entry.range.lowerBound) ..< (start + entry.range.upperBound)])
                return (entry.name, try Tensor.fromBytes(bytes, dtype: entry.dtype, shape: entry.shape))
            }
        }
    }

    /// The parsed and checked header, and where the data section starts.
    public static func header(_ data: Data, file: String = "safetensors") throws -> (entries: [Entry], dataStart: Int) {
        func fail(_ message: String) -> TorchError { TorchError("\(file): \(message)") }
        guard data.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length >= 2, length <= UInt64(data.count - 8), length <= 100_000_000 else { throw fail("header length \(length) does not fit the file") }
        let start = 8 + Int(length)
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< start)) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataSize = data.count - start
        var entries: [Entry] = []
        for (name, value) in json where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("entry \(name) lacks dtype, shape or data_offsets") }
            guard let dtype = dtypes[dtypeName] else { throw fail("entry \(name) has unsupported dtype \(dtypeName)") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw fail("entry \(name) lies outside the data (\(offsets) of \(dataSize) bytes)")
            }
            guard shape.reduce(1, *) * dtype.byteSize == offsets[1] - offsets[0] else {
                throw fail("entry \(name): \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, range: offsets[0] ..< offsets[1]))
        }
        entries.sort { ($0.range.lowerBound, $0.name) < ($1.range.lowerBound, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where a.range.upperBound > b.range.lowerBound {
            throw fail("entries \(a.name) and \(b.name) overlap")
        }
        return (entries, start)
    }
}
