import ArgumentParser
import BellowsEngine
import BellowsPlan

extension PhaseCommand: ExpressibleByArgument {}
extension BackfillPacing: ExpressibleByArgument {}

struct Advance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the plan's next phase; with --through, keep going up to that phase (never past it) or the first closed gate.",
        discussion: ExitStatus.phaseHelp + " A closed gate after some phases ran exits 1; the phases that ran stay done.")

    @OptionGroup var options: PhaseOptions

    @Option(help: "Keep advancing up to this phase (expand, backfill, verify or contract); a plan already at or past it runs nothing.")
    var through: PhaseCommand?

    func validate() throws {
        if let through, through == .rollback {
            throw ValidationError("--through takes a forward phase (expand, backfill, verify or contract), not '\(through.rawValue)': to undo a plan run `bellows rollback \(options.plan)`")
        }
    }

    func run() throws {
        try runAndRender(Self.self, plan: options.plan, format: options.format) {
            let result = try options.engine().advance(plan: options.plan, through: through)
            if result.outcomes.isEmpty, result.stoppedBy == nil, options.format == .text {
                let bound = through.map { ", at or past \($0.rawValue)" } ?? ""
                Terminal.out("\(result.plan) is \(result.phase.rawValue)\(bound): nothing to do")
            }
            return (result.outcomes, result.stoppedBy)
        }
    }
}
