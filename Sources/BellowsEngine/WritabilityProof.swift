import BellowsPlan
import PGClient

/// A kind of write, as a trigger fires on it and as contract's writability proof makes it.
enum ProbeEvent: String, Sendable, Hashable, CaseIterable {
    case insert = "INSERT", update = "UPDATE", delete = "DELETE", truncate = "TRUNCATE"

    /// What the proof's statement for the event does.
    var probe: String {
        switch self {
        case .update: "an UPDATE of one row setting every column to itself"
        case .insert: "an INSERT of a copy of one row (a key column with a default takes a new value)"
        case .delete: "a DELETE of one row"
        case .truncate: "a TRUNCATE"
        }
    }
}

/// What one of the proof's writes did.
enum ProbeResult: Sendable {
    /// It changed a row: every row trigger of the event fired, deferred ones too (the proof runs
    /// with `SET CONSTRAINTS ALL IMMEDIATE`).
    case wrote
    /// It ran and changed no row (a BEFORE trigger returned NULL, a rule): only statement triggers fired.
    case noRow
    /// The row was refused as data (SQLSTATE class 23). `ownTable`: by the table's own key, check
    /// or NOT NULL, which PostgreSQL tests after every BEFORE row trigger has run.
    case refusedAsData(PostgresError, ownTable: Bool)
    /// It failed otherwise: a trigger's error, say.
    case failed(PostgresError)
    /// It was not made, for the reason given.
    case notRun(String)

    var failure: PostgresError? {
        if case .failed(let error) = self { return error }
        return nil
    }
}

/// The proof's writes of one run (before contract's changes, or after them).
struct ProbeRun: Sendable {
    var results: [ProbeEvent: ProbeResult] = [:]
    /// The columns (attnums) the UPDATE sets to themselves.
    var updatedColumns: Set<Int> = []
    /// The table was empty: the writes were made on a made-up row the proof inserted.
    var madeUp = false

    func result(_ event: ProbeEvent) -> ProbeResult {
        results[event] ?? .notRun("contract does not \(event.rawValue) to prove it")
    }
}

extension TriggerFunctionSource {
    var isRowLevel: Bool { type & 1 != 0 }
    var isBefore: Bool { type & 2 != 0 }
    var events: [ProbeEvent] {
        [(4, ProbeEvent.insert), (16, .update), (8, .delete), (32, .truncate)].filter { type & $0.0 != 0 }.map(\.1)
    }
    /// `AFTER INSERT OR UPDATE` (`… for each statement` when statement-level).
    var firing: String {
        (type & 64 != 0 ? "INSTEAD OF " : isBefore ? "BEFORE " : "AFTER ")
            + events.map(\.rawValue).joined(separator: " OR ") + (isRowLevel ? "" : " for each statement")
    }
}

