import ArgumentParser
import BellowsEngine

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a paused backfill: it goes on from its cursor before its next poll (about a second).",
        discussion: "A throttle stays (`bellows throttle PLAN --clear` removes it). Recorded in the audit trail. " + controlHelp)

    @OptionGroup var options: ControlOptions

    func run() throws { try options.run(.resume, command: Self.self) }
}
