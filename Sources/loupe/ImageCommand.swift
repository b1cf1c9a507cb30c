import ArgumentParser
import Foundation
import Imaging

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Inspect image files.", subcommands: [Info.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print format, width and height of each file; exit non-zero if any file is bad.",
            discussion: "Each file is fully decoded, so truncated or corrupt files are reported too.")

        @Argument(help: "Image files (JPEG or PNG).")
        var files: [String]

        @Option(help: "Refuse images with more pixels than this.")
        var pixelBudget: Int = RGBImage.defaultPixelBudget

        @Flag(help: "One JSON object per line.")
        var json = false

        func run() throws {
            var failed = 0
            for file in files {
                do {
                    let image = try RGBImage(contentsOf: URL(fileURLWithPath: file), pixelBudget: pixelBudget)
                    print(Self.describe(file, image.info, json: json))
                } catch {
                    failed += 1
                    if json {
                        print(#"{"file":\#(Self.quote(file)),"error":\#(Self.quote(error.description))}"#)
                    } else {
                        printError("\(file): error: \(error.description)")
                    }
                }
            }
            if failed > 0 {
                if !json { printError("\(failed) of \(files.count) files failed") }
                throw ExitCode(1)
            }
        }

        static func describe(_ file: String, _ info: ImageInfo, json: Bool) -> String {
            if json {
                return #"{"file":\#(quote(file)),"format":"\#(info.format.rawValue)","width":\#(info.width),"height":\#(info.height),"orientation":\#(info.orientation),"bit_depth":\#(info.bitDepth),"progressive":\#(info.progressive)}"#
            }
            var extras: [String] = []
            if info.progressive { extras.append(info.format == .jpeg ? "progressive" : "interlaced") }
            if info.bitDepth != 8 { extras.append("\(info.bitDepth)-bit") }
            if info.orientation != 1 { extras.append("EXIF orientation \(info.orientation)") }
            let suffix = extras.isEmpty ? "" : " (\(extras.joined(separator: ", ")))"
            return "\(file): \(info.format.rawValue) \(info.width)x\(info.height)\(suffix)"
        }

        static func quote(_ s: String) -> String {
            let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let array = data.flatMap { String(data: $0, encoding: .utf8) } ?? "[\"\"]"
            return String(array.dropFirst().dropLast())
        }
    }
}
