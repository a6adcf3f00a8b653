import ArgumentParser
import BellowsEngine
import BellowsPlan
import Foundation

/// `status`'s formats: the board as text, one JSON document, or Prometheus metrics.
enum StatusFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, prometheus
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The release manager's board: every plan, its phase, what blocks it, the next command.",
        discussion: ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect,
                                    saying: [0: "whatever the plans' phases and blockers (--watch: stopped with Ctrl-C)"]))

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format: text, json, or prometheus (metrics text for a node-exporter textfile or a scrape job).")
    var format: StatusFormat = .text

    @Flag(help: "Refresh the board every --interval seconds until Ctrl-C (text only).")
    var watch = false

    @Option(help: "Seconds between two refreshes of --watch.")
    var interval: Double = 2

    func validate() throws {
        if watch && format != .text { throw ValidationError("--watch shows the text board; --format \(format.rawValue) prints once (run it from a timer or a scrape job)") }
        if !(interval > 0) { throw ValidationError("--interval must be above 0") }
    }

    var errorFormat: OutputFormat { format == .json ? .json : .text }

    func run() throws {
        let engine = Engine(project: connection.projectModel, options: connection.engineOptions())
        if watch { return try watchBoard(engine) }
        do {
            let board = try engine.status()
            switch format {
            case .json: JSONOutput.print(Self.documentName, .ok, StatusBody(plans: board.map(StatusBody.Plan.init)))
            case .prometheus: FileHandle.standardOutput.write(Data(PrometheusText.render(board).utf8))
            case .text: for line in boardText(board) { Terminal.out(line) }
            }
        } catch let error as BellowsError {
            renderError(error, format: errorFormat, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }

    /// `--watch`: the board again every `interval` seconds, on a cleared screen when stdout is a
    /// terminal (else one board after the other, each under its time). A failed read is shown
    /// and tried again at the next refresh; Ctrl-C ends it (exit 0).
    func watchBoard(_ engine: Engine) throws {
        installStopHandlers()
        let screen = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        let clock = DateFormatter()
        clock.dateFormat = "yyyy-MM-dd HH:mm:ss"
        while !stopRequested.load(ordering: .relaxed) {
            var lines = [Terminal.dim("bellows status, every \(PrometheusText.number(interval)) s (Ctrl-C to stop) — \(clock.string(from: Date()))")]
            do {
                lines += boardText(try engine.status())
            } catch let error as BellowsError {
                if case .usage = error { renderError(error, format: .text, command: Self.self); throw ExitCode(ExitStatus.usage) }
                lines.append(Terminal.red("✗ ") + error.description)
            }
            if screen { FileHandle.standardOutput.write(Data("\u{1B}[H\u{1B}[2J".utf8)) }
            for line in lines { Terminal.out(line) }
            if !screen { Terminal.out("") }
            let next = Date().addingTimeInterval(interval)
            while Date() < next && !stopRequested.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: min(0.1, interval)) }
        }
    }

    /// The board as text lines.
    func boardText(_ board: [PlanStatus]) -> [String] {
        if board.isEmpty { return ["no plans in \(connection.projectModel.plansDirectory)"] }
        var lines: [String] = []
        let idWidth = max(4, board.map(\.id.count).max() ?? 4)
        let tableWidth = max(5, board.map(\.table.count).max() ?? 5)
        lines.append(Terminal.bold("PLAN".padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  "
            + "TABLE".padding(toLength: tableWidth, withPad: " ", startingAt: 0) + "  PHASE        BACKFILLED  NEXT"))
        for line in board {
            let phase = line.phase.rawValue + (line.expanding ? "*" : "")
            lines.append(line.id.padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  "
                + line.table.padding(toLength: tableWidth, withPad: " ", startingAt: 0) + "  "
                + phase.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                + String(line.backfillRows).padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                + (line.otherProject.map { "(another project's plan: \($0))" } ?? "")
                + (line.otherProject != nil ? "" : line.fileMissing ? "(plan file missing)" + (line.next.map { " \($0) (from the stored text)" } ?? "") : line.next ?? "—"))
            if let renamed = line.renamedTo {
                let how: String
                switch line.phase {
                case .contracted: how = "renamed the table to \(renamed)"
                case .expanded, .backfilled, .verified: how = "renames the table to \(renamed): the new version uses \(renamed) (a view until contract), the old one \(line.table)"
                case .planned, .rolledBack: how = "renames the table to \(renamed)"
                }
                lines.append(Terminal.dim("    \(how)"))
            }
            for version in SchemaVersion.allCases {
                guard let path = line.searchPaths[version] else { continue }
                lines.append(Terminal.dim("    \(version.rawValue) version: search_path \(path)"))
            }
            if let columns = line.columnPrivilegesDiffer {
                let next = line.next.map { " → \($0) gives them" } ?? ""
                lines.append(Terminal.dim("    column privileges of \(columns.joined(separator: ", ")) changed since the last phase: the new version's view "
                                          + "follows them from the next phase (an UPDATE is already checked against them)\(next)"))
            }
            if let trigger = line.unfinishedArchiveTrigger {
                lines.append(Terminal.dim("    a contract was interrupted while it made the archive: its trigger \(trigger) is still on \(line.table) "
                                          + "(it keeps the unfinished archive up to date) → bellows contract \(line.id) removes it and goes on, "
                                          + "bellows rollback \(line.id) removes it"))
            }
            for key in line.unvalidated {
                lines.append(Terminal.dim("    foreign key \(key) not yet validated (its VALIDATE after contract's commit did not finish) → bellows contract \(line.id)"))
            }
            if let control = line.control?.summary {
                lines.append(Terminal.dim("    backfill \(control)" + (line.control?.paused == true ? " → bellows resume \(line.id)" : "")))
            }
            if let estimate = line.estimate, let text = Self.estimateText(estimate) { lines.append(Terminal.dim("    " + text)) }
            for blocker in line.blockers {
                lines.append(Terminal.dim("    blocked [\(blocker.gate)]: \(blocker.message)" + (blocker.remedy.map { " → \($0)" } ?? "")))
            }
        }
        if !board.contains(where: \.recorded) { lines.append(Terminal.dim("no plans yet on this database: none has been expanded there")) }
        if board.contains(where: \.expanding) { lines.append(Terminal.dim("* expand interrupted before its index builds: run expand again to finish")) }
        return lines
    }
}

