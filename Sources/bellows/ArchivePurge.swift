import ArgumentParser
import BellowsEngine
import Foundation

struct ArchivePurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Drop archives for good: a plan's (or migration's), or --expired (past the archive_retention each was made under), or both.",
        discussion: "Nothing else removes an archive: a retention only makes it purgeable, and each archive keeps the retention of the project "
            + "that made it. Only archives of this project's plans and migrations unless --force. Asks for confirmation on a terminal; "
            + "scripts pass --yes. Without a terminal and without --yes it refuses (exit 1). Each purge is recorded in the audit trail. "
            + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
                0: "done (also when nothing had expired)", ExitStatus.refused: "not confirmed (nothing was purged)",
                ExitStatus.usage: "usage error (neither a plan nor --expired, no archive of the plan, the archive of a plan this project does not have without --force)",
            ]))

    @Argument(help: "The plan or migration whose archives to drop.")
    var plan: String?

    @Flag(help: "Only archives past the archive_retention recorded with them (bellows.yaml of the project that made them).")
    var expired = false

    @Flag(help: "Also archives of plans or migrations this project does not have (another project's on the same database).")
    var force = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        do {
            let engine = Engine(project: connection.projectModel, options: connection.engineOptions(),
                                reporter: Terminal.reporter(verbose: false, json: format == .json))
            if !yes {
                let candidates = try engine.archivesToPurge(plan: plan, expiredOnly: expired, force: force)
                if !candidates.isEmpty {
                    guard isatty(STDIN_FILENO) == 1 else {
                        let message = "refusing to purge \(candidates.count) archive(s) without confirmation: stdin is not a terminal; pass --yes"
                        if format == .json {
                            JSONOutput.print(Self.documentName, .refused, ArchiveBody(archives: candidates),
                                             error: ErrorReport(kind: "not-confirmed", message: message))
                        } else {
                            Terminal.err(Terminal.red("✗ ") + message)
                        }
                        throw ExitCode(ExitStatus.refused)
                    }
                    for archive in candidates { Terminal.err("  " + archive.line) }
                    FileHandle.standardError.write(Data("Purge \(candidates.count) archive(s)? The data in them is gone for good. [y/N] ".utf8))
                    let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
                    guard answer == "y" || answer == "yes" else {
                        Terminal.err("purge cancelled; nothing was changed")
                        throw ExitCode(ExitStatus.refused)
                    }
                }
            }
            let purged = try engine.purgeArchives(plan: plan, expiredOnly: expired, force: force)
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, ArchiveBody(archives: purged))
                return
            }
            if purged.isEmpty { Terminal.out("nothing to purge") }
            for archive in purged { Terminal.out(Terminal.green("✓") + " purged " + archive.line) }
        } catch let error as BellowsError {
            throw archiveFailure(error, format: format, command: Self.self)
        }
    }
}
