import ArgumentParser
import BellowsEngine
import Foundation

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
                JSONOutput.print(Self.documentName, .ok, HistoryBody(plan: plan, events: events.map(HistoryBody.Event.init)))
                return
            }
            if events.isEmpty { Terminal.out(plan.map { "no events for \($0) yet" } ?? "no plans yet: no events on this database") }
            for e in events {
                let move = [e.fromPhase, e.toPhase].compactMap { $0 }.joined(separator: " → ")
                Terminal.out("\(e.at)  \(e.planID)  \(e.command.padding(toLength: 8, withPad: " ", startingAt: 0))  \(e.outcome.padding(toLength: 11, withPad: " ", startingAt: 0))  \(move)  by \(e.actor)")
                if e.outcome != "succeeded" { Terminal.out(Terminal.dim("    \(e.details)")) }
            }
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
    }
}

/// `history`'s JSON fields: the audit trail, oldest first.
struct HistoryBody: Encodable {
    struct Event: Encodable {
        var id: Int
        var plan: String
        var actor: String
        /// The command that ran (`expand`, `approve`, …).
        var command: String
        var from: String?
        var to: String?
        /// `succeeded`, `refused`, `failed`, `interrupted`, …
        var outcome: String
        /// What the command recorded, as a JSON object.
        var details: JSONValue
        var at: String

        init(_ event: PlanEvent) {
            id = event.id
            plan = event.planID
            actor = event.actor
            command = event.command
            from = event.fromPhase
            to = event.toPhase
            outcome = event.outcome
            details = (try? JSONDecoder().decode(JSONValue.self, from: Data(event.details.utf8))) ?? .string(event.details)
            at = event.at
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(plan, forKey: .plan)
            try container.encode(actor, forKey: .actor)
            try container.encode(command, forKey: .command)
            try container.encode(from, forKey: .from)
            try container.encode(to, forKey: .to)
            try container.encode(outcome, forKey: .outcome)
            try container.encode(details, forKey: .details)
            try container.encode(at, forKey: .at)
        }

        enum CodingKeys: String, CodingKey { case id, plan, actor, command, from, to, outcome, details, at }
    }

    /// The plan asked for; null for every plan.
    var plan: String?
    var events: [Event]

    enum CodingKeys: String, CodingKey { case plan, events }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plan, forKey: .plan)
        try container.encode(events, forKey: .events)
    }
}
