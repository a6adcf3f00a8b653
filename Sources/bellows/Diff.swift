import ArgumentParser
import BellowsEngine
import Foundation

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how a plan file differs from the text its expand stored in the database.",
        discussion: """
        What matters (columns, types, expressions, constraints, checks, gates, backfill settings) is listed \
        first; a change of comments, formatting or descriptions only is 'cosmetic': the phases go on with the \
        text as expanded.
        """ + " " + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.cannotConnect, saying: [
            0: "the file is as expanded", ExitStatus.refused: "it differs (or is gone)", ExitStatus.usage: "any other error",
        ]))

    @Argument(help: "The plan: a path, a file name without extension, or its number (001).")
    var plan: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        let engine = Engine(project: connection.projectModel, options: connection.engineOptions())
        let diff: PlanDiff
        do {
            diff = try engine.diff(plan: plan)
        } catch let error as BellowsError {
            // Cannot connect is 5; any other error is 2, as with diff(1).
            let code = if case .cannotConnect = error { ExitStatus.cannotConnect } else { ExitStatus.usage }
            renderError(error, format: format, command: Self.self, exitCode: code)
            throw ExitCode(code)
        }
        if format == .json {
            JSONOutput.print(Self.documentName, diff.isSame ? .ok : .refused, diff,
                             error: diff.isSame ? nil : ErrorReport(kind: "differs", message: "the plan file is not as expanded (\(diff.verdict))"))
        } else {
            let file = diff.file ?? diff.expandedPath
            switch diff.verdict {
            case "identical": Terminal.out("\(file) is as expanded (plan \(diff.plan), \(diff.phase.rawValue))")
            case "cosmetic": Terminal.out("\(file) changed since expand, comments/formatting only: the phases use the text as expanded")
            case "missing": Terminal.out("\(file) is missing; the plan as expanded is stored in the database (`bellows rollback \(diff.plan)` works from it)")
            case "unreadable":
                Terminal.out("\(file) does not load; the plan as expanded is stored in the database (`bellows rollback \(diff.plan)` works from it)")
                for error in diff.loadErrors { Terminal.out("  " + error) }
            default: Terminal.out("\(file) changed since expand, and the change matters: the phases refuse it")
            }
            if !diff.differences.isEmpty || !diff.phasesWithOtherSQL.isEmpty {
                Terminal.out(Terminal.bold("what changed (- as expanded, + the file now):"))
                for difference in diff.differences { for line in difference.lines { Terminal.out("  " + line) } }
                for phase in diff.phasesWithOtherSQL { Terminal.out("  ~ the SQL of \(phase.rawValue) differs") }
            }
            if !diff.textLines.isEmpty {
                Terminal.out(Terminal.bold("text (line numbers: - as expanded, + the file now):"))
                for line in diff.textLines { Terminal.out("  " + line) }
            }
        }
        if !diff.isSame { throw ExitCode(ExitStatus.refused) }
    }
}

