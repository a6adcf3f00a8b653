import ArgumentParser
import BellowsEngine

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit trail: every command run on a plan, refused or not.",
        discussion: ExitStatus.help(0, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect))

    @Argument(help: "The plan (all plans when omitted).")
    var plan: String?

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    func run() throws {
        let engine = Engine(project: connection.projectModel, options: connection.engineOptions())
        do {
            let events = try engine.history(plan: plan)
            if format == .json {
                Terminal.out(JSONValue.array(events.map { e in
                    ["id": .int(e.id), "plan": .string(e.planID), "actor": .string(e.actor), "command": .string(e.command),
                     "from": .optional(e.fromPhase), "to": .optional(e.toPhase), "outcome": .string(e.outcome),
                     "details": .string(e.details), "at": .string(e.at)]
                }).serialized)
                return
            }
            if events.isEmpty { Terminal.out(plan.map { "no events for \($0) yet" } ?? "no plans yet: no events on this database") }
            for e in events {
                let move = [e.fromPhase, e.toPhase].compactMap { $0 }.joined(separator: " → ")
                Terminal.out("\(e.at)  \(e.planID)  \(e.command.padding(toLength: 8, withPad: " ", startingAt: 0))  \(e.outcome.padding(toLength: 11, withPad: " ", startingAt: 0))  \(move)  by \(e.actor)")
                if e.outcome != "succeeded" { Terminal.out(Terminal.dim("    \(e.details)")) }
            }
        } catch let error as BellowsError {
            renderError(error, format: format)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}
