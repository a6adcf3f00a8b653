import ArgumentParser
import BellowsEngine
import Foundation

struct Baseline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Adopt an existing database: capture its schema as migrations/000_baseline.sql, recorded as applied there.",
        discussion: """
        Runs pg_dump --schema-only (no owners, privileges, tablespaces, publications or subscriptions; not the \
        bellows schema) and writes what the migration runner, lint and check read. pg_dump must not be older than \
        the server: --pg-bindir DIR or BELLOWS_PG_BINDIR names the client's directory, else the first pg_dump on the \
        PATH or in /usr/lib/postgresql/*/bin whose major version is at least the server's. Run again: nothing \
        changes while the database's schema is the file's; on another database with the same schema it records the \
        file there. Refused (exit 1, nothing changed) when migrations/ holds other migrations, the file differs \
        from the database, or a plan is between expand and contract.
        """ + " " + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect))

    @OptionGroup var target: MigrationTargetOptions

    @Option(help: "Who runs the command, for the ledger and the audit log (default: $BELLOWS_ACTOR or user@host).")
    var actor: String?

    @Option(name: .customLong("pg-bindir"), help: ArgumentHelp("The directory of the pg_dump to run (default $BELLOWS_PG_BINDIR, then the PATH's).", valueName: "dir"))
    var pgBindir: String?

    func run() throws {
        var options = MigrationOptions(conninfo: target.conninfo)
        if let actor { options.actor = actor }
        let runner = MigrationRunner(project: Project(root: target.project), options: options,
                                     reporter: Terminal.reporter(verbose: false, json: target.format == .json))
        let result: BaselineResult
        do {
            result = try runner.baseline(pgBinDirectory: pgBindir)
        } catch {
            throw failMigration(error, format: target.format, command: Self.self)
        }
        if target.format == .json {
            JSONOutput.print(Self.documentName, .ok, BaselineBody(result))
            return
        }
        switch result.outcome {
        case .created:
            Terminal.out(Terminal.green("✓ ") + "wrote \(result.path) and recorded it as applied; `bellows migrate` applies only later migrations")
        case .recorded:
            Terminal.out(Terminal.green("✓ ") + "\(result.path) holds this database's schema: recorded it as applied")
        case .unchanged:
            Terminal.out("\(result.path) is up to date and recorded: nothing to do")
        }
    }
}

/// `baseline`'s JSON fields.
struct BaselineBody: Encodable {
    /// `created` (written and recorded), `recorded` (the file was there) or `unchanged`.
    var result: String
    var path: String
    var checksum: String
    /// The pg_dump that captured the schema.
    var pgDump: String

    enum CodingKeys: String, CodingKey {
        case result, path, checksum
        case pgDump = "pg_dump"
    }

    init(_ baseline: BaselineResult) {
        result = baseline.outcome.rawValue
        path = baseline.path
        checksum = baseline.checksum
        pgDump = baseline.pgDump
    }
}
