import Foundation
import Testing
@testable import Imaging
import Torch

struct EncodeTests {
    @Test func pngRoundTripsExactly() throws {
        let original = try RGBImage(contentsOf: image("rgb8.png"))
        let encoded = try ImageEncoder.png(original.tensor())
        let decoded = try RGBImage(decoding: encoded)
        #expect(decoded.pixels == original.pixels)
        // uint8 tensors are written as they are, grayscale too.
        let gray = try Tensor([UInt8(0), 100, 200, 255], shape: [1, 2, 2])
        let grayDecoded = try RGBImage(decoding: ImageEncoder.png(gray))
        #expect(grayDecoded.pixels == [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255])
    }

    @Test func valueRangeMapsToBytes() throws {
        // Generator output in [-1, 1]: -1 → 0, 0 → 128 (127.5 rounds half to even → 128), 1 → 255.
        let t = try Tensor([Float(-1), 0, 1, 2], shape: [1, 1, 4])
        let decoded = try RGBImage(decoding: ImageEncoder.png(t, range: -1 ... 1))
        #expect(decoded.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element) == [0, 128, 255, 255])
    }

    @Test func jpegEncodesProgressiveAndBaseline() throws {
        let original = try RGBImage(contentsOf: image("baseline.jpg"))
        for progressive in [false, true] {
            let data = try ImageEncoder.jpeg(original.tensor(), quality: 95, progressive: progressive)
            let back = try RGBImage(decoding: data)
            #expect(back.info.progressive == progressive)
            // 4:2:0 chroma subsampling blurs the pattern's sharp colour edges; on average it stays close.
            let total = zip(back.pixels, original.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)
            let mean = Double(total) / Double(original.pixels.count)
            #expect(mean < 6, "JPEG re-encode drifted by \(mean) on average")
        }
    }

    @Test func gridTilesImagesWithPadding() throws {
        // Three 2x2 single-colour images, 2 columns, padding 1 on a white background.
        let batch = try Tensor.stack([Tensor.zeros([3, 2, 2]), Tensor.full([3, 2, 2], 0.5), Tensor.zeros([3, 2, 2])])
        let grid = try ImageEncoder.grid(batch, columns: 2, padding: 1)
        #expect(grid.shape == [3, 7, 7])  // 2 rows × (2 + 1) + 1
        let decoded = try RGBImage(decoding: ImageEncoder.png(grid))
        #expect(decoded[1, 1] == (0, 0, 0))        // first tile
        #expect(decoded[4, 1] == (128, 128, 128))  // second tile (0.5 → 127.5 → 128)
        #expect(decoded[1, 4] == (0, 0, 0))        // third tile, second row
        #expect(decoded[4, 4] == (255, 255, 255))  // empty slot stays background
        #expect(decoded[0, 0] == (255, 255, 255))  // padding
        #expect(throws: ImageError.self) { try ImageEncoder.grid(Tensor.zeros([3, 2, 2])) }
        #expect(throws: ImageError.self) { try ImageEncoder.png(Tensor.zeros([2, 4, 4])) }
    }
}
