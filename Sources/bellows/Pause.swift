import ArgumentParser
import BellowsEngine

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause a plan's backfill from anywhere that reaches the database: the running backfill stops before its next batch, keeping its cursor, until `bellows resume`.",
        discussion: "A backfill started while the plan is paused waits too. Recorded in the audit trail. " + controlHelp)

    @OptionGroup var options: ControlOptions

    func run() throws { try options.run(.pause, command: Self.self) }
}
