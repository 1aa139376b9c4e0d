import Hummingbird
import Logging

/// Requires `Authorization: Bearer <key>` with one of `roles`: 401 without a valid key, 403 for
/// the wrong role. Keys are never logged.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let keyring: APIKeyring
    let roles: Set<Role>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.prefix(7).lowercased() == "bearer " else {
            throw Self.unauthorized("missing Authorization: Bearer <key>")
        }
        // The key without the optional whitespace (space, tab) HTTP allows around it.
        var presented = header.dropFirst(7)
        while let first = presented.first, first == " " || first == "\t" { presented = presented.dropFirst() }
        while let last = presented.last, last == " " || last == "\t" { presented = presented.dropLast() }
        guard let key = keyring.authenticate(String(presented)) else {
            throw Self.unauthorized("unknown API key")
        }
        guard roles.contains(key.role) else {
            let needed = Role.allCases.filter(roles.contains).map(\.rawValue).joined(separator: " or ")
            throw APIError(.forbidden, "auth.forbidden", "a \(key.role.rawValue) key may not do this: it needs a \(needed) key")
        }
        var context = context
        context.key = key
        context.logger[metadataKey: "api_key"] = "\(key.name)"
        return try await next(request, context)
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, "auth.unauthorized", message)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }
}
