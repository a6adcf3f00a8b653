import BellowsPlan
import Testing

/// `advance --through X` decides its next step from the plan's phase alone: X is an upper bound.
struct AdvanceStepTests {
    @Test(arguments: [
        (Phase.planned, PhaseCommand?.none, PhaseCommand?.some(.expand)),
        (.verified, nil, .contract),
        (.planned, .contract, .expand),
        (.expanded, .verify, .backfill),
        (.rolledBack, .expand, .expand),
        // At or past the bound: nothing, whatever comes next (hostile-d 06 ran contract here).
        (.expanded, .expand, nil),
        (.backfilled, .expand, nil),
        (.verified, .backfill, nil),
        (.verified, .verify, nil),
        (.contracted, .contract, nil),
        (.contracted, nil, nil),
    ])
    func theBoundIsNeverPassed(phase: Phase, through: PhaseCommand?, expected: PhaseCommand?) {
        #expect(PhaseCommand.next(after: phase, expanding: false, through: through) == expected)
    }

    @Test func aHalfDoneExpandResumesWhateverTheBound() {
        #expect(PhaseCommand.next(after: .planned, expanding: true, through: .expand) == .expand)
        #expect(PhaseCommand.next(after: .rolledBack, expanding: true, through: nil) == .expand)
    }
}
