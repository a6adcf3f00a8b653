import ArgumentParser
import BellowsEngine

struct Expand: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add the new shape beside the old: new columns, dual-write trigger, NOT VALID constraints, concurrent indexes.",
        discussion: ExitStatus.phaseHelp)

    @OptionGroup var options: PhaseOptions

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) { ([try options.engine().run(.expand, plan: options.plan)], nil) }
    }
}