/// Contract's writability proof, decided (pure): contract writes under its transaction, after
/// its changes, in a savepoint rolled back at once — an UPDATE, an INSERT of a copy of a row and,
/// when a trigger fires on DELETE, a DELETE, with every deferrable constraint and constraint
/// trigger made immediate — and the same writes before its changes. A write that worked before
/// and fails after refuses contract with the error; a trigger none of the writes could be shown to
/// fire, whose function's source names a column contract renames or drops, refuses it too.
///
/// Expand makes the same writes before and after its DDL, in its transaction (hostile-d 32: a
/// trigger copying `NEW.*` into a history table of the old width failed every write from expand
/// on): `phase` `.expand`, nothing `gone`, and a failure inside Bellows' own trigger function
/// (`ignoring`, its name: an `up` that fails on the row, which backfill reports) left out.
enum WritabilityProof {
    static func failures(table: String, triggers: [TriggerFunctionSource], before: ProbeRun, after: ProbeRun,
                         replaced: [String], gone: [String], phase: PhaseCommand = .contract, ignoring: String? = nil) -> [GateFailure] {
        var failures: [GateFailure] = []
        // Writes that worked before contract's changes and fail after them; one failure per error
        // (PL/pgSQL's context differs between a first and a later call of the same statement).
        var broken: [(events: [ProbeEvent], error: PostgresError)] = []
        for event in ProbeEvent.allCases {
            guard let error = after.result(event).failure, before.result(event).failure == nil else { continue }
            if let ignoring, error.context?.contains(ignoring) == true { continue }
            if let same = broken.firstIndex(where: {
                $0.error.sqlState == error.sqlState && $0.error.message == error.message
            }) {
                broken[same].events.append(event)
            } else {
                broken.append(([event], error))
            }
        }
        for (events, error) in broken {
            let fired = triggers.filter { trigger in error.context?.contains("function \(trigger.function)") == true }
            let remedy = phase == .expand
                ? "change the trigger function named in the context so it does not depend on the table's exact list of columns, which expand "
                    + "widens (name the columns it copies: INSERT INTO history (id, email) VALUES (NEW.id, NEW.email), not SELECT NEW.*), then expand again"
                : "change the trigger function named in the context so it no longer uses the replaced columns "
                    + "(\(replaced.joined(separator: ", "))) and reads both shapes (to_jsonb(NEW) reads a row of either shape), then contract again"
            failures.append(GateFailure(
                gate: "writable",
                message: "after \(phase.rawValue)'s changes, \(events.map(\.probe).joined(separator: " and ")) of \(table)"
                    + (after.madeUp ? " (empty: on a made-up row, each column its default or a plain value of its type)" : "")
                    + " failed: \(error.message)"
                    + (error.sqlState.map { " (SQLSTATE \($0))" } ?? "")
                    + (error.context.map { "; context: \($0.replacingOccurrences(of: "\n", with: " / "))" } ?? "")
                    + fired.map { "; trigger \($0.trigger) (\($0.firing)) runs \($0.function)" }.joined()
                    + ". The same \(events.count == 1 ? "write" : "writes") worked before \(phase.rawValue)'s changes. Nothing was changed",
                remedy: remedy))
        }
        for trigger in triggers {
            let named = trigger.mentions(gone)
            guard !named.isEmpty, let reason = unreached(trigger, before: before, after: after) else { continue }
            failures.append(GateFailure(
                gate: "writable",
                message: "trigger \(trigger.trigger) (\(trigger.firing)) runs \(trigger.function), whose source names "
                    + "\(named.joined(separator: ", ")), which contract renames or drops, and contract's writes cannot show that it "
                    + "still works: \(reason). Nothing was changed",
                remedy: "change \(trigger.function) so its source no longer names \(named.joined(separator: ", ")) "
                    + "(to_jsonb(NEW) ->> 'new_name' reads a row of either shape), or drop the trigger before contract and create it "
                    + "again after, then contract again"))
        }
        return failures
    }

    /// Why none of the proof's writes can be shown to have fired `trigger` on each of its events
    /// (nil: they did, or a write failed and refuses contract on its own).
    static func unreached(_ trigger: TriggerFunctionSource, before: ProbeRun, after: ProbeRun) -> String? {
        if trigger.enabled == "D" { return "it is disabled" }
        if trigger.enabled == "R" { return "it fires only in replica sessions (ENABLE REPLICA)" }
        if trigger.hasWhen { return "its WHEN condition decides whether it fires, and the row written may not meet it" }
        for event in trigger.events {
            let result = after.result(event)
            if result.failure != nil {
                if let prior = before.result(event).failure {
                    return "\(event.probe) fails before contract's changes too (\(prior.sqlState?.rawValue ?? "error"): \(prior.message)), "
                        + "so it shows nothing"
                }
                continue
            }
            switch result {
            case .wrote:
                if event == .update && trigger.isRowLevel && !Set(trigger.columns).isSubset(of: after.updatedColumns) {
                    return "its UPDATE OF columns are not all set by the proof's UPDATE"
                }
            case .noRow:
                if trigger.isRowLevel { return "\(event.probe) changed no row (a BEFORE trigger or a rule skipped it)" }
            case .refusedAsData(let error, let ownTable):
                if !(trigger.isBefore && (ownTable || !trigger.isRowLevel)) {
                    return "\(event.probe) was refused as data (\(error.sqlState?.rawValue ?? "error"): \(error.message)), "
                        + "so \(trigger.isBefore ? "" : "AFTER ")\(event.rawValue) triggers did not fire"
                }
            case .notRun(let reason):
                return reason
            case .failed:
                continue
            }
        }
        return nil
    }
}
