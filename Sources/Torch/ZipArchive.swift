import Foundation

/// A minimal reader for the uncompressed zip archives that `torch.save` (≥ 1.6) and
/// `torch::pickle_save` write: central directory, stored entries, zip64 sizes and offsets.
struct ZipArchive {
    struct Entry { let offset: Int; let size: Int }

    let bytes: [UInt8]
    private(set) var entries: [String: Entry] = [:]

    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(bytes: [UInt8]) throws {
        self.bytes = bytes
        guard bytes.count >= 22 else { throw PickleError(message: "zip archive too short") }
        // End of central directory: signature 0x06054b50, searched backwards over a possible comment.
        var eocd = -1
        var i = bytes.count - 22
        while i >= Swift.max(0, bytes.count - 22 - 65_535) {
            if u32(i) == 0x0605_4B50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw PickleError(message: "zip end-of-directory record not found") }
        var count = Int(u16(eocd + 10))
        var directory = Int(u32(eocd + 16))
        if directory == 0xFFFF_FFFF || count == 0xFFFF, eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let record = Int(u64(eocd - 20 + 8))
            guard record + 56 <= bytes.count, u32(record) == 0x0606_4B50 else {
                throw PickleError(message: "zip64 end-of-directory record not found")
            }
            count = Int(u64(record + 32))
            directory = Int(u64(record + 48))
        }
        var p = directory
        for _ in 0 ..< count {
            guard p + 46 <= bytes.count, u32(p) == 0x0201_4B50 else { throw PickleError(message: "corrupt zip directory") }
            let method = u16(p + 10)
            var size = Int(u32(p + 24))
            var compressed = Int(u32(p + 20))
            let nameLength = Int(u16(p + 28)), extraLength = Int(u16(p + 30)), commentLength = Int(u16(p + 32))
            var local = Int(u32(p + 42))
            let name = String(decoding: bytes[p + 46 ..< p + 46 + nameLength], as: UTF8.self)
            // zip64 extra field (id 1) holds whichever of the three values overflowed, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = Int(u16(e + 2))
                if id == 1 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF { size = Int(u64(q)); q += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = Int(u64(q)); q += 8 }
                    if local == 0xFFFF_FFFF { local = Int(u64(q)) }
                }
                e += 4 + length
            }
            guard method == 0, size == compressed else {
                throw PickleError(message: "zip entry \(name) is compressed (method \(method)); PyTorch archives are stored")
            }
            guard local + 30 <= bytes.count, u32(local) == 0x0403_4B50 else {
                throw PickleError(message: "corrupt local header for \(name)")
            }
            let start = local + 30 + Int(u16(local + 26)) + Int(u16(local + 28))
            guard start + size <= bytes.count else { throw PickleError(message: "zip entry \(name) is truncated") }
            entries[name] = Entry(offset: start, size: size)
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    func data(_ name: String) -> ArraySlice<UInt8>? {
        entries[name].map { bytes[$0.offset ..< $0.offset + $0.size] }
    }

    private func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    private func u32(_ o: Int) -> UInt32 { (0 ..< 4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) } }
    private func u64(_ o: Int) -> UInt64 { (0 ..< 8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
}
