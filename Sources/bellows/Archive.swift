import ArgumentParser
import BellowsEngine
import Foundation

/// `bellows archive`: what contract (and `migrate rollback --archive`) kept of what it dropped.
struct Archive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What contract and `migrate rollback --archive` kept of the data they dropped (schema bellows_archive): list, restore, purge.",
        subcommands: [ArchiveList.self, ArchiveRestore.self, ArchivePurge.self],
        defaultSubcommand: ArchiveList.self)
}

/// The JSON of one archive (`archive list`, `restore`, `purge`).
struct ArchiveBody: Encodable {
    var archives: [ArchiveEntry]
}

extension ArchiveEntry {
    /// One line of `archive list` and `purge`.
    var line: String {
        let what = columns.isEmpty ? "table \(table)" : "\(table): \(columns.joined(separator: ", "))"
        let size = [rows.map { "\($0) rows" }, bytes.map { Terminal.bytes($0) }].compactMap { $0 }.joined(separator: ", ")
        return "bellows_archive.\(archiveTable)  \(source) \(owner)  \(what)  \(size.isEmpty ? "size unknown" : size)  \(createdAt) by \(createdBy)"
            + (expiresAt.map { expired ? "  expired \($0)" : "  expires \($0)" } ?? "")
    }
}

/// Renders an engine error of an `archive` command and exits with its code.
func archiveFailure(_ error: BellowsError, format: OutputFormat, command: any ParsableCommand.Type) -> ExitCode {
    renderError(error, format: format, command: command)
    return ExitCode(ExitStatus.code(for: error))
}
