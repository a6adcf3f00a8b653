import ArgumentParser
import BellowsEngine
import BellowsPlan

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print, deterministically, the SQL each phase of a plan runs: the dry run reviewers read.")

    @Argument(help: "The plan.")
    var plan: String

    @Option(help: "Only this phase (expand, backfill, verify, contract, rollback).")
    var phase: PhaseCommand?

    @Option(help: "Project directory.")
    var project: String = "."

    func run() throws {
        do {
            Terminal.out(try ProjectCheck.render(project: Project(root: project), plan: plan, phase: phase))
        } catch let error as BellowsError {
            renderError(error, format: .text)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}
