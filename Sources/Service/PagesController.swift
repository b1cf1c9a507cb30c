import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import Store

/// Server-rendered pages (Mustache, no JavaScript): sign-in, the artisan's upload page and draft view
/// with its confidence flags and feedback form, and the moderator's queue with edit, approve and
/// reject. They call the same store as the API; the browser signs in with its token once and then
/// carries it in an HttpOnly, SameSite=Strict cookie.
struct PagesController: Sendable {
    let api: DraftController
    let users: any UserLookup
    let templates: MustacheLibrary
    var taxonomy: Taxonomy = .standard

    func addRoutes(to router: Router<LoupeRequestContext>) throws {
        let css = try ServiceResources.stylesheet()
        router.get("static/loupe.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(bytes: css)))
        }
        router.get("/") { _, context in
            guard let user = context.user else { return Self.redirect("/login") }
            return Self.redirect(user.role == .artisan ? "/artisan" : "/moderation")
        }
        router.get("login") { _, _ in try render("login", [:]) }
        router.post("login", use: login)
        router.post("logout") { _, _ in
            var response = Self.redirect("/login")
            response.headers[.setCookie] = "\(AuthenticationMiddleware.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            return response
        }
        router.get("artisan", use: artisanHome)
        router.post("artisan/drafts", use: artisanUpload)
        router.get("artisan/drafts/:id", use: artisanDraft)
        router.post("artisan/drafts/:id/feedback", use: artisanFeedback)
        router.get("moderation", use: moderationQueue)
        router.get("moderation/drafts/:id", use: moderationDraft)
        router.post("moderation/drafts/:id/edit", use: moderationEdit)
        router.post("moderation/drafts/:id/approve", use: moderationApprove)
        router.post("moderation/drafts/:id/reject", use: moderationReject)
    }

    // MARK: Sign-in

    @Sendable func login(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let form = try await Form.read(request)
        let token = form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !token.isEmpty, let user = try await users.user(token: token, logger: context.logger) else {
            return try render("login", ["error": "That token is not valid."], status: .unauthorized)
        }
        var response = Self.redirect(user.role == .artisan ? "/artisan" : "/moderation")
        response.headers[.setCookie] = "\(AuthenticationMiddleware.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
        return response
    }

    // MARK: Artisan

    @Sendable func artisanHome(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        try await artisanHome(context: context, error: nil, status: .ok)
    }

    func artisanHome(context: LoupeRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        let user = try context.requireArtisan()
        let drafts = try await api.drafts.list(status: nil, scope: DraftScope(user: user), before: nil, limit: 50, logger: context.logger)
        return try render("artisan", [
            "user": user.name, "error": error as Any, "maxPhotos": api.limits.maxPhotos, "maxMiB": api.limits.maxBytes / (1024 * 1024),
            "drafts": drafts.map { d in
                let view = DraftView(d)
                return ["id": d.id, "title": view.title, "status": d.status.rawValue, "created": Self.format(d.createdAt),
                        "reviewCount": view.needsReview.count] as [String: Any]
            },
        ], user: user, status: status)
    }

    @Sendable func artisanUpload(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireArtisan()
        do {
            let record = try await api.createDraft(request, user: user, logger: context.logger)
            return Self.redirect("/artisan/drafts/\(record.id)")
        } catch let error as APIError where error.status.code < 500 {
            return try await artisanHome(context: context, error: error.message, status: error.status)
        }
    }

    @Sendable func artisanDraft(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireArtisan()
        let record = try await api.drafts.find(id: try DraftController.id(context), scope: DraftScope(user: user), logger: context.logger)
        var page = draftPage(record)
        page["saved"] = request.uri.queryParameters["saved"] != nil
        return try render("draft", page, user: user)
    }

    @Sendable func artisanFeedback(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireArtisan()
        let id = try DraftController.id(context)
        let form = try await Form.read(request)
        guard let rating = form["rating"].flatMap(Int.init) else { throw APIError.unprocessable("invalid_field", "choose a rating from 1 to 5") }
        var corrections: [DraftField: FieldValue] = [:]
        for field in [DraftField.category, .metal, .style, .finish] {
            if let v = form[field.rawValue], !v.isEmpty { corrections[field] = .text(v) }
        }
        for field in [DraftField.title, .description] {
            if let v = form[field.rawValue]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty { corrections[field] = .text(v) }
        }
        _ = try await api.drafts.feedback(id: id, rating: rating, corrections: corrections, comment: form["comment"] ?? "", by: user,
                                          logger: context.logger)
        return Self.redirect("/artisan/drafts/\(id)?saved=1")
    }

    // MARK: Moderator

    @Sendable func moderationQueue(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let order: DraftRepository.QueueOrder = request.uri.queryParameters["order"] == "low-confidence" ? .lowConfidence : .oldest
        let drafts = try await api.drafts.queue(order: order, limit: 100, logger: context.logger)
        return try render("queue", [
            "lowFirst": order == .lowConfidence,
            "drafts": drafts.map { d in
                let view = DraftView(d)
                return ["id": d.id, "title": view.title, "artisan": d.artisan, "created": Self.format(d.createdAt),
                        "confidence": Self.percent(d.minConfidence), "review": view.needsReview.joined(separator: ", "),
                        "thumb": view.images.first?.url ?? ""] as [String: Any]
            },
            "empty": drafts.isEmpty,
        ], user: user)
    }

