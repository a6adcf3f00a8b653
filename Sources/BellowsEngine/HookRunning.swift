import BellowsPlan
import Foundation
import PGClient

/// The event a hook reads on its standard input: one JSON object (docs/operations.md).
public struct HookEvent: Sendable, Codable, Hashable {
    public var bellows = BuildInfo.version
    /// `before`, `after`, `refused`, `failed`, `interrupted`, `progress`.
    public var event: HookEventKind
    /// The phase command: `expand`, `backfill`, `verify`, `contract`, `rollback`.
    public var phase: PhaseCommand
    public var plan: String
    public var table: String
    /// `starting`, `succeeded`, `refused`, `failed`, `interrupted`, `running` (``HookEventKind/outcome``).
    public var outcome: String
    /// The plan's phase when the command started, and (`after`) the one it left it in.
    public var from: Phase?
    public var to: Phase?
    public var actor: String
    /// When the event happened (UTC, ISO 8601).
    public var at: String
    /// The hook's name in `bellows.yaml`.
    public var hook: String
    /// The project directory (the hook's working directory).
    public var project: String
    /// `after`: how long the phase took and what it did (as the audit trail records it).
    public var durationMs: Double? = nil
    public var details: JSONValue? = nil
    /// `refused`, `failed`, `interrupted`: the message Bellows prints; `refused`: the closed gates.
    public var error: String? = nil
    public var failures: [GateFailure]? = nil
    /// `progress`: where the backfill is.
    public var progress: HookProgress? = nil

    enum CodingKeys: String, CodingKey {
        case bellows, event, phase, plan, table, outcome, from, to, actor, at, hook, project, details, error, failures, progress
        case durationMs = "duration_ms"
    }

    /// The essentials as environment variables (`BELLOWS_PLAN`, `BELLOWS_PHASE`, …).
    public var environment: [String: String] {
        var variables = [
            "BELLOWS_EVENT": event.rawValue, "BELLOWS_PHASE": phase.rawValue, "BELLOWS_PLAN": plan, "BELLOWS_TABLE": table,
            "BELLOWS_OUTCOME": outcome, "BELLOWS_FROM_PHASE": from?.rawValue ?? "", "BELLOWS_TO_PHASE": to?.rawValue ?? "",
            "BELLOWS_HOOK": hook, "BELLOWS_PROJECT": project,
        ]
        if !actor.isEmpty { variables["BELLOWS_ACTOR"] = actor }
        if let error { variables["BELLOWS_ERROR"] = error }
        if let progress {
            variables["BELLOWS_ROWS_SCANNED"] = String(progress.rowsScanned)
            variables["BELLOWS_ESTIMATED_ROWS"] = String(progress.estimatedTotal)
        }
        return variables
    }
}

/// A `progress` event's position of the backfill.
public struct HookProgress: Sendable, Codable, Hashable {
    public var rowsScanned: Int
    public var rowsUpdated: Int
    public var estimatedTotal: Int
    public var fraction: Double
    public var rowsPerSecond: Double
    public var etaSeconds: Double?
    /// A pause or throttle in force (`BackfillControl.summary`).
    public var control: String?

    init(_ progress: BackfillProgress) {
        rowsScanned = progress.rowsScanned
        rowsUpdated = progress.rowsUpdated
        estimatedTotal = progress.estimatedTotal
        fraction = progress.fraction
        rowsPerSecond = progress.rowsPerSecond
        etaSeconds = progress.etaSeconds
        control = progress.control
    }

    enum CodingKeys: String, CodingKey {
        case fraction, control
        case rowsScanned = "rows_scanned", rowsUpdated = "rows_updated", estimatedTotal = "estimated_total"
        case rowsPerSecond = "rows_per_second", etaSeconds = "eta_seconds"
    }
}

/// What one hook did: reported to the caller as it ends (`EngineNote.hook`), returned with the
/// phase (`PhaseOutcome.hooks`) and, when it failed, recorded in the audit trail.
public struct HookRun: Sendable, Codable, Hashable {
    public var hook: String
    public var command: String
    public var event: HookEventKind
    public var phase: PhaseCommand
    public var plan: String
    public var succeeded: Bool
    public var exitCode: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    public var seconds: Double
    /// Standard output and error, interleaved; a long output keeps its first 2 KB and last 6 KB.
    public var output: String
    /// Why it could not start, or that Bellows was stopped while it ran.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case hook, command, event, phase, plan, succeeded, signal, seconds, output, error
        case exitCode = "exit_code", timedOut = "timed_out"
    }

    /// `exited 1`, `timed out after 30 s (stopped with SIGTERM)`…
    public var summary: String {
        if let error { return error }
        if timedOut { return String(format: "timed out after %g s and was stopped", seconds.rounded()) + (signal == SIGKILL ? " with SIGKILL" : "") }
        if let signal { return "was ended by signal \(signal)" }
        return "exited \(exitCode ?? -1)"
    }

    /// The end of the output, for a one-paragraph message.
    public var outputExcerpt: String {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count > 500 else { return trimmed }
        return "…" + trimmed.suffix(500)
    }

    var json: JSONValue {
        ["hook": .string(hook), "command": .string(command), "event": .string(event.rawValue), "phase": .string(phase.rawValue),
         "succeeded": .bool(succeeded), "exit_code": exitCode.map { .int(Int($0)) } ?? .null, "signal": signal.map { .int(Int($0)) } ?? .null,
         "timed_out": .bool(timedOut), "seconds": .double(seconds), "output": .string(output), "error": .optional(error)]
    }
}

