/// The worker side of eager dispatch, as its completer sees it: free slots lent to a completion
/// batch before it commits, and the tasks leased to it handed over once it has.
protocol TaskHandoff: Sendable {
    /// Lends slots to the next commit of `count` outcomes; `nil` when none (stopping).
    func reserveSlots(upTo count: Int) -> EagerDispatch?
    /// After the commit: runs what was leased and takes back the slots not used — all of them, and
    /// nothing is run, when the transaction did not commit.
    func handOff(_ dispatch: EagerDispatch, committed: Bool)
}
