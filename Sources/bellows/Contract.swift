import ArgumentParser
import BellowsEngine

struct Contract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "In one short transaction: drop triggers and old columns, move the new ones into place.",
        discussion: ExitStatus.phaseHelp)

    @OptionGroup var options: PhaseOptions

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) { ([try options.engine().run(.contract, plan: options.plan)], nil) }
    }
}
