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

/// A phase command's JSON fields: the plan and the phases that ran (empty when refused).
struct PhaseRunBody: Encodable {
    var plan: String
    var phases: [PhaseRun]
}

/// One phase that ran.
struct PhaseRun: Encodable {
    var plan: String
    var command: String
    var from: String
    var to: String
    var durationMs: Double
    /// What the phase did (rows, statements, checks), as the audit trail records it.
    var details: JSONValue
    /// The `before` and `after` hooks that ran (absent when none did).
    var hooks: [HookRun]?

    enum CodingKeys: String, CodingKey {
        case plan, command, from, to, details, hooks
        case durationMs = "duration_ms"
    }

    init(_ outcome: PhaseOutcome) {
        plan = outcome.plan
        command = outcome.command.rawValue
        from = outcome.from.rawValue
        to = outcome.to.rawValue
        durationMs = outcome.milliseconds
        details = .object(outcome.details)
        hooks = outcome.hooks.isEmpty ? nil : outcome.hooks
    }
}

/// Runs engine work, renders the phases that ran and the error that stopped them (if any), and
/// exits with the right code.
func runAndRender(_ command: any ParsableCommand.Type, plan: String, format: OutputFormat,
                  _ work: () throws -> (outcomes: [PhaseOutcome], stop: BellowsError?)) throws {
    installStopHandlers()
    var outcomes: [PhaseOutcome] = []
    var stop: BellowsError?
    do {
        (outcomes, stop) = try work()
    } catch let error as BellowsError {
        stop = error
    }
    let code = stop.map(ExitStatus.code(for:)) ?? 0
    switch format {
    case .json:
        JSONOutput.print(command.documentName, Outcome(exitCode: code), PhaseRunBody(plan: plan, phases: outcomes.map(PhaseRun.init)),
                         error: stop.map(ErrorReport.init))
    case .text:
        for outcome in outcomes {
            Terminal.out(Terminal.green("✓") + " \(outcome.plan): \(outcome.command.rawValue) done, \(outcome.from.rawValue) → \(Terminal.bold(outcome.to.rawValue))"
                         + String(format: " (%.1fs)", outcome.milliseconds / 1000))
            if let next = PhaseCommand.next(after: outcome.to), outcome.command != .rollback {
                Terminal.out(Terminal.dim("  next: bellows \(next.rawValue) \(outcome.plan)"))
            }
        }
        if let stop { renderError(stop, format: .text, command: command) }
    }
    if code != 0 { throw ExitCode(code) }
}

/// Renders an error: its document with `--format json`, else a line on stderr. `exitCode`
/// when the command exits with another code than the error's own.
func renderError(_ error: BellowsError, format: OutputFormat, command: any ParsableCommand.Type, exitCode: Int32? = nil) {
    if format == .json {
        JSONOutput.print(command.documentName, error: ErrorReport(error), exitCode: exitCode ?? ExitStatus.code(for: error))
    } else {
        Terminal.err(Terminal.red("✗ ") + error.description)
    }
}
