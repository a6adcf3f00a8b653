import ArgumentParser
import BellowsEngine
import BellowsPlan
import Foundation
import Synchronization

/// Set by SIGINT/SIGTERM; the backfill stops after its current batch.
let stopRequested = Atomic<Bool>(false)

func installStopHandlers() {
    let handler: @convention(c) (Int32) -> Void = { _ in
        if stopRequested.load(ordering: .relaxed) { _exit(130) } // a second Ctrl-C leaves at once
        stopRequested.store(true, ordering: .relaxed)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    // A parent may have started us with these signals blocked (spawned from a thread that
    // blocks them, as Dispatch's do): unblock them, or Ctrl-C would never reach the handler.
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &signals, nil)
}

/// Exit codes shared by every command.
enum ExitStatus {
    static let refused: Int32 = 1
    static let usage: Int32 = 2
    static let failed: Int32 = 3
    static let interrupted: Int32 = 4
    static let cannotConnect: Int32 = 5
    /// `wait`: the time given ran out before the plan reached the phase.
    static let timedOut: Int32 = 6
    /// `wait`: the plan moved where it cannot reach the phase (rolled back).
    static let movedAway: Int32 = 7

    /// What each code means unless a command says more.
    static let meanings: [Int32: String] = [
        0: "done", refused: "refused (a gate is closed; nothing changed) or the plan is invalid", usage: "usage or I/O error",
        failed: "a statement failed (rolled back)", interrupted: "interrupted (run the same command again to resume)",
        cannotConnect: "cannot connect to PostgreSQL (nothing read or changed)",
        timedOut: "timed out before the plan reached the phase", movedAway: "the plan was rolled back (or contracted, waiting for rolled_back): it cannot reach the phase",
    ]

    /// The "Exit codes:" sentence of a command's --help: exactly the codes it can exit with.
    static func help(_ codes: Int32..., saying specific: [Int32: String] = [:]) -> String {
        "Exit codes: " + codes.map { "\($0) \(specific[$0] ?? meanings[$0] ?? "")" }.joined(separator: ", ") + "."
    }

    /// The codes of a phase command (expand, backfill, verify, contract, rollback, advance).
    static let phaseHelp = help(0, refused, usage, failed, interrupted, cannotConnect)

    static func code(for error: BellowsError) -> Int32 {
        switch error {
        case .refused, .planInvalid: return refused
        case .usage: return usage
        case .failed, .database: return failed
        case .interrupted, .stopped: return interrupted
        case .cannotConnect: return cannotConnect
        }
    }
}

/// Options every phase command takes.
struct PhaseOptions: ParsableArguments {
    @Argument(help: "The plan: a path, a file name without extension, or its number (001).")
    var plan: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    @Option(name: .customLong("confirm"), help: "Confirm a manual gate of the plan (repeatable).")
    var confirmations: [String] = []

    @Flag(name: .shortAndLong, help: "Show the SQL of every step.")
    var verbose = false

    @Option(help: "Backfill batch size (default: adaptive, from the plan).")
    var batchSize: Int?

    @Option(help: "Backfill pacing: adaptive (full speed alone, gentle while other sessions are active, slower while they wait behind it), full or gentle (default: the plan's, adaptive).")
    var pacing: BackfillPacing?

    func engine(rescan: Bool = false) -> Engine {
        var options = connection.engineOptions()
        options.rescan = rescan
        options.confirmations = Set(confirmations)
        options.shouldStop = { stopRequested.load(ordering: .relaxed) }
        options.batchSize = batchSize
        options.pacing = pacing
        return Engine(project: connection.projectModel, options: options,
                      reporter: Terminal.reporter(verbose: verbose, json: format == .json))
    }
}

/// Runs engine work, renders the outcome or the error, and exits with the right code.
func runAndRender(format: OutputFormat, _ work: () throws -> [PhaseOutcome]) throws {
    installStopHandlers()
    do {
        let outcomes = try work()
        switch format {
        case .json:
            Terminal.out(JSONValue.array(outcomes.map(\.json)).serialized)
        case .text:
            for outcome in outcomes {
                Terminal.out(Terminal.green("✓") + " \(outcome.plan): \(outcome.command.rawValue) done, \(outcome.from.rawValue) → \(Terminal.bold(outcome.to.rawValue))"
                             + String(format: " (%.1fs)", outcome.milliseconds / 1000))
                if let next = PhaseCommand.next(after: outcome.to), outcome.command != .rollback {
                    Terminal.out(Terminal.dim("  next: bellows \(next.rawValue) \(outcome.plan)"))
                }
            }
        }
    } catch let error as BellowsError {
        renderError(error, format: format)
        throw ExitCode(ExitStatus.code(for: error))
    }
}

func renderError(_ error: BellowsError, format: OutputFormat) {
    if format == .json {
        var object: [String: JSONValue] = ["error": .string(error.description)]
        switch error {
        case .refused(let refusal):
            object["outcome"] = "refused"
            object["plan"] = .string(refusal.plan)
            object["command"] = .string(refusal.command.rawValue)
            object["phase"] = .string(refusal.phase.rawValue)
            object["failures"] = .array(refusal.failures.map { ["gate": .string($0.gate), "message": .string($0.message), "remedy": .optional($0.remedy)] })
        case .failed(let plan, let command, let purpose, let pg):
            object["outcome"] = "failed"
            object["plan"] = .string(plan)
            object["command"] = .string(command.rawValue)
            object["step"] = .string(purpose)
            object["sqlstate"] = .optional(pg.sqlState?.rawValue)
            object["detail"] = .optional(pg.detail)
            object["hint"] = .optional(pg.hint)
        case .interrupted(let plan, let rows, let resume):
            object["outcome"] = "interrupted"
            object["plan"] = .string(plan)
            object["rows_done"] = .int(rows)
            object["resume"] = .string(resume)
        case .stopped(let plan, let command, let reason, let resume):
            object["outcome"] = "interrupted"
            object["plan"] = .string(plan)
            object["command"] = .string(command.rawValue)
            object["reason"] = .string(reason)
            object["resume"] = .string(resume)
        case .planInvalid(let findings):
            object["outcome"] = "invalid"
            object["findings"] = .array(findings.map { ["file": .string($0.file), "line": .int($0.line), "column": .int($0.column), "rule": .string($0.rule), "message": .string($0.message)] })
        case .cannotConnect(let pg):
            object["outcome"] = "cannot-connect"
            object["message"] = .string(pg.message)
            object["hint"] = .string(BellowsError.connectionHint)
        case .usage, .database:
            object["outcome"] = "error"
        }
        Terminal.out(JSONValue.object(object).serialized)
    } else {
        Terminal.err(Terminal.red("✗ ") + error.description)
    }
}
