import ArgumentParser
import BellowsEngine
import BellowsPlan

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print, deterministically, the SQL each phase of a plan runs: the dry run reviewers read.",
        discussion: ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
            ExitStatus.refused: "the plan is invalid", ExitStatus.failed: "with --database, reading the catalog failed",
            ExitStatus.cannotConnect: "with --database, cannot connect to PostgreSQL",
        ]))

    @Argument(help: "The plan.")
    var plan: String

    @Option(help: "Only this phase (expand, backfill, verify, contract, rollback).")
    var phase: PhaseCommand?

    @Option(help: ArgumentHelp("The PostgreSQL version to render for (18, 18.6 or 180006); default: the --database's, else the oldest supported.",
                               discussion: "Some statements differ by version: on 18 and later NOT NULL is added as a NOT VALID NOT NULL constraint instead of a CHECK.",
                               valueName: "N"))
    var serverVersion: String?

    @Option(help: "Project directory.")
    var project: String = "."

    @Option(name: [.customLong("database"), .customShort("d")],
            help: "Render against this live database's catalog and version instead of migrations/ (libpq conninfo or URI; '' for the PG* environment). Read-only.")
    var database: String?

    func validate() throws {
        if let serverVersion, ServerVersion.parse(serverVersion) == nil {
            throw ValidationError("--server-version must be a PostgreSQL version such as 18, 18.6 or 180006, not '\(serverVersion)'")
        }
    }

    func run() throws {
        do {
            let live = try database.map { try LiveSchema.read(conninfo: $0) }
            Terminal.out(try ProjectCheck.render(project: Project(root: project), plan: plan, phase: phase,
                                                 serverVersion: serverVersion.flatMap(ServerVersion.parse), live: live))
        } catch let error as BellowsError {
            renderError(error, format: .text)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}
