import Foundation
import HTTPTypes
import Hummingbird
import Imaging
import MultipartKit
import NIOCore

/// One uploaded photo, decoded and checked.
struct UploadedPhoto: Sendable {
    let data: Data
    let image: RGBImage
    let filename: String
    var contentType: String { image.info.format == .png ? "image/png" : "image/jpeg" }
}

/// A `multipart/form-data` draft upload: `photo` parts (one or more; `photos` is accepted too) and an
/// optional `notes` text part. Every way it can be wrong is a clear 4xx before anything is written.
struct DraftUpload: Sendable {
    var photos: [UploadedPhoto] = []
    var notes = ""

    struct Limits: Sendable {
        var maxBytes: Int
        var maxPhotos: Int
        var maxPixels: Int
    }

    /// `reducedTo`: the side the model will shrink photos to; JPEGs are decoded at the smallest scale that
    /// still covers it (`RGBImage(decoding:pixelBudget:reducedTo:)`), nil for full size.
    static func read(_ request: Request, limits: Limits, reducedTo side: Int? = nil) async throws -> DraftUpload {
        guard let contentType = request.headers[.contentType] else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the photos as multipart/form-data (no Content-Type given)")
        }
        guard let boundary = multipartBoundary(contentType) else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type",
                           "send the photos as multipart/form-data with a boundary (got \(contentType))")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limits.maxBytes {
            throw tooLarge(limits)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge(limits)
        }
        let parts = try parse(body, boundary: boundary)
        var upload = DraftUpload()
        for part in parts {
            switch part.name {
            case "photo", "photos", "photo[]", "photos[]":
                guard upload.photos.count < limits.maxPhotos else {
                    throw APIError.unprocessable("too_many_files", "at most \(limits.maxPhotos) photos per draft")
                }
                let name = part.filename ?? "photo \(upload.photos.count + 1)"
                guard !part.body.isEmpty else { throw APIError.unprocessable("invalid_image", "\(name): empty file") }
                let image: RGBImage
                do {
                    image = try RGBImage(decoding: part.body, pixelBudget: limits.maxPixels, reducedTo: side)
                } catch {
                    throw APIError.unprocessable("invalid_image", "\(name): \(error.description)")
                }
                upload.photos.append(UploadedPhoto(data: part.body, image: image, filename: String(name.prefix(200))))
            case "notes":
                guard let text = String(data: part.body, encoding: .utf8) else { throw APIError.badRequest("notes must be UTF-8 text") }
                guard text.count <= 4000 else { throw APIError.unprocessable("invalid_field", "notes are longer than 4000 characters") }
                upload.notes = text.trimmingCharacters(in: .whitespacesAndNewlines)
            case let other:
                throw APIError.badRequest("unexpected form field '\(other ?? "")' (expected photo and notes)")
            }
        }
        guard !upload.photos.isEmpty else { throw APIError.badRequest("no photo: send at least one file in a form field named 'photo'") }
        return upload
    }

    static func tooLarge(_ limits: Limits) -> APIError {
        APIError(.contentTooLarge, "too_large", "the upload is larger than \(limits.maxBytes / (1024 * 1024)) MiB")
    }

    struct Part {
        var name: String?
        var filename: String?
        var body = Data()
    }

    static func multipartBoundary(_ contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty || value.count > 70 ? nil : value
            }
        }
        return nil
    }

    /// Parts with their form names and file names. A body that ends inside a part, or holds none, is refused.
    static func parse(_ body: ByteBuffer, boundary: String) throws -> [Part] {
        let parser = MultipartParser(boundary: boundary)
        var parts: [Part] = []
        var current: Part?
        parser.onHeader = { name, value in
            if current == nil { current = Part() }
            guard name.lowercased() == "content-disposition" else { return }
            for (k, v) in dispositionParameters(value) {
                if k == "name" { current?.name = v }
                if k == "filename" { current?.filename = v }
            }
        }
        parser.onBody = { buffer in
            if current == nil { current = Part() }
            current?.body.append(contentsOf: buffer.readableBytesView)
        }
        parser.onPartComplete = {
            if let part = current { parts.append(part) }
            current = nil
        }
        do {
            try parser.execute(body)
        } catch {
            throw APIError.badRequest("malformed multipart body: \(error)")
        }
        guard current == nil else { throw APIError.badRequest("malformed multipart body: it ends inside a part (truncated upload?)") }
        guard !parts.isEmpty else { throw APIError.badRequest("malformed multipart body: no parts (wrong boundary?)") }
        return parts
    }

    /// `form-data; name="photo"; filename="ring.jpg"` → [("name", "photo"), ("filename", "ring.jpg")].
    static func dispositionParameters(_ value: String) -> [(String, String)] {
        var out: [(String, String)] = []
        var rest = Substring(value)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...].drop { $0 == " " }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: eq)...]
            var val = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { val.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break } else { val.append(c) }
                }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                val = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            out.append((key, val))
        }
        return out
    }
}
