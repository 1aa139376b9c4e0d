import Metrics
import MetricsTestKit

/// The test process's metrics, recorded in memory: bootstrapped once, on first use. Metrics are
/// global, so a test reads only series of its own (a workflow type no other test uses).
enum RecordedMetrics {
    static let shared: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()

    /// A counter's total, 0 while it does not exist.
    static func total(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        shared.counters(label: label, dimensions: dimensions).reduce(0) { $0 + $1.totalValue }
    }
}
