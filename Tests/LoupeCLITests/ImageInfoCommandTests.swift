import Foundation
import LoupeTestSupport
import Testing

/// The built `loupe` executable, which SwiftPM places beside the test bundle.
func loupeExecutable() -> URL {
    let directory = Bundle.main.bundleURL.pathExtension == "xctest"
        ? Bundle.main.bundleURL.deletingLastPathComponent()
        : URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let executable = directory.appendingPathComponent("loupe")
    // swift-testing's runner may live one level deeper than the products.
    return FileManager.default.isExecutableFile(atPath: executable.path)
        ? executable : directory.deletingLastPathComponent().appendingPathComponent("loupe")
}

/// Runs the built `loupe` to completion.
func runLoupe(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(loupeExecutable(), arguments)
}

let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ImagingTests/Images")

func path(_ name: String) -> String { images.appendingPathComponent(name).path }

struct ImageInfoCommandTests {
    @Test func printsFormatAndSizeOfGoodFiles() throws {
        let result = try runLoupe(["image", "info", path("baseline.jpg"), path("rgb16.png"), path("exif6.jpg")])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [
            "\(path("baseline.jpg")): jpeg 24x16",
            "\(path("rgb16.png")): png 2x1 (16-bit)",
            "\(path("exif6.jpg")): jpeg 16x24 (EXIF orientation 6)",
        ])
        #expect(result.stderr.isEmpty)
    }

    @Test func reportsEachBadFileAndExitsNonZero() throws {
        let result = try runLoupe(["image", "info", path("rgb8.png"), path("truncated.jpg"), path("not-an-image.txt"),
                                   path("huge.png"), path("missing.png")])
        #expect(result.status == 1)
        #expect(result.stdout == "\(path("rgb8.png")): png 4x3\n")
        let errors = result.stderr.split(separator: "\n").map(String.init)
        #expect(errors.count == 5)
        #expect(errors[0].hasPrefix("\(path("truncated.jpg")): error: truncated image"))
        #expect(errors[1].hasPrefix("\(path("not-an-image.txt")): error: not an image"))
        #expect(errors[2].hasPrefix("\(path("huge.png")): error: image too large: 100000×100000"))
        #expect(errors[3].hasPrefix("\(path("missing.png")): error: cannot read"))
        #expect(errors[4] == "4 of 5 files failed")
    }

    @Test func jsonLines() throws {
        let result = try runLoupe(["image", "info", "--json", path("progressive.jpg"), path("zero.png")])
        #expect(result.status == 1)
        let objects = try result.stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(objects[0]["format"] as? String == "jpeg")
        #expect(objects[0]["width"] as? Int == 24)
        #expect(objects[0]["progressive"] as? Bool == true)
        #expect((objects[1]["error"] as? String)?.hasPrefix("zero-sized image") == true)
    }
}

struct CheckpointInfoCommandTests {
    @Test func listsTensorsOfAPythonCheckpoint() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-cli-\(UUID().uuidString).pth")
        defer { try? FileManager.default.removeItem(at: file) }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", """
            import sys, torch
            net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
            torch.save(net.state_dict(), sys.argv[1], _use_new_zipfile_serialization=False)
            """, file.path]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let result = try runLoupe(["checkpoint", "info", file.path])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").map(String.init) == [
            "0.weight\tfloat32\t8x3x3x3", "0.bias\tfloat32\t8", "1.weight\tfloat32\t8", "1.bias\tfloat32\t8",
            "1.running_mean\tfloat32\t8", "1.running_var\tfloat32\t8", "1.num_batches_tracked\tint64\t",
            "7 tensors, 257 elements",
        ])
        let missing = try runLoupe(["checkpoint", "info", file.path + ".missing"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read checkpoint"))
    }
}