extension Status {
    /// `backfill running at 12,000 rows/s, estimated 13,900 (sample, 2026-…): 1.16× the estimated time, ETA 40s`; nil
    /// when there is nothing to say (never started and no estimate of its duration).
    static func estimateText(_ e: EstimateComparison) -> String? {
        let rate = { (r: Double) in Estimate.count(Int(r.rounded())) + " rows/s" }
        let estimated = e.estimatedRowsPerSecond.map { "estimated \(rate($0)) (\(e.source), \(e.estimatedAt))" } ?? "no estimated rate (\(e.source), \(e.estimatedAt))"
        switch e.backfill {
        case "not started":
            guard let seconds = e.estimatedSeconds else { return nil }
            return "backfill estimated at \(Terminal.duration(seconds)) for \(Estimate.count(e.estimatedRows)) rows (\(e.source), \(e.estimatedAt))"
        default:
            var text = "backfill \(e.backfill) at " + (e.rowsPerSecond.map(rate) ?? "? rows/s") + ", " + estimated
            if let ratio = e.ratio { text += String(format: ": %.2f× the estimated time", ratio) }
            if let eta = e.etaSeconds { text += ", ETA \(Terminal.duration(eta))" }
            return text
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
        /// Another project's plan: the file it was expanded from (absent otherwise).
        var otherProject: String?
        /// Whether any command has run the plan on this database.
        var recorded: Bool
        /// A pause or throttle in force: `paused`, `max_rows_per_second`, `batch_size`, `actor`, `changed_at`.
        var control: BackfillControl?
        /// A contracted plan's declared foreign keys not yet validated (`next` is then `bellows contract`).
        var unvalidated: [String]
        /// The `search_path` of each version whose schema of views exists, by version (`old`,
        /// `new`; docs/versions.md); `{}` when none.
        var searchPaths: [String: String]
        /// The backfill against the plan's latest `bellows estimate`; null when never estimated (docs/estimate.md).
        var estimate: EstimateComparison?
        /// `rename_table_to`: the table's new name (absent otherwise).
        var renamedTo: String?
        /// A plan in flight: the replaced columns whose column privileges changed since the last
        /// phase (absent otherwise; docs/versions.md).
        var columnPrivilegesDiffer: [String]?
        /// A verified plan whose contract was interrupted while it made the archive: the
        /// archive's trigger left on the table (absent otherwise).
        var unfinishedArchiveTrigger: String?

        enum CodingKeys: String, CodingKey {
            case plan, table, phase, expanding, next, blockers, recorded, control, unvalidated, estimate
            case searchPaths = "search_paths", renamedTo = "renamed_to", columnPrivilegesDiffer = "column_privileges_differ"
            case unfinishedArchiveTrigger = "unfinished_archive_trigger"
            case backfillRows = "backfill_rows", verifiedAt = "verified_at", fileMissing = "file_missing", otherProject = "other_project"
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
            otherProject = status.otherProject
            recorded = status.recorded
            control = status.control
            unvalidated = status.unvalidated
            searchPaths = Dictionary(uniqueKeysWithValues: status.searchPaths.map { ($0.key.rawValue, $0.value) })
            estimate = status.estimate
            renamedTo = status.renamedTo
            columnPrivilegesDiffer = status.columnPrivilegesDiffer
            unfinishedArchiveTrigger = status.unfinishedArchiveTrigger
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
            try container.encodeIfPresent(otherProject, forKey: .otherProject)
            try container.encode(recorded, forKey: .recorded)
            try container.encode(control, forKey: .control)
            try container.encode(unvalidated, forKey: .unvalidated)
            try container.encodeIfPresent(renamedTo, forKey: .renamedTo)
            try container.encodeIfPresent(columnPrivilegesDiffer, forKey: .columnPrivilegesDiffer)
            try container.encodeIfPresent(unfinishedArchiveTrigger, forKey: .unfinishedArchiveTrigger)
            try container.encode(searchPaths, forKey: .searchPaths)
            try container.encode(estimate, forKey: .estimate)
        }
    }

    var plans: [Plan]
}
