import Testing

/// The shop's end-to-end suites, one test at a time: each runs a server, its workers and
/// localstripe, and running them all at once would starve the engine's timing-sensitive tests on
/// a two-core machine.
@Suite(.serialized) enum CommerceSuites {}
