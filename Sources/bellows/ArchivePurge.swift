import ArgumentParser
import BellowsEngine

struct ArchivePurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Drop archives for good: a plan's (or migration's), or --expired (older than archive_retention of bellows.yaml), or both.",
        discussion: "Nothing else removes an archive: a retention only makes it purgeable. Each purge is recorded in the audit trail. "
            + ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
                0: "done (also when nothing had expired)", ExitStatus.usage: "usage error (neither a plan nor --expired, no archive of the plan, --expired without archive_retention)",
            ]))

    @Argument(help: "The plan or migration whose archives to drop.")
    var plan: String?

    @Flag(help: "Only archives older than archive_retention (bellows.yaml).")
    var expired = false

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        do {
            let engine = Engine(project: connection.projectModel, options: connection.engineOptions(),
                                reporter: Terminal.reporter(verbose: false, json: format == .json))
            let purged = try engine.purgeArchives(plan: plan, expiredOnly: expired)
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
