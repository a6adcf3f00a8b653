import Foundation
import Yams

/// When a hook runs: around a phase (`before`, `after`), when a phase ends otherwise
/// (`refused`, `failed`, `interrupted`), or every `progress_minutes` of a backfill (`progress`).
public enum HookEventKind: String, Sendable, Hashable, Codable, CaseIterable {
    case before, after, refused, failed, interrupted, progress

    /// `BELLOWS_OUTCOME` and the event's `outcome`: what is known of the phase at that moment.
    public var outcome: String {
        switch self {
        case .before: return "starting"
        case .after: return "succeeded"
        case .refused: return "refused"
        case .failed: return "failed"
        case .interrupted: return "interrupted"
        case .progress: return "running"
        }
    }
}

/// One `when:` entry of a hook: an event, for one phase or (nil) for every phase.
public struct HookTrigger: Sendable, Hashable {
    public var event: HookEventKind
    public var phase: PhaseCommand?

    public init(_ event: HookEventKind, _ phase: PhaseCommand? = nil) {
        self.event = event
        self.phase = phase
    }

    public func matches(_ event: HookEventKind, _ phase: PhaseCommand) -> Bool {
        self.event == event && (self.phase == nil || self.phase == phase)
    }

    /// `before`, `before contract`, `progress`, `after any`…; nil when it is none of them.
    public static func parse(_ text: String) -> HookTrigger? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first, let event = HookEventKind(rawValue: first), words.count <= 2 else { return nil }
        guard words.count == 2 else { return HookTrigger(event) }
        if words[1] == "any" { return HookTrigger(event) }
        guard let phase = PhaseCommand(rawValue: words[1]) else { return nil }
        if event == .progress && phase != .backfill { return nil }
        return HookTrigger(event, phase)
    }
}

/// A command `bellows.yaml` runs at phase events (`hooks.commands`).
public struct Hook: Sendable, Hashable {
    /// Its name in the audit trail and in refusals (`gate` `hook:<name>`).
    public var name: String
    /// Run as `/bin/sh -c COMMAND` in the project directory.
    public var command: String
    public var triggers: [HookTrigger]
    public var timeoutSeconds: Double

    public init(name: String, command: String, triggers: [HookTrigger], timeoutSeconds: Double) {
        self.name = name
        self.command = command
        self.triggers = triggers
        self.timeoutSeconds = timeoutSeconds
    }
}

/// The `hooks:` section of `bellows.yaml`:
///
/// ```yaml
/// hooks:
///   timeout_seconds: 60        # each hook's limit unless it says otherwise (default 60)
///   progress_minutes: 10       # how often `progress` hooks run during a backfill (default 10)
///   commands:
///     - name: backup-taken
///       when: before contract
///       run: ./scripts/check-backup "$BELLOWS_PLAN"
///     - name: chat
///       when: [after, refused, failed, interrupted, progress]
///       run: ./scripts/notify
///       timeout_seconds: 10
/// ```
public struct HookConfiguration: Sendable, Hashable {
    public static let defaultTimeoutSeconds: Double = 60
    public static let defaultProgressMinutes: Double = 10
    /// After a timeout, SIGTERM; SIGKILL this long after, when the hook is still there.
    public static let defaultKillGraceSeconds: Double = 5

    public var hooks: [Hook] = []
    public var progressMinutes: Double = HookConfiguration.defaultProgressMinutes
    public var killGraceSeconds: Double = HookConfiguration.defaultKillGraceSeconds

    public init(hooks: [Hook] = [], progressMinutes: Double = HookConfiguration.defaultProgressMinutes) {
        self.hooks = hooks
        self.progressMinutes = progressMinutes
    }

    /// Which hooks run for an event of a phase, in the file's order (pure).
    public func hooks(for event: HookEventKind, phase: PhaseCommand) -> [Hook] {
        hooks.filter { hook in hook.triggers.contains { $0.matches(event, phase) } }
    }

    /// Whether a backfill has progress hooks to run.
    public var hasProgressHooks: Bool { !hooks(for: .progress, phase: .backfill).isEmpty }
}

extension ProjectConfig {
    static let hookEvents = "before, after, refused, failed, interrupted or progress, optionally followed by a phase (expand, backfill, verify, contract, rollback)"

    /// Reads `hooks:`; every problem is a located finding.
    static func readHooks(_ node: Node, reader: inout NodeReader) -> HookConfiguration {
        var configuration = HookConfiguration()
        guard let top = reader.mapping(node, what: "'hooks'", allowed: ["timeout_seconds", "progress_minutes", "commands"]) else { return configuration }
        let defaultTimeout = reader.positiveNumber(top["timeout_seconds"]?.value, key: "timeout_seconds") ?? HookConfiguration.defaultTimeoutSeconds
        if let minutes = reader.positiveNumber(top["progress_minutes"]?.value, key: "progress_minutes") { configuration.progressMinutes = minutes }
        var names: Set<String> = []
        for (index, item) in (reader.sequence(top["commands"]?.value, key: "commands") ?? []).enumerated() {
            guard let entry = reader.mapping(item, what: "a hook", allowed: ["name", "when", "run", "timeout_seconds"]) else { continue }
            guard let run = reader.nonEmptyString(entry["run"]?.value, key: "run") else {
                if entry["run"] == nil { reader.report(item, "plan-missing-key", "a hook needs 'run': the command to run") }
                continue
            }
            let name = reader.nonEmptyString(entry["name"]?.value, key: "name")?.value ?? "hook \(index + 1)"
            if !names.insert(name).inserted, let node = entry["name"]?.value {
                reader.report(node, "plan-duplicate-key", "two hooks are named '\(name)'")
            }
            var texts: [Located<String>] = []
            if let when = entry["when"]?.value {
                if case .sequence = when { texts = reader.stringList(when, key: "when") } else if let one = reader.nonEmptyString(when, key: "when") { texts = [one] }
            } else {
                reader.report(item, "plan-missing-key", "hook '\(name)' needs 'when': \(hookEvents)")
            }
            var triggers: [HookTrigger] = []
            for text in texts {
                if let trigger = HookTrigger.parse(text.value) {
                    triggers.append(trigger)
                } else {
                    reader.report(at: text.location, "plan-invalid-value", "'when' must be \(hookEvents) (progress: backfill only), found '\(text.value)'")
                }
            }
            let timeout = reader.positiveNumber(entry["timeout_seconds"]?.value, key: "timeout_seconds") ?? defaultTimeout
            if !triggers.isEmpty {
                configuration.hooks.append(Hook(name: name, command: run.value, triggers: triggers, timeoutSeconds: timeout))
            }
        }
        return configuration
    }
}

extension NodeReader {
    /// A number above zero (`30`, `0.5`).
    mutating func positiveNumber(_ node: Node?, key: String) -> Double? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Double(scalar.string), value.isFinite else {
            report(node, "plan-wrong-type", "'\(key)' must be a number, found \(Self.typeName(node))")
            return nil
        }
        guard value > 0 else {
            report(node, "plan-invalid-value", "'\(key)' must be above 0, found \(scalar.string)")
            return nil
        }
        return value
    }
}
