import ArgumentParser
import BellowsEngine

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a release manager's confirmation of a plan's manual gate (bound to the plan file's checksum).",
        discussion: ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect,
                                    saying: [ExitStatus.refused: "refused (the plan has no such gate, or is invalid)"]))

    @Argument(help: "The plan.")
    var plan: String

    @Argument(help: "The gate's name.")
    var gate: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        do {
            try Engine(project: connection.projectModel, options: connection.engineOptions()).approve(plan: plan, gate: gate)
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, ApproveBody(plan: plan, gate: gate))
            } else {
                Terminal.out("approved gate \(gate) of \(plan)")
            }
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

/// `approve`'s JSON fields: the gate recorded as confirmed.
struct ApproveBody: Encodable {
    var plan: String
    var gate: String
}
