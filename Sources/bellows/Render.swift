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

    @Option(help: "Output format.")
    var format: OutputFormat = .text

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
            let tables = Project(root: project).loadPlans().plans.map(\.table.value)
            // The plan's table: its rows and column widths size contract's archive.
            let own = (try? Project(root: project).resolvePlan(plan)).map { [$0.table.value] } ?? []
            let live = try database.map { try LiveSchema.read(conninfo: $0, planTables: tables, statisticsOf: own) }
            let rendered = try ProjectCheck.rendered(project: Project(root: project), plan: plan, phase: phase,
                                                     serverVersion: serverVersion.flatMap(ServerVersion.parse), live: live)
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, RenderBody(plan: plan, phase: phase?.rawValue, sql: rendered.sql, archive: rendered.archive))
            } else {
                Terminal.out(rendered.sql)
            }
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

/// `render`'s JSON fields: the script `render` prints as text.
struct RenderBody: Encodable {
    /// The plan as given on the command line.
    var plan: String
    /// The phase asked for; null for every phase.
    var phase: String?
    /// The SQL, with the comments that say which schema and version it was rendered for.
    var sql: String
    /// The archive contract will fill (its expected size with -d); null when contract drops nothing.
    var archive: ArchiveSize?

    enum CodingKeys: String, CodingKey { case plan, phase, sql, archive }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plan, forKey: .plan)
        try container.encode(phase, forKey: .phase)
        try container.encode(sql, forKey: .sql)
        try container.encode(archive, forKey: .archive)
    }
}
