import ArgumentParser
import BellowsEngine
import BellowsSQL

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check plans (and lint migrations) as CI does, every error located, in one run: offline by default, against a live database with --database.",
        discussion: ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
            0: "no finding of error severity", ExitStatus.refused: "a finding of error severity",
            ExitStatus.failed: "with --database, reading the catalog failed", ExitStatus.cannotConnect: "with --database, cannot connect to PostgreSQL",
        ]))

    @Argument(help: "Plan files, migration files or directories (default: plans/ and migrations/).")
    var paths: [String] = []

    @Option(help: "Project directory holding plans/ and migrations/.")
    var project: String = "."

    @Option(help: "Output format: text, json, github (workflow annotations), gitlab (Code Quality report) or sarif (SARIF 2.1.0).")
    var format: FindingsFormat = .text

    @Option(name: [.customLong("database"), .customShort("d")],
            help: "Check plans against this live database's catalog instead of migrations/ (libpq conninfo or URI; '' for the PG* environment). Read-only.")
    var database: String?

    func run() throws {
        var live: LiveSchema?
        if let database {
            do {
                live = try LiveSchema.read(conninfo: database, planTables: Project(root: project).loadPlans().plans.map(\.table.value))
            } catch let error as BellowsError {
                renderError(error, format: format == .json ? .json : .text, command: Self.self)
                throw ExitCode(ExitStatus.code(for: error))
            }
        }
        let schema = live.map { "the \($0.name), live catalog (\($0.catalog.tables.count) tables)" } ?? "migrations/ (offline)"
        if format != .json { Terminal.err("schema: " + schema) }
        let findings = ProjectCheck.check(project: Project(root: project), paths: paths, live: live)
        try Terminal.renderFindings(findings, format: format, command: Self.self, schema: schema)
    }
}
