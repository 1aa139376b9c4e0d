import AsyncHTTPClient
import Orchestrator

extension ActivityRegistry {
    /// The registry with every activity this package ships.
    public static func builtins(httpClient: HTTPClient) -> ActivityRegistry {
        var registry = ActivityRegistry()
        registry.register(NoopActivity())
        registry.register(SleepActivity())
        registry.register(HTTPActivity(client: httpClient))
        return registry
    }
}
