import ArgumentParser
import BellowsEngine
import BellowsPlan
import Foundation

extension Phase: ExpressibleByArgument {}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Block until a plan reaches a phase (for a deploy job: wait for verified before rolling out the new application).",
        discussion: "Reads the plan's phase every --interval seconds; reads only. A plan past the phase on the forward path has reached it. "
            + ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, ExitStatus.timedOut, ExitStatus.movedAway,
                              saying: [0: "the plan is in the phase (or past it)"]))

    @Argument(help: "The plan: a path, a file name without extension, its number, or a plan id the database knows.")
    var plan: String

    @Option(name: .customLong("for"), help: "The phase to wait for: expanded, backfilled, verified, contracted or rolled_back.")
    var phase: Phase

    @Option(help: "Give up after this many seconds (exit 6); default: wait for ever.")
    var timeout: Double?

    @Option(help: "Seconds between two reads of the plan's phase.")
    var interval: Double = 1

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func validate() throws {
        if let timeout, timeout < 0 { throw ValidationError("--timeout must not be negative") }
        if interval <= 0 { throw ValidationError("--interval must be positive") }
    }

    func run() throws {
        let outcome: WaitOutcome
        do {
            outcome = try Engine(project: connection.projectModel, options: connection.engineOptions())
                .wait(plan: plan, for: phase, timeoutSeconds: timeout, pollSeconds: interval)
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
        if format == .json {
            let error: ErrorReport? = switch outcome.result {
            case .reached: nil
            case .timeout: ErrorReport(kind: "timeout", message: "\(outcome.plan) is still \(outcome.phase.rawValue) when the time ran out, not \(outcome.waitedFor.rawValue)")
            case .movedAway: ErrorReport(kind: "moved-away", message: "\(outcome.plan) is \(outcome.phase.rawValue): it can no longer reach \(outcome.waitedFor.rawValue)")
            }
            let code = switch outcome.result { case .reached: Int32(0); case .timeout: ExitStatus.timedOut; case .movedAway: ExitStatus.movedAway }
            JSONOutput.print(Self.documentName, Outcome(exitCode: code), outcome, error: error)
        } else {
            let waited = String(format: "%.1fs", outcome.seconds)
            switch outcome.result {
            case .reached: Terminal.out(Terminal.green("✓") + " \(outcome.plan) is \(Terminal.bold(outcome.phase.rawValue)) (waited \(waited) for \(outcome.waitedFor.rawValue))")
            case .timeout: Terminal.err(Terminal.red("✗ ") + "\(outcome.plan) is still \(outcome.phase.rawValue) after \(waited), not \(outcome.waitedFor.rawValue)")
            case .movedAway: Terminal.err(Terminal.red("✗ ") + "\(outcome.plan) is \(outcome.phase.rawValue): it can no longer reach \(outcome.waitedFor.rawValue)")
            }
        }
        switch outcome.result {
        case .reached: return
        case .timeout: throw ExitCode(ExitStatus.timedOut)
        case .movedAway: throw ExitCode(ExitStatus.movedAway)
        }
    }
}
