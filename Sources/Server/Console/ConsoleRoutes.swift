import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web console at `/ui`: three static files, read once from the package's resources, served
/// to anyone (they hold no data; every call they make carries the user's key).
struct ConsoleRoutes {
    struct Asset: Sendable {
        var contentType: String
        var bytes: ByteBuffer
    }

    let assets: [String: Asset]

    init() throws {
        guard let folder = Bundle.module.url(forResource: "Assets", withExtension: nil) else {
            throw ExitMessage("the console's files are missing from the build (Sources/Server/Console/Assets)")
        }
        var assets: [String: Asset] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8"), ("console.css", "text/css; charset=utf-8")] {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            assets[name] = Asset(contentType: type, bytes: ByteBuffer(bytes: data))
        }
        self.assets = assets
    }

    var endpoints: [Endpoint] {
        [
            Endpoint(.get, "/ui", file("index.html")),
            Endpoint(.get, "/ui/console.js", file("console.js")),
            Endpoint(.get, "/ui/console.css", file("console.css")),
        ]
    }

    func file(_ name: String) -> Endpoint.Handler {
        let asset = assets[name]!
        return { _, _ in
            Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"], body: ResponseBody(byteBuffer: asset.bytes))
        }
    }
}
