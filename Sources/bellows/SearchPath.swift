import ArgumentParser
import BellowsEngine
import BellowsPlan
import Foundation

extension SchemaVersion: ExpressibleByArgument {}

struct SearchPath: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-path",
        abstract: "Print the search_path an application of one version sets while a plan is in flight (its schema of views, then the table's schema).",
        discussion: "The old version sees the table's columns as they were before the plan; the new version sees the final names and types "
            + "from expand on (a same-name type change included). Both schemas exist from expand until rollback; contract drops the old "
            + "one and leaves the new one until the next plan on the table is expanded (docs/versions.md). Prints the value alone on stdout, "
            + "for `SET search_path TO …` or `PGOPTIONS=\"-c search_path=…\"`. Reads only. "
            + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect,
                              saying: [0: "the schema exists; its search_path is printed", ExitStatus.refused: "the version's schema is not there (the plan is not in flight)"]))

    @Argument(help: "The plan: a path, a file name without extension, its number, or a plan id the database knows.")
    var plan: String

    @Option(help: "The application version: old (the shape before the plan) or new (the final shape).")
    var version: SchemaVersion

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        let result: VersionSearchPath
        do {
            result = try Engine(project: connection.projectModel, options: connection.engineOptions())
                .searchPath(plan: plan, version: version)
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
        let missing = "\(result.plan) has no \(result.version.rawValue) version's schema (\(result.schema)): it is \(result.phase.rawValue)"
            + (result.phase == .contracted ? (result.version == .old ? "; contract dropped it" : "; the next plan on its table dropped it")
                                           : "; the schemas exist from expand until rollback or contract")
        if format == .json {
            var error = ErrorReport(kind: "refused", message: missing)
            error.plan = result.plan
            error.phase = result.phase.rawValue
            JSONOutput.print(Self.documentName, Outcome(exitCode: result.searchPath == nil ? ExitStatus.refused : 0), result,
                             error: result.searchPath == nil ? error : nil)
        } else if let path = result.searchPath {
            Terminal.out(path)
        } else {
            Terminal.err(Terminal.red("✗ ") + missing)
        }
        if result.searchPath == nil { throw ExitCode(ExitStatus.refused) }
    }
}
