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
                JSONOutput.print(Self.documentName, .ok, StatusBody(plans: board.map(StatusBody.Plan.init)))
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
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

/// `status`'s JSON fields: the board.
struct StatusBody: Encodable {
    struct Plan: Encodable {
        var plan: String
        var table: String
        var phase: String
        /// An expand interrupted before its index builds: run expand again.
        var expanding: Bool
        var backfillRows: Int
        /// ISO 8601, UTC.
        var verifiedAt: String?
        /// The command that moves the plan on; null when contracted.
        var next: String?
        var blockers: [GateFailure]
        var fileMissing: Bool
        /// Whether any command has run the plan on this database.
        var recorded: Bool
        /// A pause or throttle in force: `paused`, `max_rows_per_second`, `batch_size`, `actor`, `changed_at`.
        var control: BackfillControl?

        enum CodingKeys: String, CodingKey {
            case plan, table, phase, expanding, next, blockers, recorded, control
            case backfillRows = "backfill_rows", verifiedAt = "verified_at", fileMissing = "file_missing"
        }

        init(_ status: PlanStatus) {
            plan = status.id
            table = status.table
            phase = status.phase.rawValue
            expanding = status.expanding
            backfillRows = status.backfillRows
            verifiedAt = status.verifiedAt.map { ISO8601DateFormatter().string(from: $0) }
            next = status.next
            blockers = status.blockers
            fileMissing = status.fileMissing
            recorded = status.recorded
            control = status.control
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(plan, forKey: .plan)
            try container.encode(table, forKey: .table)
            try container.encode(phase, forKey: .phase)
            try container.encode(expanding, forKey: .expanding)
            try container.encode(backfillRows, forKey: .backfillRows)
            try container.encode(verifiedAt, forKey: .verifiedAt)
            try container.encode(next, forKey: .next)
            try container.encode(blockers, forKey: .blockers)
            try container.encode(fileMissing, forKey: .fileMissing)
            try container.encode(recorded, forKey: .recorded)
            try container.encode(control, forKey: .control)
        }
    }

    var plans: [Plan]
}
