import ArgumentParser
import BellowsEngine
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The release manager's board: every plan, its phase, what blocks it, the next command.",
        discussion: ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect,
                                    saying: [0: "whatever the plans' phases and blockers"]))

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        let engine = Engine(project: connection.projectModel, options: connection.engineOptions())
        do {
            let board = try engine.status()
            if format == .json {
                Terminal.out(JSONValue.array(board.map(\.json)).serialized)
                return
            }
            if board.isEmpty { Terminal.out("no plans in \(connection.projectModel.plansDirectory)"); return }
            let idWidth = max(4, board.map(\.id.count).max() ?? 4)
            let tableWidth = max(5, board.map(\.table.count).max() ?? 5)
            Terminal.out(Terminal.bold("PLAN".padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  "
                + "TABLE".padding(toLength: tableWidth, withPad: " ", startingAt: 0) + "  PHASE        BACKFILLED  NEXT"))
            for line in board {
                let phase = line.phase.rawValue + (line.expanding ? "*" : "")
                Terminal.out(line.id.padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  "
                    + line.table.padding(toLength: tableWidth, withPad: " ", startingAt: 0) + "  "
                    + phase.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                    + String(line.backfillRows).padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                    + (line.fileMissing ? "(plan file missing)" + (line.next.map { " \($0) (from the stored text)" } ?? "") : line.next ?? "—"))
                if let control = line.control?.summary {
                    Terminal.out(Terminal.dim("    backfill \(control)" + (line.control?.paused == true ? " → bellows resume \(line.id)" : "")))
                }
                for blocker in line.blockers {
                    Terminal.out(Terminal.dim("    blocked [\(blocker.gate)]: \(blocker.message)" + (blocker.remedy.map { " → \($0)" } ?? "")))
                }
            }
            if !board.contains(where: \.recorded) { Terminal.out(Terminal.dim("no plans yet on this database: none has been expanded there")) }
            if board.contains(where: \.expanding) { Terminal.out(Terminal.dim("* expand interrupted before its index builds: run expand again to finish")) }
        } catch let error as BellowsError {
            renderError(error, format: format)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}
