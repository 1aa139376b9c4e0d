@testable import OrchestratorServer
import Testing

/// What the API server's database probe concludes from its checks: it refuses requests only for a
/// check that failed or one left unanswered, not because its own turn came late.
@Suite struct DatabaseProbeTests {
    let patience = Duration.seconds(5)

    @Test func aProbeWhoseNextCheckComesLateStillFindsTheDatabaseReachable() {
        // The last check answered; the machine was too busy to run the next one for 20 s.
        let status = DatabaseProbe.Status(reachable: true, schemaVersion: 17)
        #expect(status.isReachable(at: .now + .seconds(20), patience: patience))
    }

    @Test func aCheckLeftUnansweredPastThePatienceMakesTheDatabaseUnreachable() {
        let began = ContinuousClock.now
        let status = DatabaseProbe.Status(reachable: true, schemaVersion: 17, checkingSince: began)
        #expect(status.isReachable(at: began + .seconds(1), patience: patience))
        #expect(!status.isReachable(at: began + .seconds(6), patience: patience))
    }

    @Test func aFailedCheckMakesTheDatabaseUnreachableAtOnce() {
        let status = DatabaseProbe.Status(reachable: false, schemaVersion: 17)
        #expect(!status.isReachable(at: .now, patience: patience))
    }
}
