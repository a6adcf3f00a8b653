import ArgumentParser
import BellowsEngine
import BellowsPlan
import BellowsSQL
import Foundation
import Synchronization

/// Output helpers: the CLI is the only place that prints.
///
/// Colour is decided per stream (``colours(_:isTerminal:)``): what goes to stderr is coloured when
/// stderr is a terminal, whatever stdout is. The style helpers always mark text up; `out` and
/// `err` remove the markup for a stream without colour. The live progress line (stderr, a
/// terminal that is not `TERM=dumb`) is cleared before anything else is printed.
enum Terminal {
    static let environment = ProcessInfo.processInfo.environment
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    static let stdoutColour = colours(environment, isTerminal: stdoutIsTTY)
    static let stderrColour = colours(environment, isTerminal: stderrIsTTY)
    /// A progress line rewritten in place: only on a terminal that can move the cursor.
    static let stderrLive = stderrIsTTY && environment["TERM"] != "dumb"

    /// Whether a stream gets colour: never with `NO_COLOR` (any non-empty value, no-color.org),
    /// always with `FORCE_COLOR` (non-empty, not `0`; `FORCE_COLOR=0` never), never on
    /// `TERM=dumb`, else when the stream is a terminal.
    static func colours(_ environment: [String: String], isTerminal: Bool) -> Bool {
        if let none = environment["NO_COLOR"], !none.isEmpty { return false }
        if let force = environment["FORCE_COLOR"], !force.isEmpty { return force != "0" }
        if environment["TERM"] == "dumb" { return false }
        return isTerminal
    }

    static func out(_ text: String) {
        endLiveLine()
        FileHandle.standardOutput.write(Data(((stdoutColour ? text : plain(text)) + "\n").utf8))
    }

    static func err(_ text: String) {
        endLiveLine()
        FileHandle.standardError.write(Data(((stderrColour ? text : plain(text)) + "\n").utf8))
    }

