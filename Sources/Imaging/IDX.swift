import CImaging
import Foundation

/// The IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed, as Debian ships them): a
/// 4-byte magic (0, 0, type, rank), `rank` big-endian UInt32 dimensions, then the values row-major.
/// Only unsigned bytes (type 0x08) occur in those datasets, and only they are read.
public struct IDXArray: Sendable, Equatable {
    public let shape: [Int]
    public let values: [UInt8]

    public init(shape: [Int], values: [UInt8]) {
        precondition(shape.reduce(1, *) == values.count, "one value per element")
        (self.shape, self.values) = (shape, values)
    }
}

public enum IDXError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case notIDX(String)
    case unsupportedType(UInt8)
    case truncated(expected: Int, got: Int)
    case compression(String)

    public var description: String {
        switch self {
        case .unreadable(let m): "cannot read \(m)"
        case .notIDX(let m): "not an IDX file: \(m)"
        case .unsupportedType(let t): String(format: "IDX value type 0x%02x is not supported (only unsigned bytes, 0x08)", t)
        case .truncated(let expected, let got): "IDX data ends early: \(got) of \(expected) values"
        case .compression(let m): "cannot decompress: \(m)"
        }
    }
}

public enum IDX {
    /// Reads an `.idx` or `.idx.gz` file. At most `maxBytes` after decompression (default 256 MiB).
    public static func read(_ url: URL, maxBytes: Int = 256 << 20) throws -> IDXArray {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw IDXError.unreadable(url.path) }
        return try parse(data, maxBytes: maxBytes)
    }

    public static func parse(_ data: Data, maxBytes: Int = 256 << 20) throws -> IDXArray {
        var bytes = [UInt8](data)
        if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B { bytes = try gunzip(bytes, maxBytes: maxBytes) }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else { throw IDXError.notIDX("bad magic number") }
        guard bytes[2] == 0x08 else { throw IDXError.unsupportedType(bytes[2]) }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else { throw IDXError.notIDX("header shorter than its \(rank) dimensions") }
        var shape: [Int] = []
        for d in 0 ..< rank {
            let o = 4 + 4 * d
            shape.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        let count = shape.reduce(1, *)
        let start = 4 + 4 * rank
        guard bytes.count - start >= count else { throw IDXError.truncated(expected: count, got: bytes.count - start) }
        return IDXArray(shape: shape, values: Array(bytes[start ..< start + count]))
    }

    static func gunzip(_ bytes: [UInt8], maxBytes: Int) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = bytes.withUnsafeBufferPointer { li_gunzip($0.baseAddress, $0.count, maxBytes, &out, &size, &message, message.count) }
        defer { li_free(out) }
        guard status == LI_OK, let out else {
            throw IDXError.compression(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
