import ArgumentParser
import BellowsEngine

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove everything expand added; the table returns to its original shape.",
        discussion: ExitStatus.phaseHelp)

    @OptionGroup var options: PhaseOptions

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) { ([try options.engine().run(.rollback, plan: options.plan)], nil) }
    }
}
