import BellowsPlan
import Foundation
import PGClient

/// A release manager's live control of a plan's backfill, kept in `bellows.controls` (one row
/// per plan): `bellows pause`, `resume` and `throttle` write it from any host that reaches the
/// database, and a running backfill reads it between batches (`BackfillPacer.apply`). It
/// outlives the process: a backfill started while its plan is paused waits for `resume`.
public struct BackfillControl: Sendable, Codable, Hashable {
    public var paused: Bool = false
    /// At most this many rows a second (`throttle --max-rows-per-second`).
    public var maxRowsPerSecond: Int? = nil
    /// Batches of exactly this many rows (`throttle --batch-size`), instead of the pacer's.
    public var batchSize: Int? = nil
    /// Who made the last change, and when (ISO 8601, UTC).
    public var actor: String? = nil
    public var changedAt: String? = nil

    public init(paused: Bool = false, maxRowsPerSecond: Int? = nil, batchSize: Int? = nil) {
        self.paused = paused
        self.maxRowsPerSecond = maxRowsPerSecond
        self.batchSize = batchSize
    }

    enum CodingKeys: String, CodingKey {
        case paused, maxRowsPerSecond = "max_rows_per_second", batchSize = "batch_size", actor, changedAt = "changed_at"
    }

    /// Whether anything is asked of the backfill.
    public var isActive: Bool { paused || maxRowsPerSecond != nil || batchSize != nil }

    /// The throttle in words (`≤ 100 rows/s, batches of 50`), nil when there is none.
    public var throttleDescription: String? {
        let parts = [maxRowsPerSecond.map { "≤ \($0) rows/s" }, batchSize.map { "batches of \($0)" }].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// What a progress line or the board says about it (`paused by alice at …`), nil when inactive.
    public var summary: String? {
        let by = (actor.map { " by \($0)" } ?? "") + (changedAt.map { " at \($0)" } ?? "")
        if paused { return "paused\(by)" + (throttleDescription.map { "; throttle \($0)" } ?? "") }
        return throttleDescription.map { "throttle \($0)\(by)" }
    }
}

/// A change `pause`, `resume` or `throttle` makes to a plan's control.
public enum ControlChange: Sendable, Hashable {
    case pause
    case resume
    /// Each given value replaces the current one; `clear` removes both first.
    case throttle(maxRowsPerSecond: Int?, batchSize: Int?, clear: Bool)

    public var command: String {
        switch self {
        case .pause: return "pause"
        case .resume: return "resume"
        case .throttle: return "throttle"
        }
    }

    /// The control after the change (pure).
    public func applied(to control: BackfillControl) -> BackfillControl {
        var next = control
        switch self {
        case .pause: next.paused = true
        case .resume: next.paused = false
        case .throttle(let rate, let size, let clear):
            if clear { next.maxRowsPerSecond = nil; next.batchSize = nil }
            if let rate { next.maxRowsPerSecond = rate }
            if let size { next.batchSize = size }
        }
        return next
    }
}

/// What `pause`, `resume` and `throttle` did (their `--format json` document).
public struct ControlOutcome: Sendable, Codable, Hashable {
    public var plan: String
    public var command: String
    /// The plan's phase when the change was made.
    public var phase: Phase
    public var control: BackfillControl
    /// False when the control already was so (nothing changed, nothing recorded).
    public var changed: Bool
}

extension StateStore {
    /// The plan's control, nil when none was ever set (or the schema predates controls).
    static func control(_ connection: Connection, plan: String) throws -> BackfillControl? {
        guard let row = try connection.query("""
            SELECT paused, max_rows_per_second, batch_size, actor,
                   to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS changed_at
            FROM bellows.controls WHERE plan_id = $1
            """, [plan]).first else { return nil }
        var control = BackfillControl(paused: try row.bool("paused"), maxRowsPerSecond: try row.optionalInt("max_rows_per_second"),
                                      batchSize: try row.optionalInt("batch_size"))
        control.actor = try row.optionalString("actor")
        control.changedAt = try row.optionalString("changed_at")
        return control
    }

