import ArgumentParser
import BellowsEngine
import Foundation

/// What `pause`, `resume` and `throttle` take.
struct ControlOptions: ParsableArguments {
    @Argument(help: "The plan: a path, a file name without extension, its number, or a plan id the database knows.")
    var plan: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run(_ change: ControlChange, command: any ParsableCommand.Type) throws {
        try runControl(change, plan: plan, connection: connection, format: format, command: command)
    }
}

/// Runs a `pause`, `resume` or `throttle` and renders what it did.
func runControl(_ change: ControlChange, plan: String, connection: ConnectionOptions, format: OutputFormat, command: any ParsableCommand.Type) throws {
    do {
        let outcome = try Engine(project: connection.projectModel, options: connection.engineOptions()).control(plan: plan, change)
        if format == .json {
            JSONOutput.print(command.documentName, .ok, ControlBody(outcome))
            return
        }
        let now = outcome.control.summary ?? "no pause, no throttle"
        Terminal.out((outcome.changed ? Terminal.green("✓") + " \(outcome.plan): " : "\(outcome.plan): already so, nothing changed: ") + now
                     + Terminal.dim(" (phase \(outcome.phase.rawValue))"))
        if outcome.changed {
            Terminal.out(Terminal.dim("  a running backfill obeys before its next batch; `bellows status` shows it"))
        }
    } catch let error as BellowsError {
        renderError(error, format: format, command: command)
        throw ExitCode(ExitStatus.code(for: error))
    }
}

/// The exit codes of `pause`, `resume` and `throttle`.
let controlHelp = ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect,
                                  saying: [0: "done (also when the control already was so)", ExitStatus.usage: "usage error (an unknown plan, no throttle option)"])

/// `pause`'s, `resume`'s and `throttle`'s JSON fields.
struct ControlBody: Encodable {
    var plan: String
    /// The plan's phase when the change was made.
    var phase: String
    /// The control now: `paused`, `max_rows_per_second`, `batch_size`, `actor`, `changed_at`.
    var control: BackfillControl
    /// False when the control already was so (nothing changed, nothing recorded).
    var changed: Bool

    init(_ outcome: ControlOutcome) {
        plan = outcome.plan
        phase = outcome.phase.rawValue
        control = outcome.control
        changed = outcome.changed
    }
}
