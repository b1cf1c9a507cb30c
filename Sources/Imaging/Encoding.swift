import CImaging
import Foundation
import Torch

/// PNG and JPEG encoding of tensors and image grids.
public enum ImageEncoder {
    /// Encodes a (C, H, W) or (H, W) tensor with C ∈ {1, 3, 4}. Floating-point values are taken in
    /// `range` (default [0, 1]) and clamped; uint8 tensors are written as they are.
    public static func png(_ tensor: Tensor, range: ClosedRange<Double> = 0 ... 1) throws -> Data {
        let (bytes, width, height, channels) = try interleaved(tensor, range: range)
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = bytes.withUnsafeBufferPointer {
            li_encode_png($0.baseAddress, UInt32(width), UInt32(height), Int32(channels), &out, &size, &message, 200)
        }
        guard status == LI_OK, let out else {
            throw ImageError.invalidTensor(cString(message))
        }
        defer { li_free(out) }
        return Data(bytes: out, count: size)
    }

    /// Encodes a (3, H, W) tensor as JPEG.
    public static func jpeg(_ tensor: Tensor, quality: Int = 92, progressive: Bool = false,
                            range: ClosedRange<Double> = 0 ... 1) throws -> Data {
        let (bytes, width, height, channels) = try interleaved(tensor, range: range)
        guard channels == 3 else { throw ImageError.invalidTensor("JPEG encoding takes 3 channels, not \(channels)") }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = bytes.withUnsafeBufferPointer {
            li_encode_jpeg($0.baseAddress, UInt32(width), UInt32(height), Int32(quality), progressive ? 1 : 0, &out,
                           &size, &message, 200)
        }
        guard status == LI_OK, let out else { throw ImageError.invalidTensor(cString(message)) }
        defer { li_free(out) }
        return Data(bytes: out, count: size)
    }

    public static func writePNG(_ tensor: Tensor, to url: URL, range: ClosedRange<Double> = 0 ... 1) throws {
        try AtomicFile.write(png(tensor, range: range), to: url)
    }

    /// Tiles a batch (N, C, H, W) into one (C, H', W') image, `columns` per row, with `padding` pixels
    /// of `background` between tiles (torchvision's `make_grid`).
    public static func grid(_ batch: Tensor, columns: Int = 8, padding: Int = 2, background: Double = 1) throws -> Tensor {
        guard batch.rank == 4 else { throw ImageError.invalidTensor("a grid needs (N, C, H, W), got \(batch.shape)") }
        let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        guard n > 0 else { throw ImageError.invalidTensor("a grid needs at least one image") }
        let cols = Swift.min(columns, n), rows = (n + cols - 1) / cols
        let canvas = try Tensor.full([c, rows * (h + padding) + padding, cols * (w + padding) + padding], background,
                                     dtype: batch.dtype)
        try withNoGrad {
            for i in 0 ..< n {
                let (r, col) = (i / cols, i % cols)
                let y = padding + r * (h + padding), x = padding + col * (w + padding)
                try canvas.slice(dim: 1, y ..< y + h).slice(dim: 2, x ..< x + w).copy_(batch[i])
            }
        }
        return canvas
    }

    /// (C, H, W) → interleaved HWC bytes.
    static func interleaved(_ tensor: Tensor, range: ClosedRange<Double>) throws -> ([UInt8], Int, Int, Int) {
        var t = try tensor.detach()
        if t.rank == 2 { t = try t.unsqueeze(0) }
        guard t.rank == 3, [1, 3, 4].contains(t.shape[0]) else {
            throw ImageError.invalidTensor("expected (C, H, W) with C in {1, 3, 4}, got \(tensor.shape)")
        }
        let (c, h, w) = (t.shape[0], t.shape[1], t.shape[2])
        guard h > 0, w > 0 else { throw ImageError.invalidTensor("empty image \(tensor.shape)") }
        if t.dtype != .uint8 {
            let span = range.upperBound - range.lowerBound
            t = try ((t.to(.float32) - range.lowerBound) * (255 / span)).round().clamp(min: 0, max: 255)
        }
        let bytes = try t.permute(1, 2, 0).bytes(as: .uint8)
        return (bytes, w, h, c)
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
