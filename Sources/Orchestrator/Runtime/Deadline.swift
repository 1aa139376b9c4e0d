import Synchronization

/// Waits for a task's value for at most a given time. The task is not awaited past that: an
/// activity that ignores cancellation cannot hold its attempt beyond its timeout.
enum Deadline {
    /// The task's value, or `nil` after `limit` or when the waiting task is cancelled.
    static func value<T: Sendable>(of work: Task<T, Never>, within limit: Duration) async -> T? {
        let race = Race<T>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                race.arm(continuation)
                let timer = Task {
                    // A cancelled sleep returns early: only a sleep that ran its course is a timeout.
                    guard (try? await Task.sleep(for: limit)) != nil else { return }
                    race.finish(nil)
                }
                Task {
                    let value = await work.value
                    race.finish(value)
                    timer.cancel()
                }
            }
        } onCancel: {
            race.finish(nil)
        }
    }

    /// The first of a value, a timeout or a cancellation wins; the others are ignored.
    private final class Race<T: Sendable>: Sendable {
        private enum State {
            case waiting
            case armed(CheckedContinuation<T?, Never>)
            case finished(T?)
            case resumed
        }

        private let state = Mutex(State.waiting)

        func arm(_ continuation: CheckedContinuation<T?, Never>) {
            let early: T?? = state.withLock { state in
                if case .finished(let value) = state {
                    state = .resumed
                    return .some(value)
                }
                state = .armed(continuation)
                return .none
            }
            if case .some(let value) = early { continuation.resume(returning: value) }
        }

        func finish(_ value: T?) {
            let continuation: CheckedContinuation<T?, Never>? = state.withLock { state in
                switch state {
                case .waiting:
                    state = .finished(value)
                    return nil
                case .armed(let continuation):
                    state = .resumed
                    return continuation
                case .finished, .resumed:
                    return nil
                }
            }
            continuation?.resume(returning: value)
        }
    }
}
