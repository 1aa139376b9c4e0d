import Activities
import ArgumentParser
import AsyncHTTPClient
import Logging
import Orchestrator
import PostgresNIO
import Workflows

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the workflow files; with a database, also list live instances in states the files no longer have.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator.validate")
        let loaded: EngineRuntime.Loaded
        do {
            loaded = try EngineRuntime.loadDefinitions(options: options, discovering: true)
            try await loaded.environment.httpClient.shutdown()
        } catch let error as ExitMessage {
            print(error)
            throw ExitCode.failure
        }
        let definitions = loaded.definitions
        print("workflow files in \(loaded.folder):")
        for definition in definitions.sorted(by: { $0.type < $1.type }) {
            print("ok  \(definition.type)  version \(definition.version)  \(definition.states.count) states")
        }
        let database: DatabaseConfiguration
        do {
            database = try options.database()
        } catch let error as ExitMessage {
            print("live instances not checked: \(error)")
            return
        }
        let stranded = try await database.withPool(logger: logger) { pool in
            try await pool.client.withConnection { connection in
                try await StrandedInstance.find(definitions: definitions, on: connection, logger: logger)
            }
        }
        for instance in stranded {
            print("warning: workflow \(instance.id) (\(instance.type)) is \(instance.status) in state '\(instance.state)', which the new file no longer has; it finishes on its pinned version \(instance.version)")
        }
        if stranded.isEmpty { print("no live instance in \(database.host):\(database.port)/\(database.database) sits in a state the files no longer have") }
    }
}

/// A live instance whose current state is missing from the new definition of its type.
struct StrandedInstance {
    var id: String
    var type: String
    var version: String
    var status: String
    var state: String

    static func find(definitions: [WorkflowDefinition], on connection: PostgresConnection, logger: Logger) async throws -> [StrandedInstance] {
        let exists = try await connection.query("SELECT to_regclass('orchestrator.workflows') IS NOT NULL", logger: logger)
        for try await found in exists.decode(Bool.self) where !found { return [] }
        let states = Dictionary(uniqueKeysWithValues: definitions.map { ($0.type, Set($0.states.keys)) })
        let rows = try await connection.query(
            """
            SELECT id, type, version, status, state FROM orchestrator.workflows
            WHERE status NOT IN ('completed', 'failed', 'cancelled') AND state IS NOT NULL AND type = ANY(\(Array(states.keys))::text[])
            """, logger: logger)
        var stranded: [StrandedInstance] = []
        for try await (id, type, version, status, state) in rows.decode((String, String, String, String, String).self)
        where states[type]?.contains(state) == false {
            stranded.append(StrandedInstance(id: id, type: type, version: version, status: status, state: state))
        }
        return stranded
    }
}
