import Logging
import PostgresNIO

/// The activities a worker can run, by name, with their JSON input and output erased.
public struct ActivityRegistry: Sendable {
    public typealias Body = @Sendable (JSONValue, ActivityContext) async throws -> JSONValue
    public typealias TransactionalBody = @Sendable (JSONValue, ActivityContext, PostgresConnection) async throws -> JSONValue

    public enum Entry: Sendable {
        case plain(Body)
        case transactional(TransactionalBody)
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    public var names: Set<String> { Set(entries.keys) }

    public func entry(_ name: String) -> Entry? { entries[name] }

    public mutating func register<A: Activity>(_ activity: A) {
        entries[A.name] = .plain { input, context in
            let typed = try Self.decodeInput(input, as: A.Input.self, activity: A.name)
            return try JSONValue(encoding: try await activity.run(typed, context: context))
        }
    }

    public mutating func register<A: TransactionalActivity>(_ activity: A) {
        entries[A.name] = .transactional { input, context, connection in
            let typed = try Self.decodeInput(input, as: A.Input.self, activity: A.name)
            return try JSONValue(encoding: try await activity.run(typed, context: context, connection: connection))
        }
    }

    /// Registers a closure as an activity (handy for tests and one-off built-ins).
    public mutating func register(_ name: String, body: @escaping Body) {
        entries[name] = .plain(body)
    }

    private static func decodeInput<T: Decodable>(_ input: JSONValue, as type: T.Type, activity: String) throws -> T {
        if let value = input as? T { return value }
        do {
            return try input.decode(type)
        } catch {
            throw ActivityError.nonRetryable("activity.invalid_input", "input of \(activity) does not match its type: \(error)")
        }
    }
}
