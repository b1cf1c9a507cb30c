import Foundation
import Testing
@testable import Imaging
import Torch

let imagesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Images")

func image(_ name: String) -> URL { imagesDirectory.appendingPathComponent(name) }

/// Expected pixels written by Images/make_images.py (PIL, the reference decoder).
struct Expected: Decodable { let width: Int; let height: Int; let pixels: [Int] }

let expectations: [String: Expected] = {
    let data = try! Data(contentsOf: image("expected.json"))
    return try! JSONDecoder().decode([String: Expected].self, from: data)
}()

struct DecodeTests {
    @Test(arguments: ["rgb8.png", "rgba8.png", "gray8.png", "graya16.png", "rgb16.png", "palette.png", "gray1.png",
                      "baseline.jpg", "progressive.jpg"])
    func decodesKnownPixels(name: String) throws {
        let expected = try #require(expectations[name])
        let decoded = try RGBImage(contentsOf: image(name))
        #expect(decoded.width == expected.width)
        #expect(decoded.height == expected.height)
        #expect(decoded.pixels.map(Int.init) == expected.pixels)
    }

    @Test(arguments: 1 ... 8)
    func honoursExifOrientation(orientation: Int) throws {
        let name = "exif\(orientation).jpg"
        let expected = try #require(expectations[name])
        let decoded = try RGBImage(contentsOf: image(name))
        #expect(decoded.info.orientation == orientation)
        // The stored image is 24x16; orientations 5-8 swap the sides.
        #expect(decoded.width == (orientation >= 5 ? 16 : 24))
        #expect(decoded.width == expected.width && decoded.height == expected.height)
        #expect(decoded.pixels.map(Int.init) == expected.pixels)
    }

    @Test func readsHeaders() throws {
        let info = try RGBImage.info(of: Data(contentsOf: image("progressive.jpg")))
        #expect(info == ImageInfo(format: .jpeg, width: 24, height: 16, orientation: 1, bitDepth: 8, progressive: true))
        let png = try RGBImage.info(of: Data(contentsOf: image("rgb16.png")))
        #expect(png.format == .png && png.bitDepth == 16 && png.width == 2 && png.height == 1)
    }

    @Test func rejectsWhatIsNotAnImage() {
        #expect(throws: ImageError.notAnImage("not a JPEG or PNG (unrecognised signature)")) {
            try RGBImage(contentsOf: image("not-an-image.txt"))
        }
        #expect(throws: ImageError.notAnImage("empty input (0 bytes)")) { try RGBImage(contentsOf: image("empty.jpg")) }
    }

    @Test(arguments: ["truncated.jpg", "truncated.png"])
    func rejectsTruncatedFiles(name: String) {
        do {
            _ = try RGBImage(contentsOf: image(name))
            Issue.record("\(name) decoded")
        } catch {
            guard case .truncated(let message) = error else { Issue.record("\(name): \(error)"); return }
            #expect(!message.isEmpty)
        }
    }

    @Test func rejectsZeroSizedImages() {
        #expect(throws: ImageError.zeroSized("PNG has zero width or height")) { try RGBImage(contentsOf: image("zero.png")) }
    }

    @Test(arguments: ["huge.png", "huge.jpg"])
    func refusesAbsurdDimensionsBeforeAllocating(name: String) {
        // 10 and 3.6 gigapixels: decoding would need 30 GB / 10.8 GB; the header check refuses first.
        let expectedSide = name.hasSuffix("png") ? 100_000 : 60_000
        #expect(throws: ImageError.tooLarge(width: expectedSide, height: expectedSide, budget: RGBImage.defaultPixelBudget)) {
            try RGBImage(contentsOf: image(name))
        }
    }

    @Test func pixelBudgetIsConfigurable() throws {
        #expect(throws: ImageError.tooLarge(width: 24, height: 16, budget: 100)) {
            try RGBImage(contentsOf: image("baseline.jpg"), pixelBudget: 100)
        }
        _ = try RGBImage(contentsOf: image("baseline.jpg"), pixelBudget: 24 * 16)
    }

    @Test func rejectsCorruptData() {
        do {
            _ = try RGBImage(contentsOf: image("corrupt.png"))
            Issue.record("corrupt.png decoded")
        } catch {
            // zlib rejects the damaged IDAT stream before its CRC is reached.
            guard case .corrupt(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("IDAT"))
        }
    }

    @Test func missingFileIsUnreadable() {
        do {
            _ = try RGBImage(contentsOf: image("no-such-file.png"))
            Issue.record("a missing file decoded")
        } catch {
            guard case .unreadable(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path.hasSuffix("no-such-file.png"))
        }
    }

    @Test func tensorLayoutIsChannelsFirst() throws {
        let decoded = try RGBImage(contentsOf: image("rgb8.png"))
        let t = try decoded.tensor()
        #expect(t.shape == [3, 3, 4])
        let (r, g, b) = decoded[2, 1]
        let values = try t.floats()
        // (c, y, x) = (c, 1, 2)
        #expect(values[0 * 12 + 1 * 4 + 2] == Float(r) / 255)
        #expect(values[1 * 12 + 1 * 4 + 2] == Float(g) / 255)
        #expect(values[2 * 12 + 1 * 4 + 2] == Float(b) / 255)
    }
}

/// Decoding reduced to a side (libjpeg's scaled IDCT), against PIL's draft mode on the same libjpeg-turbo.
struct ReducedDecodeTests {
    @Test(arguments: [("reduced.jpg", 16, "reduced.jpg@16"), ("reduced.jpg", 13, "reduced.jpg@16"), ("reduced.jpg", 17, "reduced.jpg@32"),
                      ("exif6.jpg", 12, "exif6.jpg@12")])
    func matchesThePILDraftDecode(name: String, side: Int, key: String) throws {
        let expected = try #require(expectations[key])
        let decoded = try RGBImage(contentsOf: image(name), reducedTo: side)
        #expect(decoded.width == expected.width && decoded.height == expected.height)
        #expect(decoded.pixels.map(Int.init) == expected.pixels)
        // The longer side reaches the side asked for, and `info` keeps the stored size (oriented).
        #expect(max(decoded.width, decoded.height) >= side)
        let full = try RGBImage(contentsOf: image(name))
        #expect(decoded.info == full.info)
        #expect(decoded.info.width == full.width && decoded.info.height == full.height)
    }

    @Test func isTheFullDecodeWhenNoSmallerScaleCoversTheSide() throws {
        for (name, side) in [("reduced.jpg", 33), ("reduced.jpg", 64), ("reduced.jpg", 500), ("baseline.jpg", 24), ("rgb8.png", 1), ("exif3.jpg", 0)] {
            let full = try RGBImage(contentsOf: image(name)), reduced = try RGBImage(contentsOf: image(name), reducedTo: side)
            #expect(reduced.width == full.width && reduced.height == full.height, "\(name) at \(side)")
            #expect(reduced.pixels == full.pixels, "\(name) at \(side)")
        }
    }

    @Test func badFilesFailAsAtFullSize() {
        for name in ["truncated.jpg", "corrupt.png", "not-an-image.txt", "huge.jpg"] {
            var fullError: ImageError?, reducedError: ImageError?
            do { _ = try RGBImage(contentsOf: image(name)) } catch { fullError = error }
            do { _ = try RGBImage(contentsOf: image(name), reducedTo: 4) } catch { reducedError = error }
            #expect(fullError != nil && reducedError == fullError, "\(name)")
        }
    }
}
