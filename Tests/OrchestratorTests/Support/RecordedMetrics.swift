import Metrics
import MetricsTestKit

/// The test process's metrics, recorded in memory: bootstrapped once, before the first counter a
/// test reads is created. Metrics are global, so a test reads only series of its own (a workflow
/// type no other test uses).
enum RecordedMetrics {
    private static let shared: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()

    /// Reads a counter's total (0 while it does not exist); the recording starts now, so call it
    /// before the engine counts.
    static func counter(_ label: String, _ dimensions: [(String, String)]) -> @Sendable () -> Int64 {
        let metrics = shared
        return { metrics.counters(label: label, dimensions: dimensions).reduce(0) { $0 + $1.totalValue } }
    }
}