    /// Shows `line` as the live progress line on stderr, replacing the previous one.
    static func live(_ line: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + (stderrColour ? line : plain(line))).utf8))
        liveLineShown.store(true, ordering: .relaxed)
    }

    /// Clears the live progress line, if one is shown, so that what follows starts a clean line.
    static func endLiveLine() {
        if liveLineShown.exchange(false, ordering: .relaxed) {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        }
    }

    static func bold(_ text: String) -> String { "\u{1B}[1m\(text)\u{1B}[0m" }
    static func red(_ text: String) -> String { "\u{1B}[31m\(text)\u{1B}[0m" }
    static func green(_ text: String) -> String { "\u{1B}[32m\(text)\u{1B}[0m" }
    static func dim(_ text: String) -> String { "\u{1B}[2m\(text)\u{1B}[0m" }

    /// `text` without its SGR sequences (`ESC [ … m`), the only markup the style helpers add.
    static func plain(_ text: String) -> String {
        guard text.contains("\u{1B}") else { return text }
        var result = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "\u{1B}" else { result.append(scalar); continue }
            var sequence = String.UnicodeScalarView([scalar])
            guard let bracket = scalars.next() else { result.append(contentsOf: sequence); break }
            sequence.append(bracket)
            guard bracket == "[" else { result.append(contentsOf: sequence); continue }
            var ended = false
            while let next = scalars.next() {
                sequence.append(next)
                if next == "m" { ended = true; break }
                if !(("0"..."9").contains(next) || next == ";") { break }
            }
            if !ended { result.append(contentsOf: sequence) }
        }
        return String(result)
    }

    static func bytes(_ n: Int) -> String { ByteCount.text(n) }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.0fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }

    /// `45.2%  4520/~10000 rows  1234 rows/s  ETA 5s  batch 500  table 1.2 MB`; past the
    /// planner's estimate (rows inserted since it was taken) the count alone, without a percentage
    /// or an ETA that would claim the end is reached.
    static func progressText(_ progress: BackfillProgress) -> String {
        var line: String
        if progress.estimatedTotal == 0 && !progress.walkDone {
            // A table never analyzed: the planner has no estimate of its rows.
            line = "\(progress.rowsScanned) rows (no estimate of the table's rows: it was never analyzed)  "
                + String(format: "%.0f rows/s", progress.rowsPerSecond) + "  ETA ?"
        } else if progress.estimatedTotal > 0 && progress.rowsScanned > progress.estimatedTotal {
            line = "\(progress.rowsScanned) rows (more than the ~\(progress.estimatedTotal) estimated)  "
                + String(format: "%.0f rows/s", progress.rowsPerSecond) + "  ETA ?"
        } else {
            line = String(format: "%5.1f%%", progress.fraction * 100) + "  \(progress.rowsScanned)/~\(progress.estimatedTotal) rows  "
                + String(format: "%.0f rows/s", progress.rowsPerSecond)
                + "  " + (progress.etaSeconds.map { "ETA " + duration($0) } ?? "ETA ?")
        }
        line += "  batch \(progress.batchSize)  table \(bytes(progress.tableBytes))"
        if let why = progress.throttled {
            line += "  throttled: \(why)"
        } else if let pace = progress.pace, pace != "full" {
            line += "  \(pace)"
        }
        if let control = progress.control { line += "  (\(control))" }
        return line
    }

    /// A hook that ran: one line when it succeeded, its output's last lines too when it failed.
    static func hookText(_ run: HookRun) -> String {
        let what = "hook \(run.hook) (\(run.event.rawValue) \(run.phase.rawValue))"
        let output = run.output.trimmingCharacters(in: .newlines)
        guard !run.succeeded else { return dim(what + String(format: ": exit 0 (%.1fs)", run.seconds)) }
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).suffix(20)
            .map { "    " + $0 }.joined(separator: "\n")
        return red("✗ ") + what + " " + run.summary + (output.isEmpty ? "" : ":\n" + lines)
    }

    /// A reporter that shows steps and progress on stderr: a live line on a terminal, a text
    /// line every 5 s on anything else, a JSON line at most every second with `--format json`.
    static func reporter(verbose: Bool, json: Bool) -> Reporter {
        let state = ProgressThrottle()
        return { note in
            switch note {
            case .step(_, let command, let purpose, let sql):
                if json { return }
                err(dim("[\(command.rawValue)] \(purpose)"))
                if verbose { err(sql.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")) }
            case .lockWait(let attempt, let max, let delay, let blockers):
                if json {
                    JSONOutput.event(Event(event: "lock_wait", attempt: attempt, of: max, retryInMs: delay, blockers: blockers.map(\.json)))
                    return
                }
                err("lock timeout (attempt \(attempt) of \(max + 1)); retrying in \(delay) ms. Blocked by:")
                for blocker in blockers { err("  \(blocker)") }
                if blockers.isEmpty { err("  (the blocking session has finished)") }
            case .backfill(let progress):
                if json {
                    guard state.due(interval: 1) || progress.walkDone else { return }
                    JSONOutput.event(Event(event: "backfill_progress", progress: Progress(progress)))
                    return
                }
                if !stderrLive {
                    // A log, not a screen: a line every few seconds, never one per batch.
                    guard state.due(interval: 5) || progress.walkDone else { return }
                    err("  backfill \(progress.plan): " + progressText(progress))
                    return
                }
                live("  backfill " + progressText(progress))
            case .info(let message):
                if json { JSONOutput.event(Event(event: "info", message: message)); return }
                err(message)
            case .hook(let run):
                if json { JSONOutput.event(Event(event: "hook", hook: run)); return }
                err(hookText(run))
            }
        }
    }

    /// A findings command's exit code: 2 when a file could not be read, 1 for an error finding.
    static func exitCode(_ findings: [Finding]) -> Int32 {
        if findings.contains(where: { $0.rule == "io-error" }) { return ExitStatus.usage }
        return findings.hasErrors ? ExitStatus.refused : 0
    }

    /// Prints `check`'s or `lint`'s findings and exits with ``exitCode(_:)``.
    static func renderFindings(_ findings: [Finding], format: FindingsFormat, command: any ParsableCommand.Type, schema: String? = nil) throws {
        let sorted = findings.sortedForReading()
        let errors = sorted.filter { $0.severity == .error }.count
        let warnings = sorted.filter { $0.severity == .warning }.count
        let code = exitCode(findings)
        switch format {
        case .text:
            for finding in sorted { out(finding.description) }
            err(sorted.isEmpty ? "no findings" : "\(errors) error(s), \(warnings) warning(s)")
        case .json:
            let error = code == 0 ? nil : ErrorReport(kind: code == ExitStatus.usage ? "io-error" : "findings",
                                                      message: code == ExitStatus.usage ? "a file could not be read" : "\(errors) error(s), \(warnings) warning(s)")
            JSONOutput.print(command.documentName, Outcome(exitCode: code), FindingsBody(schema: schema, findings: sorted), error: error)
        case .github:
            for f in sorted {
                let level = f.severity == .error ? "error" : f.severity == .warning ? "warning" : "notice"
                let message = f.message.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
                    .replacingOccurrences(of: "\n", with: "%0A")
                out("::\(level) file=\(f.file),line=\(f.line),col=\(f.column),title=\(f.rule)::\(message)")
            }
        case .gitlab:
            out(JSONOutput.text(FindingReports.gitLab(sorted)))
        case .sarif:
            out(JSONOutput.text(FindingReports.sarif(sorted, version: BuildInfo.version, rules: Linter.ruleDescriptions)))
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `check`'s and `lint`'s JSON fields.
struct FindingsBody: Encodable {
    /// `check`: what the plans were checked against.
    var schema: String?
    var findings: [Finding]
}

/// Whether the live progress line is on the screen (set by the engine's reporter, cleared by
/// whatever prints next).
let liveLineShown = Atomic<Bool>(false)

/// Rate limit for non-interactive progress lines; touched from the engine's thread only.
final class ProgressThrottle: @unchecked Sendable {
    private var last = Date.distantPast
    func due(interval: TimeInterval) -> Bool {
        let now = Date()
        guard now.timeIntervalSince(last) >= interval else { return false }
        last = now
        return true
    }
}
