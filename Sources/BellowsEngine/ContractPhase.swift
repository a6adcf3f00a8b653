import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Contract found the dual-write trigger's `pg_trigger` row other than verify recorded it.
struct TriggerChangedSinceVerify: Error {
    var verified: String?
    var now: String?
}

/// The table refused a write once contract's DDL had run (a trigger function reading a dropped
/// or renamed column, say): contract is rolled back.
struct UnwritableAfterContract: Error {
    var error: PostgresError
}

extension Engine {
    func contract(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        let sql = PhaseSQL(transition)
        var failures = checksumFailures(plan, state: state)
        if transition.needsTrigger, let problem = try triggerProblem(sql, transition: transition, connection: connection) {
            failures.append(problem)
        }
        if let verifiedAt = state.verifiedAt {
            let age = Date().timeIntervalSince(verifiedAt)
            if age > options.maxVerificationAgeSeconds {
                failures.append(GateFailure(gate: "verification-age",
                                            message: String(format: "the last verification is %.0f s old (limit %.0f s)", age, options.maxVerificationAgeSeconds),
                                            remedy: "`bellows verify \(plan.id)` again"))
            }
        } else {
            failures.append(GateFailure(gate: "verification-age", message: "the plan has no successful verification", remedy: "`bellows verify \(plan.id)`"))
        }
        failures += try tableSafetyFailures(table: transition.quotedTable, connection: connection)
        if transition.needsTrigger && state.verifiedAt != nil && state.verifiedTrigger == nil {
            failures.append(triggerSinceVerify(plan, "the verification did not record the dual-write trigger"))
        }
        failures += manualGateFailures(plan, before: .contract, connection: connection)
        if failures.isEmpty {
            failures += runChecks(plan, connection: connection).failures
        }
        guard failures.isEmpty else { throw refuse(connection, plan: plan, command: .contract, phase: state.phase, failures) }

        let statements = sql.contract
        do {
            try step("contract in one transaction") {
                try LockSafety.inTransaction(connection, policy: policy(for: plan), table: transition.quotedTable, report: report) {
                    try carryColumnPrivileges(plan, transition, sql, connection: connection)
                    for statement in statements where statement.mode == .transaction {
                        announce(plan, .contract, statement)
                        try connection.execute(statement.sql)
                        // Under the table's lock, so no one can disable the trigger between
                        // this comparison and its drop.
                        if statement == sql.contractLock {
                            let now = try triggerIdentity(sql, transition: transition, connection: connection)
                            if now != state.verifiedTrigger {
                                throw TriggerChangedSinceVerify(verified: state.verifiedTrigger, now: now)
                            }
                        }
                    }
                    try proveWritable(transition, connection: connection)
                    guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .contracted) else {
                        throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during contract (another bellows?)")
                    }
                    try record(connection, plan: plan, command: .contract, from: state.phase, to: .contracted, details: [
                        "dropped": .array(transition.droppedColumns.map(JSONValue.string)),
                        "renamed": .array(transition.allTargets.filter(\.isShadow).map { .string("\($0.physical) -> \($0.final)") }),
                        "confirmed": .array(plan.gates(before: .contract).map { .string($0.name.value) }),
                    ])
                }
            }
        } catch let changed as TriggerChangedSinceVerify {
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, [triggerSinceVerify(plan,
                "the dual-write trigger's catalog row changed since verify (\(changed.verified ?? "none") → \(changed.now ?? "missing")): "
                    + "it was disabled, re-enabled or re-created, and writes made meanwhile may not be synchronised")])
        } catch let unwritable as UnwritableAfterContract {
            let error = unwritable.error
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, [GateFailure(
                gate: "writable",
                message: "after contract's changes a no-op UPDATE of one row of \(transition.tableName) failed: \(error.message)"
                    + (error.sqlState.map { " (SQLSTATE \($0))" } ?? "")
                    + (error.context.map { "; context: \($0.replacingOccurrences(of: "\n", with: " / "))" } ?? "")
                    + ". Nothing was changed",
                remedy: "change the trigger function named in the context so it no longer uses the replaced columns "
                    + "(\(transition.droppedColumns.joined(separator: ", "))) and reads both shapes, then contract again")])
        }
        // After the commit (the plan is contracted): a declared foreign key added NOT VALID under
        // contract's lock is validated without blocking writes.
        for statement in statements where statement.mode == .standalone {
            announce(plan, .contract, statement)
            try step(statement.purpose) {
                try LockSafety.standalone(connection, policy: policy(for: plan), statementTimeoutMilliseconds: 0,
                                          table: transition.quotedTable, report: report, statement.sql)
            }
        }
        return ["statements": .int(statements.count)]
    }

    /// Under contract's lock (taken here, before the old columns are dropped): each new
    /// column's column-level privileges made exactly its old column's as they are now, so a
    /// `REVOKE` on the old column during the transition holds (hostile finding 02).
    func carryColumnPrivileges(_ plan: Plan, _ transition: Transition, _ sql: PhaseSQL, connection: Connection) throws {
        let pairs = transition.replacedColumns
        guard !pairs.isEmpty else { return }
        try connection.execute("LOCK TABLE \(transition.quotedTable) IN ACCESS EXCLUSIVE MODE")
        let oid = try connection.query("SELECT $1::regclass::oid::bigint AS oid", [transition.quotedTable]).first?.int("oid") ?? 0
        let grants = try CatalogReader.columnGrants(connection, oid: oid)
        for pair in pairs {
            for statement in sql.columnPrivileges(of: pair.new, current: grants[pair.new] ?? [], wanted: grants[pair.old] ?? []) {
                announce(plan, .contract, statement)
                try connection.execute(statement.sql)
            }
        }
    }

    /// Inside contract's transaction, after its DDL: a no-op UPDATE of one row, which fires the
    /// table's row triggers, rolled back to a savepoint. A trigger function that reads a column
    /// contract dropped or renamed has no catalog dependency on it; this finds it before commit.
    /// An empty table, or one without a plainly updatable column, proves nothing and passes.
    func proveWritable(_ transition: Transition, connection: Connection) throws {
        guard let column = try connection.query("""
            SELECT attname::text AS name FROM pg_attribute
            WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a'
            ORDER BY attnum LIMIT 1
            """, [transition.quotedTable]).first?.string("name") else { return }
        let table = transition.quotedTable
        let name = SQLQuote.identifier(column)
        try connection.execute("SAVEPOINT bellows_writable")
        do {
            try connection.execute("UPDATE \(table) SET \(name) = \(name) WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM \(table) LIMIT 1)")
        } catch {
            guard error.sqlState != .lockNotAvailable, error.sqlState != .deadlockDetected, connection.isOpen else { throw error }
            throw UnwritableAfterContract(error: error)
        }
        try connection.execute("ROLLBACK TO SAVEPOINT bellows_writable")
        try connection.execute("RELEASE SAVEPOINT bellows_writable")
    }

    func triggerSinceVerify(_ plan: Plan, _ message: String) -> GateFailure {
        GateFailure(gate: "trigger-since-verify", message: message,
                    remedy: "`bellows verify \(plan.id)` again: it proves the rows as they are now and records the trigger anew")
    }

    func rollback(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        // What to remove is computed from the plan file: an edited file would remove other
        // objects than expand added (and leave those behind), so require the file as expanded.
        if let expanded = state.expandChecksum, expanded != plan.checksum {
            throw refuse(connection, plan: plan, command: .rollback, phase: state.phase, [GateFailure(
                gate: "checksum", message: "the plan file changed since expand (sha256 \(expanded.prefix(12))… → \(plan.checksum.prefix(12))…): rollback removes what the plan as expanded added",
                remedy: "restore the file as it was expanded, roll back, then edit it")])
        }
        let transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        let sql = PhaseSQL(transition)
        let statements = sql.rollback
        for statement in statements where statement.mode == .standalone {
            announce(plan, .rollback, statement)
            try step(statement.purpose) {
                try LockSafety.standalone(connection, policy: policy(for: plan), statementTimeoutMilliseconds: options.statementTimeoutMilliseconds,
                                          table: transition.quotedTable, report: report, statement.sql)
            }
        }
        try step("remove the new shape in one transaction") {
            try LockSafety.inTransaction(connection, policy: policy(for: plan), table: transition.quotedTable, report: report) {
                for statement in statements where statement.mode == .transaction {
                    announce(plan, .rollback, statement)
                    try connection.execute(statement.sql)
                }
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .rolledBack, extra: """
                    , expanding = false, backfill_cursor = NULL, backfill_rows = 0, backfill_done = false, verified_at = NULL, verified_trigger = NULL, table_info = NULL, search_path = NULL, not_null_shape = NULL
                    """) else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during rollback (another bellows?)")
                }
                try record(connection, plan: plan, command: .rollback, from: state.phase, to: .rolledBack, details: [
                    "removed_columns": .array(transition.newTargets.map { .string($0.physical) }),
                ])
            }
        }
        return ["statements": .int(statements.count)]
    }
}
