import ArgumentParser
import BellowsEngine
import BellowsPlan
import Foundation

struct Estimate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate each phase of a plan on the target before deploying it: rows and size, backfill duration, growth, WAL, locks.",
        discussion: """
        Connected to the target, runs expand's transaction and a few backfill batches on the table in a transaction that is always \
        rolled back (lock_timeout and statement_timeout keep it from waiting long behind the application; it holds expand's lock \
        for about --sample-ms), times them and extrapolates; without a sample, earlier backfills on the table recorded in the \
        state schema give the rate. Records the estimate as an `estimate` event; `status` compares the backfill with it. \
        docs/estimate.md says what each figure means and how good it was on the bench.

        """ + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
            ExitStatus.refused: "the plan is invalid, or its table does not exist (located)", ExitStatus.failed: "a statement of the estimate failed",
        ]))

    @Argument(help: "The plan: a path, a file name without extension, or its number (001).")
    var plan: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    @Flag(help: "Take no sample (no lock on the table): the rate comes from earlier backfills on the table, if any.")
    var noSample = false

    @Option(help: "How long the sample's backfill batches run, in milliseconds (at least 3 batches).")
    var sampleMs: Int = 1000

    @Flag(help: "Do not record the estimate in the audit trail (status then has nothing to compare with).")
    var noRecord = false

    func validate() throws {
        if sampleMs < 1 || sampleMs > 60_000 { throw ValidationError("--sample-ms must be between 1 and 60000") }
    }

    func run() throws {
        let engine = Engine(project: connection.projectModel, options: connection.engineOptions(),
                            reporter: Terminal.reporter(verbose: false, json: format == .json))
        var options = EstimateOptions()
        options.sample = !noSample
        options.sampleMilliseconds = sampleMs
        options.record = !noRecord
        if let lockTimeout = connection.lockTimeout { options.lockTimeoutMilliseconds = lockTimeout }
        do {
            let report = try engine.estimate(plan: plan, options: options)
            if format == .json {
                JSONOutput.print(Self.documentName, .ok, EstimateBody(report: report))
            } else {
                for line in Self.text(report) { Terminal.out(line) }
            }
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }

    static func count(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: n)) ?? String(n)
    }

    static func milliseconds(_ ms: Double) -> String { ms < 10 ? String(format: "%.1f ms", ms) : String(format: "%.0f ms", ms) }

    /// What the archive of contract's dropped columns will take, in words.
    static func archiveText(_ archive: ArchiveSize?) -> String {
        guard let archive else { return "none (contract drops no column)" }
        let columns = archive.columns.joined(separator: ", ")
        if let off = archive.off { return "archive off (\(off)): the values of \(columns) are gone for good once contract commits" }
        guard let bytes = archive.bytes, let rows = archive.rows else { return "not estimated: \(archive.source)" }
        return "about \(Terminal.bytes(bytes)) in \(archive.table) (\(archive.rowsCounted == true ? "" : "~")\(count(rows)) rows of \(columns), "
            + "keyed by \(archive.key.joined(separator: ", ")); \(archive.source))"
    }

    /// The report as text lines.
    static func text(_ report: EstimateReport) -> [String] {
        var lines = [Terminal.bold("estimate for plan \(report.plan)") + " on the \(report.database), phase \(report.phase)"]
        let rows = report.rows.exact.map { "\(count($0)) rows (counted)" } ?? "~\(count(report.rows.estimated)) rows (planner's estimate)"
        lines.append("table \(report.table): \(rows); heap \(Terminal.bytes(report.size.heapBytes)), indexes \(Terminal.bytes(report.size.indexBytes)), TOAST \(Terminal.bytes(report.size.toastBytes))")
        let b = report.backfill
        if !b.needed {
            lines.append("backfill: none (the plan computes no new column from the old ones)")
        } else if let seconds = b.seconds, let rate = b.rowsPerSecond {
            var line = "backfill: \(count(b.rows)) rows in about \(Terminal.duration(seconds)) at \(count(Int(rate))) rows/s, from "
            if b.source == "sample", let sample = b.sample {
                line += "a sample of \(sample.batches.count) batches, \(count(sample.rows)) rows (rolled back; expand's lock held \(milliseconds(sample.heldMilliseconds)))"
            } else {
                line += "earlier backfills on this table"
            }
            lines.append(line)
        } else {
            lines.append("backfill: \(count(b.rows)) rows; no duration: no sample and no earlier backfill on this table")
        }
        if let skipped = b.sampleSkipped {
            lines.append(Terminal.dim("  no sample: \(skipped)" + (b.failedSampleHeldMilliseconds.map { "; expand's lock was held \(milliseconds($0))" } ?? "")))
        }
        if let history = b.history, b.source != "history" {
            lines.append(Terminal.dim("  earlier backfills on this table (\(history.plans.joined(separator: ", "))): \(count(Int(history.rowsPerSecond))) rows/s"))
        }
        if let heap = report.growth.heapBytes {
            lines.append("growth: heap +\(Terminal.bytes(heap)) (+\(Terminal.bytes(report.growth.heapBytesWithoutVacuum ?? heap)) without VACUUM), "
                         + "indexes +\(Terminal.bytes(report.growth.indexBytes ?? 0)), TOAST +\(Terminal.bytes(report.growth.toastBytes ?? 0))")
        } else {
            lines.append("growth: \(report.growth.model)")
        }
        if let wal = report.wal.bytes {
            lines.append("WAL: about \(Terminal.bytes(wal))" + (report.wal.bytesPerRow.map { String(format: " (%.0f B per row)", $0) } ?? ""))
        } else {
            lines.append("WAL: \(report.wal.model)")
        }
        lines.append("archive of dropped data: " + archiveText(report.archive))
        lines.append("locks:")
        let phaseWidth = report.locks.map(\.phase.count).max() ?? 8
        let modeWidth = report.locks.map(\.mode.count).max() ?? 16
        for lock in report.locks {
            let hold = lock.holdMilliseconds.map { "~" + milliseconds($0) } ?? "?"
            lines.append("  \(lock.phase.padding(toLength: phaseWidth, withPad: " ", startingAt: 0))  \(lock.mode.padding(toLength: modeWidth, withPad: " ", startingAt: 0))  "
                         + "\(lock.relation)  \(hold)  (blocks \(lock.blocks); \(lock.transaction ? "until its transaction ends" : "one statement")): \(lock.hold)")
        }
        for note in report.notes { lines.append(Terminal.dim("note: \(note)")) }
        return lines
    }
}

/// `estimate`'s JSON fields: the report (docs/json.md, docs/estimate.md).
struct EstimateBody: Encodable {
    var report: EstimateReport

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
    }
}
