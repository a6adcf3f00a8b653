import ArgumentParser
import BellowsEngine

struct ArchiveList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every archive: the plan or migration, the table and columns kept, rows, bytes, when, by whom, and when archive_retention lets `purge --expired` remove it.",
        discussion: "Reads only: it creates nothing, not even the bellows schema. "
            + ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [0: "also when there is no archive"]))

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        do {
            let archives = try Engine(project: connection.projectModel, options: connection.engineOptions()).archives()
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, ArchiveBody(archives: archives))
                return
            }
            if archives.isEmpty { Terminal.out("no archive (contract keeps what it drops in bellows_archive unless `archive: false`)") }
            for archive in archives { Terminal.out(archive.expired ? Terminal.dim(archive.line) : archive.line) }
        } catch let error as BellowsError {
            throw archiveFailure(error, format: format, command: Self.self)
        }
    }
}
