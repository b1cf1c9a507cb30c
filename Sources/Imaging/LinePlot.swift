import Foundation
import Torch

/// Line charts as PNG for training curves: one panel per chart, each with its series in fixed colours,
/// y-axis range labels and a legend, drawn with a 3×5 pixel font scaled up. No external plotting.
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public let name: String
        public let values: [Double]
        public init(_ name: String, _ values: [Double]) { (self.name, self.values) = (name, values) }
    }

    public var title: String
    public var series: [Series]
    public var width = 640, height = 360

    public init(title: String, series: [Series]) { (self.title, self.series) = (title, series) }

    static let palette: [(UInt8, UInt8, UInt8)] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                                                    (148, 103, 189), (140, 86, 75)]

    /// Renders the chart to RGB pixels (height × width × 3).
    public func pixels() -> [UInt8] {
        var canvas = Canvas(width: width, height: height)
        let (left, right, top, bottom) = (70, width - 20, 40, height - 40)
        let values = series.flatMap(\.values).filter(\.isFinite)
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-12 { (lo, hi) = (lo - 0.5, hi + 0.5) }
        let n = max(series.map(\.values.count).max() ?? 1, 2)
        canvas.text(title.uppercased(), x: left, y: 12, scale: 2, color: (0, 0, 0))
        canvas.line(left, bottom, right, bottom, (0, 0, 0))
        canvas.line(left, top, left, bottom, (0, 0, 0))
        for k in 0 ... 4 {
            let y = bottom - (bottom - top) * k / 4
            canvas.line(left - 4, y, right, y, k == 0 ? (0, 0, 0) : (225, 225, 225))
            canvas.text(Self.format(lo + (hi - lo) * Double(k) / 4), x: 4, y: y - 5, scale: 2, color: (60, 60, 60))
        }
        canvas.text("1", x: left, y: bottom + 8, scale: 2, color: (60, 60, 60))
        canvas.text("\(n)", x: right - 8 * "\(n)".count, y: bottom + 8, scale: 2, color: (60, 60, 60))
        for (s, line) in series.enumerated() {
            let color = Self.palette[s % Self.palette.count]
            func point(_ i: Int) -> (Int, Int) {
                let x = left + (right - left) * i / (n - 1)
                let y = bottom - Int(Double(bottom - top) * (line.values[i] - lo) / (hi - lo))
                return (x, y)
            }
            for i in 1 ..< max(line.values.count, 1) where line.values[i].isFinite && line.values[i - 1].isFinite {
                let (x0, y0) = point(i - 1), (x1, y1) = point(i)
                canvas.line(x0, y0, x1, y1, color, thick: true)
            }
            if line.values.count == 1, line.values[0].isFinite { let (x, y) = point(0); canvas.fill(x - 2, y - 2, 5, 5, color) }
            let ly = top + 4 + 16 * s
            canvas.fill(right - 150, ly + 2, 14, 6, color)
            canvas.text(line.name.uppercased(), x: right - 130, y: ly, scale: 2, color: (0, 0, 0))
        }
        return canvas.pixels
    }

    public func png() throws -> Data {
        let rgb = pixels()
        let tensor = try rgb.withUnsafeBytes { try Tensor.fromBytes($0, dtype: .uint8, shape: [height, width, 3]) }
        return try ImageEncoder.png(tensor.permute(2, 0, 1).to(.float32) / 255)
    }

    public func write(to url: URL) throws { try AtomicFile.write(png(), to: url) }

    static func format(_ v: Double) -> String {
        let a = Swift.abs(v)
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }
}

struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]
    init(width: Int, height: Int) {
        (self.width, self.height) = (width, height)
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = c
    }

    mutating func fill(_ x: Int, _ y: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in y ..< y + h { for xx in x ..< x + w { set(xx, yy, c) } }
    }

    /// Bresenham.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thick: Bool = false) {
        var (x, y) = (x0, y0)
        let dx = Swift.abs(x1 - x0), dy = -Swift.abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, c)
            if thick { set(x, y + 1, c); set(x + 1, y, c) }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func text(_ s: String, x: Int, y: Int, scale: Int, color: (UInt8, UInt8, UInt8)) {
        var cx = x
        for ch in s {
            if let rows = Font.glyphs[ch] {
                for (r, bits) in rows.enumerated() {
                    for col in 0 ..< 3 where bits & (4 >> col) != 0 { fill(cx + col * scale, y + r * scale, scale, scale, color) }
                }
            }
            cx += 4 * scale
        }
    }
}

/// A 3×5 pixel font: each glyph is five rows of three bits (left bit = 4).
enum Font {
    static let glyphs: [Character: [Int]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 2, 2], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], ":": [0, 2, 0, 2, 0], "/": [1, 1, 2, 4, 4], "_": [0, 0, 0, 0, 7],
        "(": [2, 4, 4, 4, 2], ")": [2, 1, 1, 1, 2], "%": [5, 1, 2, 4, 5], "=": [0, 7, 0, 7, 0], "+": [0, 2, 7, 2, 0],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [7, 4, 4, 4, 7], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [7, 4, 5, 5, 7], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 7],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [7, 5, 5, 5, 7],
        "P": [7, 5, 7, 4, 4], "Q": [7, 5, 5, 7, 1], "R": [6, 5, 6, 5, 5], "S": [7, 4, 7, 1, 7], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7],
    ]
}
