import BellowsEngine
import BellowsPlan
import BellowsSQL
import Foundation

/// Output helpers: the CLI is the only place that prints.
enum Terminal {
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1

    static func out(_ text: String) {
        FileHandle.standardOutput.write((text + "\n").data(using: .utf8) ?? Data())
    }

    static func err(_ text: String) {
        FileHandle.standardError.write((text + "\n").data(using: .utf8) ?? Data())
    }

    static func bold(_ text: String) -> String { stdoutIsTTY ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    static func red(_ text: String) -> String { stdoutIsTTY ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
    static func green(_ text: String) -> String { stdoutIsTTY ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
    static func dim(_ text: String) -> String { stdoutIsTTY ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.0fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }

    /// A reporter that shows steps and progress on stderr: a live line on a terminal, a
    /// readable line every 5 s otherwise (a log), one JSON line per second with `--format json`.
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
                    err(JSONValue.object(["event": "lock_wait", "attempt": .int(attempt), "of": .int(max), "retry_in_ms": .int(delay),
                                          "blockers": .array(blockers.map(\.json))]).serialized)
                    return
                }
                err("lock timeout (attempt \(attempt) of \(max + 1)); retrying in \(delay) ms. Blocked by:")
                for blocker in blockers { err("  \(blocker)") }
                if blockers.isEmpty { err("  (the blocking session has finished)") }
            case .backfill(let progress):
                if json {
                    guard state.due(interval: 1) || progress.fraction >= 1 else { return }
                    err(JSONValue.object(["event": "backfill_progress", "progress": progress.json]).serialized)
                    return
                }
                if !stderrIsTTY {
                    // A log (CI, a pipe): one readable line every 5 s and at the end, never JSON.
                    guard state.due(interval: 5) || progress.fraction >= 1 else { return }
                    err("  backfill \(progress.plan): " + progressText(progress))
                    return
                }
                FileHandle.standardError.write(("\r\u{1B}[2K  backfill " + progressText(progress)).data(using: .utf8) ?? Data())
                state.sawLiveLine = true
            case .info(let message):
                if json { err(JSONValue.object(["event": "info", "message": .string(message)]).serialized); return }
                if state.sawLiveLine { err(""); state.sawLiveLine = false }
                err(message)
            }
        }
    }

    /// One backfill progress report as text: percentage, rows, rate, ETA, batch, table size, pacing.
    static func progressText(_ progress: BackfillProgress) -> String {
        let percent = String(format: "%5.1f%%", progress.fraction * 100)
        let eta = progress.etaSeconds.map { "ETA " + duration($0) } ?? "ETA ?"
        var line = "\(percent)  \(progress.rowsScanned)/~\(progress.estimatedTotal) rows  "
            + String(format: "%.0f rows/s", progress.rowsPerSecond)
            + "  \(eta)  batch \(progress.batchSize)  table \(bytes(progress.tableBytes))"
        if let why = progress.throttled {
            line += "  throttled: \(why)"
        } else if let pace = progress.pace, pace != "full" {
            line += "  \(pace)"
        }
        return line
    }

    static func renderFindings(_ findings: [Finding], format: FindingsFormat) {
        let sorted = findings.sortedForReading()
        switch format {
        case .text:
            for finding in sorted { out(finding.description) }
            let errors = sorted.filter { $0.severity == .error }.count
            let warnings = sorted.filter { $0.severity == .warning }.count
            err(sorted.isEmpty ? "no findings" : "\(errors) error(s), \(warnings) warning(s)")
        case .json:
            out(JSONValue.array(sorted.map { f in
                ["file": .string(f.file), "line": .int(f.line), "column": .int(f.column), "severity": .string(f.severity.rawValue),
                 "rule": .string(f.rule), "message": .string(f.message)]
            }).serialized)
        case .github:
            for f in sorted {
                let level = f.severity == .error ? "error" : f.severity == .warning ? "warning" : "notice"
                let message = f.message.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
                    .replacingOccurrences(of: "\n", with: "%0A")
                out("::\(level) file=\(f.file),line=\(f.line),col=\(f.column),title=\(f.rule)::\(message)")
            }
        }
    }
}

/// Rate limit for non-interactive progress lines; touched from the engine's thread only.
final class ProgressThrottle: @unchecked Sendable {
    private var last = Date.distantPast
    var sawLiveLine = false

    func due(interval: TimeInterval) -> Bool {
        let now = Date()
        guard now.timeIntervalSince(last) >= interval else { return false }
        last = now
        return true
    }
}