extension Engine {
    /// Runs the hooks `bellows.yaml` gives for an event of a phase, one after the other, each
    /// reported as it ends. A hook that fails is recorded in the audit trail (command `hook`,
    /// outcome `failed`) unless `recordFailures` is false (a `before` hook's failure is the
    /// phase's refusal instead). Never throws: a hook cannot undo what a phase committed.
    func runHooks(_ kind: HookEventKind, _ command: PhaseCommand, plan: Plan, from: Phase?, to: Phase? = nil,
                  connection: Connection?, recordFailures: Bool = true, stopAtFirstFailure: Bool = false,
                  _ fill: (inout HookEvent) -> Void = { _ in }) -> [HookRun] {
        guard options.runHooks else { return [] }
        let hooks = hookConfiguration.hooks(for: kind, phase: command)
        // A hooks section that does not load runs no hook: the phases are refused before this,
        // rollback goes on without any, as it says (hostile-f 11).
        guard !hooks.isEmpty, hookFindings.isEmpty else { return [] }
        let directory = URL(fileURLWithPath: project.root).standardizedFileURL.path
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var runs: [HookRun] = []
        for hook in hooks {
            var event = HookEvent(event: kind, phase: command, plan: plan.id, table: plan.table.value.description, outcome: kind.outcome,
                                  from: from, to: to, actor: options.actor, at: formatter.string(from: Date()), hook: hook.name, project: directory)
            fill(&event)
            let input = ((try? encoder.encode(event)) ?? Data()) + Data("\n".utf8)
            let process = HookProcess(command: hook.command, directory: directory,
                                      environment: ProcessInfo.processInfo.environment.merging(event.environment) { $1 },
                                      input: input, timeoutSeconds: hook.timeoutSeconds,
                                      killGraceSeconds: hookConfiguration.killGraceSeconds, shouldStop: options.shouldStop)
            let result = process.run()
            let run = HookRun(hook: hook.name, command: hook.command, event: kind, phase: command, plan: plan.id,
                              succeeded: result.succeeded, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut,
                              seconds: result.seconds, output: String(decoding: result.output, as: UTF8.self),
                              error: result.launchError ?? (result.stopped ? "stopped: bellows was asked to stop" : nil))
            report(.hook(run))
            runs.append(run)
            if !run.succeeded {
                if recordFailures { recordHookFailure(run, phase: to ?? from, connection: connection) }
                if stopAtFirstFailure { break }
            }
        }
        return runs
    }

    /// Appends a failed hook to the audit trail (on a fresh connection when the phase's is gone).
    func recordHookFailure(_ run: HookRun, phase: Phase?, connection: Connection?) {
        var details: [String: JSONValue] = [:]
        if case .object(let fields) = run.json { details = fields }
        func record(_ connection: Connection) throws {
            if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
            try StateStore.record(connection, plan: run.plan, actor: options.actor, command: "hook", from: phase, to: nil,
                                  outcome: "failed", details: details)
        }
        // The audit trail is the record of what hooks refused: failing to write it is said (hostile-f 03).
        do {
            if let connection, connection.isOpen {
                try record(connection)
            } else {
                let fresh = try Connection(options.conninfo)
                defer { fresh.close() }
                try record(fresh)
            }
        } catch {
            report(.info("warning: the failure of hook '\(run.hook)' could not be recorded in bellows.events: \(error)"))
        }
    }

    /// The refusal of a phase whose `before` hook failed: a closed gate named after the hook.
    static func hookGate(_ run: HookRun, command: PhaseCommand) -> GateFailure {
        let excerpt = run.outputExcerpt.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        return GateFailure(gate: "hook:\(run.hook)",
                           message: "the before-\(command.rawValue) hook '\(run.hook)' \(run.summary)" + (excerpt.isEmpty ? " (no output)" : ":\n" + excerpt),
                           remedy: "\(command.rawValue) runs once `\(run.command)` exits 0 (bellows.yaml, hooks)")
    }
}
