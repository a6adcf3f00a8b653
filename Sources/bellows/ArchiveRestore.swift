import ArgumentParser
import BellowsEngine

struct ArchiveRestore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a column contract dropped back beside the live ones: a new column <column>_restored (or --as), filled from the archive by key in batches.",
        discussion: "Never writes a column that exists: a taken name is refused, except the column an unfinished restore made (run it again to finish). "
            + "Restores into the table the archive came from, whatever its name now. Rows deleted since contract get nothing; rows written "
            + "(inserted or updated) since stay NULL and are counted, unless --by-key. "
            + ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.interrupted, ExitStatus.cannotConnect, saying: [
                ExitStatus.usage: "usage error (no archive of the plan, an unknown column, the new column's name taken)",
            ]))

    @Argument(help: "The plan whose contract dropped the column (its id or number).")
    var plan: String

    @Option(help: "Only this archived column (default: every column of the archive).")
    var column: String?

    @Option(name: .customLong("as"), help: "The new column's name (default: <column>_restored); needs --column when the archive holds several.")
    var into: String?

    @Flag(name: .customLong("by-key"), help: "Fill rows written since contract too, by their key (a key reused since gets the archived row's value).")
    var byKey = false

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        do {
            let engine = Engine(project: connection.projectModel, options: connection.engineOptions(),
                                reporter: Terminal.reporter(verbose: false, json: format == .json))
            let outcome = try engine.restoreArchive(plan: plan, column: column, into: into, byKey: byKey)
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, ArchiveRestoreBody(archive: outcome.archive, restored: outcome.restored))
                return
            }
            for restored in outcome.restored {
                Terminal.out(Terminal.green("✓") + " \(outcome.archive.table).\(restored.column) restored into \(restored.into) (\(restored.type)): \(restored.rows) row(s)"
                             + (restored.writtenSince > 0 ? "; \(restored.writtenSince) row(s) written since contract left NULL (--by-key fills them by key)" : ""))
            }
        } catch let error as BellowsError {
            throw archiveFailure(error, format: format, command: Self.self)
        }
    }
}

/// `archive restore`'s JSON fields.
struct ArchiveRestoreBody: Encodable {
    var archive: ArchiveEntry
    var restored: [RestoredColumn]
}
