import Hummingbird
import Logging

/// Per-request state shared by the middleware and the routes.
struct APIRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Accepted from `X-Correlation-Id` or generated; echoed, logged and carried into tasks.
    var correlationID = ""
    /// The authenticated key, once the auth middleware has run.
    var key: APIKey?
    var bodyLimit = 1 << 20

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var maxUploadSize: Int { bodyLimit }
}