    @Sendable func moderationDraft(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let record = try await api.drafts.find(id: try DraftController.id(context), scope: .everything, logger: context.logger)
        return try render("moderate", draftPage(record), user: user)
    }

    @Sendable func moderationEdit(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let id = try DraftController.id(context)
        let record = try await api.drafts.find(id: id, scope: .everything, logger: context.logger)
        let form = try await Form.read(request)
        // Only what changed becomes an edit record.
        var changes: [DraftField: FieldValue] = [:]
        for field in [DraftField.title, .description, .category, .metal, .style, .finish] {
            guard let raw = form[field.rawValue] else { continue }
            let value = FieldValue.text(raw.trimmingCharacters(in: .whitespacesAndNewlines))
            if value != record.fields[field]?.value { changes[field] = value }
        }
        let stones = form.all("gemstones").sorted()
        if form["gemstones-present"] != nil, FieldValue.list(stones) != record.fields[.gemstones]?.value {
            changes[.gemstones] = .list(stones)
        }
        if !changes.isEmpty { _ = try await api.drafts.edit(id: id, changes: changes, by: user, logger: context.logger) }
        return Self.redirect("/moderation/drafts/\(id)")
    }

    @Sendable func moderationApprove(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let id = try DraftController.id(context)
        _ = try await api.drafts.approve(id: id, by: user, logger: context.logger)
        return Self.redirect("/moderation/drafts/\(id)")
    }

    @Sendable func moderationReject(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let id = try DraftController.id(context)
        let form = try await Form.read(request)
        _ = try await api.drafts.reject(id: id, reason: form["reason"] ?? "", by: user, logger: context.logger)
        return Self.redirect("/moderation/drafts/\(id)")
    }

    // MARK: View models

    /// Everything the draft pages show: photos, text, each claim with its confidence and flag, and the
    /// choices for the edit and correction forms.
    func draftPage(_ record: DraftRecord) -> [String: Any] {
        let view = DraftView(record)
        func claim(_ name: String, _ label: String, _ c: ClaimView, field: String) -> [String: Any] {
            let options = (taxonomy[field]?.values ?? []).map { ["slug": $0.slug, "label": $0.label, "selected": $0.slug == c.value] as [String: Any] }
            return ["name": name, "label": label, "value": taxonomy[field]?.label(c.value) ?? c.value, "slug": c.value,
                    "confidence": c.confidence.map(Self.percent) ?? "set by \(c.source)", "flagged": c.needsReview, "options": options]
        }
        let claims = [claim("category", "Category", view.category, field: "category"),
                      claim("metal", "Metal", view.attributes.metal, field: "metal"),
                      claim("style", "Style", view.attributes.style, field: "style"),
                      claim("finish", "Finish", view.attributes.finish, field: "finish")]
        let gemsFlagged = view.needsReview.contains("gemstones")
        let chosen = Set(view.attributes.gemstones.map(\.value))
        let gems: [[String: Any]] = view.attributes.gemstones.map {
            ["label": taxonomy.gemstone.label($0.value) ?? $0.value, "confidence": $0.confidence.map(Self.percent) ?? "set by \($0.source)"]
        }
        return [
            "id": record.id, "status": record.status.rawValue, "pending": record.status == .pending, "artisan": record.artisan,
            "title": view.title, "description": view.description, "notes": record.notes, "model": record.modelVersion,
            "created": Self.format(record.createdAt), "images": view.images.map { ["url": $0.url, "name": $0.filename] },
            "claims": claims, "gemstones": gems, "noGemstones": gems.isEmpty, "gemstonesFlagged": gemsFlagged,
            "gemstoneOptions": taxonomy.gemstone.values.map { ["slug": $0.slug, "label": $0.label, "checked": chosen.contains($0.slug)] as [String: Any] },
            "needsReview": view.needsReview.joined(separator: ", "), "hasReview": !view.needsReview.isEmpty,
            "rejectReason": record.rejectReason as Any, "decidedBy": record.decidedBy as Any,
            "listing": record.listingID as Any,
            "ratings": (1 ... 5).map { ["value": $0] },
        ]
    }

    // MARK: Rendering

    func render(_ template: String, _ object: [String: Any], user: User? = nil, status: HTTPResponse.Status = .ok) throws -> Response {
        var object = object
        if let user { object["signedIn"] = ["name": user.name, "role": user.role.rawValue] }
        guard let html = templates.render(object, withTemplate: template) else {
            throw APIError(.internalServerError, "internal", "template \(template) missing")
        }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func percent(_ p: Double) -> String { "\(Int((p * 100).rounded()))%" }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
    }
}

/// An `application/x-www-form-urlencoded` body.
struct Form {
    let pairs: [(String, String)]

    subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    static func read(_ request: Request) async throws -> Form {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "expected a form (application/x-www-form-urlencoded)")
        }
        let body = try await request.body.collect(upTo: 256 * 1024)
        return Form(parsing: String(decoding: body.readableBytesView, as: UTF8.self))
    }

    init(parsing text: String) {
        func decode(_ s: Substring) -> String {
            String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
        }
        pairs = text.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }
}
