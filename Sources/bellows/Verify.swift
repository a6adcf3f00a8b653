import ArgumentParser
import BellowsEngine

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove every row agrees with up(old), validate constraints and indexes, run the plan's checks.",
        discussion: ExitStatus.phaseHelp)

    @OptionGroup var options: PhaseOptions

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) { ([try options.engine().run(.verify, plan: options.plan)], nil) }
    }
}
