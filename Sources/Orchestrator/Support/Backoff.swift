/// How long the runtime's own loops wait after `failures` failures in a row (a lost listen
/// connection, a claim or a commit that failed while the database is away): `base` doubled with
/// each failure, at most `cap`. Tasks have their own, configurable `RetryPolicy`.
enum Backoff {
    static func delay(afterFailures failures: Int, base: Duration, cap: Duration = .seconds(5)) -> Duration {
        min(base * (1 << min(max(failures, 0), 16)), cap)
    }
}