    /// Removes the plan's control (rollback, contract: the attempt it steered is over) and
    /// returns what it was, for the phase's event; nil when there was none in force.
    static func clearControl(_ connection: Connection, plan: String) throws -> JSONValue? {
        guard let row = try connection.query("""
            DELETE FROM bellows.controls WHERE plan_id = $1
            RETURNING paused, max_rows_per_second, batch_size, actor,
                      to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS changed_at
            """, [plan]).first else { return nil }
        let paused = try row.bool("paused")
        let rate = try row.optionalInt("max_rows_per_second")
        let size = try row.optionalInt("batch_size")
        guard paused || rate != nil || size != nil else { return nil }
        return ["paused": .bool(paused), "max_rows_per_second": rate.map(JSONValue.int) ?? .null,
                "batch_size": size.map(JSONValue.int) ?? .null, "actor": .optional(try row.optionalString("actor")),
                "changed_at": .optional(try row.optionalString("changed_at"))]
    }

    /// Every plan's control, by plan id (none in a state schema from before controls, which
    /// read commands do not upgrade).
    static func controls(_ connection: Connection) throws -> [String: BackfillControl] {
        var all: [String: BackfillControl] = [:]
        guard try connection.query("SELECT to_regclass('bellows.controls') IS NOT NULL AS present").first?.bool("present") == true else { return all }
        for id in try connection.query("SELECT plan_id FROM bellows.controls").map({ try $0.string("plan_id") }) {
            all[id] = try control(connection, plan: id)
        }
        return all
    }
}

extension Engine {
    /// `bellows pause`, `resume`, `throttle`: changes the plan's control and records the change
    /// in the audit trail, in one transaction. The plan is one of the project's, or one the
    /// database knows (another host may hold no project).
    public func control(plan reference: String, _ change: ControlChange) throws -> ControlOutcome {
        if case .throttle(let rate, let size, let clear) = change {
            if rate == nil && size == nil && !clear { throw BellowsError.usage("throttle: give --max-rows-per-second, --batch-size or --clear") }
            if let rate, rate < 1 { throw BellowsError.usage("--max-rows-per-second must be at least 1") }
            if let size, size < 1 { throw BellowsError.usage("--batch-size must be at least 1") }
        }
        let connection = try connect()
        defer { connection.close() }
        do {
            let id = try controlledPlanID(reference, connection: connection)
            return try connection.withTransaction {
                // One change at a time per plan: the row is locked, or created, before it is read.
                try connection.execute("INSERT INTO bellows.controls (plan_id, actor) VALUES ($1, \(StateStore.actorSQL(2))) ON CONFLICT (plan_id) DO NOTHING",
                                       [id, options.actor])
                _ = try connection.query("SELECT 1 FROM bellows.controls WHERE plan_id = $1 FOR UPDATE", [id])
                let before = try StateStore.control(connection, plan: id) ?? BackfillControl()
                let phase = try StateStore.plan(connection, id: id)?.phase ?? .planned
                var after = change.applied(to: before)
                let changed = after.paused != before.paused || after.maxRowsPerSecond != before.maxRowsPerSecond || after.batchSize != before.batchSize
                guard changed else { return ControlOutcome(plan: id, command: change.command, phase: phase, control: before, changed: false) }
                try connection.execute("""
                    UPDATE bellows.controls SET paused = $2, max_rows_per_second = $3, batch_size = $4, actor = \(StateStore.actorSQL(5)), changed_at = now()
                    WHERE plan_id = $1
                    """, [id, after.paused, after.maxRowsPerSecond, after.batchSize, options.actor])
                try StateStore.record(connection, plan: id, actor: options.actor, command: change.command, from: phase, to: nil, outcome: "succeeded",
                                      details: ["paused": .bool(after.paused), "max_rows_per_second": after.maxRowsPerSecond.map(JSONValue.int) ?? .null,
                                                "batch_size": after.batchSize.map(JSONValue.int) ?? .null])
                after = try StateStore.control(connection, plan: id) ?? after
                return ControlOutcome(plan: id, command: change.command, phase: phase, control: after, changed: true)
            }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The id of a plan of the project, else of a plan the database has a row for.
    func controlledPlanID(_ reference: String, connection: Connection, stateKnown: Bool = true) throws -> String {
        do {
            return try project.resolvePlan(reference).id
        } catch let error as BellowsError {
            guard case .usage = error, stateKnown, try StateStore.plan(connection, id: reference) != nil else { throw error }
            return reference
        }
    }
}
