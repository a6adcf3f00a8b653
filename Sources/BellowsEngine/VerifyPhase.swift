import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// The result of one verification check.
public struct CheckResult: Sendable, Hashable {
    public var name: String
    public var passed: Bool
    public var message: String

    public var json: JSONValue { ["name": .string(name), "passed": .bool(passed), "message": .string(message)] }
}

extension Engine {
    func verify(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        let sql = PhaseSQL(transition)
        var results: [CheckResult] = []
        var failures = checksumFailures(plan, state: state)
        if transition.needsTrigger, let problem = try triggerProblem(sql, transition: transition, connection: connection) {
            failures.append(problem)
        }
        failures += try tableSafetyFailures(table: transition.quotedTable, plan: plan, connection: connection)
        let triggerName = try dualWriteTrigger(sql, transition: transition, connection: connection)
        if transition.needsTrigger { failures += try triggerOrderFailures(transition, trigger: triggerName, connection: connection) }
        failures += manualGateFailures(plan, before: .verify, connection: connection)
        if !failures.isEmpty { throw refuse(connection, plan: plan, command: .verify, phase: state.phase, failures) }
        let privileges = try followColumnPrivileges(plan, .verify, transition, connection: connection)
        // Taken before the scan: a DISABLE/ENABLE of the trigger waits for every write to the
        // table to end, so writes made around a trigger whose row is this one have committed
        // and the scan sees them. Contract compares it with the row it finds.
        let trigger = transition.needsTrigger ? try triggerIdentity(sql, transition: transition, connection: connection) : nil

        if plan.strategy == .views, sql.verifyScan == nil {
            results.append(CheckResult(name: "strategy:views", passed: true,
                                       message: "strategy: views: no column was copied, so no row has two shapes to compare; contract renames in place"))
        }
        // 1. One scan: every row's new shape equals up(old).
        if let scan = sql.verifyScan {
            announce(plan, .verify, PhaseStatement(.transaction, "prove every row agrees with up (one scan)", scan))
            let row = try step("scan the table") {
                try readOnly(connection) { () throws(PostgresError) in
                    try connection.execute("SET LOCAL statement_timeout = 0")
                    // Every row or an error: a policy can never narrow the scan to the rows it shows.
                    try connection.execute("SET LOCAL row_security = off")
                    return try connection.query(scan).first
                }
            }
            let laterTriggers = UserTrigger.firingAfter(triggerName, in: try UserTrigger.read(connection, table: transition.quotedTable))
            for (group, condition) in sql.mismatchConditions {
                let name = "change_\(group.changeIndex + 1)"
                let count = try row?.int(name) ?? 0
                let what = "change \(group.changeIndex + 1) (\(sql.describe(group))) at \(group.location)"
                let unrepeatable = group.targets.filter { !transition.repeats($0) }.map(\.final)
                let presence = unrepeatable.isEmpty ? "" : "; \(unrepeatable.joined(separator: ", ")) filled wherever up gives a value (its up does not repeat: compared by presence, not value)"
                if count == 0 {
                    results.append(CheckResult(name: "mismatch:\(name)", passed: true, message: "\(what): every row agrees with up" + presence))
                } else {
                    let samples = try step("sample mismatching rows") {
                        try readOnly(connection) { () throws(PostgresError) in try connection.query(sql.verifySample(condition: condition)) }
                            .map { try $0.string("key") }
                    }
                    let keys = transition.key.map(\.name).joined(separator: ", ")
                    var message = "\(what): \(count) row(s) disagree with up (and with down, for changes that have one); sample (\(keys)): \(samples.map { "(\($0))" }.joined(separator: ", "))"
                    let rescan = "`bellows backfill \(plan.id) --rescan` recomputes, from the old columns, the new ones of every row that disagrees (writes that bypassed the trigger: it was disabled, or replica-mode writes before it was ENABLE ALWAYS), then verify again"
                    var remedy = group.kind == .add ? rescan
                        : "check up/down at \(group.location): each row must hold up of its old columns, or (written by new code) down of its new ones with an equal round trip; if writes bypassed the trigger, " + rescan
                    if !laterTriggers.isEmpty {
                        message += "; the table's BEFORE triggers \(laterTriggers.map(\.described).joined(separator: ", ")) run after Bellows' \(triggerName) (triggers fire in name order) and may change what it computed"
                        remedy = "check what \(laterTriggers.map(\.name).joined(separator: ", ")) write" + (group.kind == .add ? "; " : ", or ") + remedy
                    }
                    results.append(CheckResult(name: "mismatch:\(name)", passed: false, message: message))
                    failures.append(GateFailure(gate: "mismatch:\(name)", message: message, remedy: remedy))
                }
            }
        }

        // 2. Constraints added NOT VALID, validated without blocking writes.
        for statement in sql.verifyValidations {
            announce(plan, .verify, statement)
            do {
                try LockSafety.standalone(connection, policy: policy(for: plan), statementTimeoutMilliseconds: 0,
                                          table: transition.quotedTable, report: report, statement.sql)
                results.append(CheckResult(name: "constraint", passed: true, message: statement.sql))
            } catch let error as PostgresError {
                let message = "\(statement.sql) failed: \(error.message)" + (error.detail.map { " (\($0))" } ?? "")
                results.append(CheckResult(name: "constraint", passed: false, message: message))
                failures.append(GateFailure(gate: "constraint", message: message, remedy: "fix the offending rows or the plan, then verify again"))
            }
        }

        // 3. Indexes built concurrently must be valid.
        for index in sql.addedIndexes {
            let qualified = SQLQuote.qualified(schema: transition.table.schema, name: index.name)
            let valid = try connection.query("SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)", [qualified]).first
            if let valid, try valid.bool("valid") {
                results.append(CheckResult(name: "index", passed: true, message: "\(index.name) is valid"))
            } else {
                let message = "index \(index.name) is \(valid == nil ? "missing" : "INVALID")"
                results.append(CheckResult(name: "index", passed: false, message: message))
                failures.append(GateFailure(gate: "index", message: message, remedy: "`bellows rollback \(plan.id)` and expand again"))
            }
        }

        // 4. The plan's own checks.
        let checkResults = runChecks(plan, connection: connection)
        results += checkResults.results
        failures += checkResults.failures

        var details: [String: JSONValue] = ["checks": .array(results.map(\.json))]
        if let privileges { details[privileges.key] = privileges.value }
        guard failures.isEmpty else {
            if state.phase == .verified {
                _ = try? StateStore.transition(connection, id: plan.id, from: .verified, to: .backfilled, extra: ", verified_at = NULL")
            }
            throw refuse(connection, plan: plan, command: .verify, phase: state.phase, failures, details: details)
        }
        try step("record the verification") {
            try connection.withTransaction {
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .verified,
                                                extra: ", verified_at = now(), verified_trigger = $4", [trigger]) else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during verify (another bellows?)")
                }
                try record(connection, plan: plan, command: .verify, from: state.phase, to: .verified, details: details)
            }
        }
        return details
    }

    /// Runs `body` in a READ ONLY transaction that is always rolled back: the plan's checks and
    /// verify's evaluation of its expressions read, and cannot change a row (a `WITH … DELETE`
    /// check, or an `up` calling a function that writes, fails instead).
    func readOnly<T>(_ connection: Connection, _ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        try connection.execute("BEGIN TRANSACTION READ ONLY")
        defer { if connection.inTransaction { _ = try? connection.execute("ROLLBACK") } }
        return try body()
    }

    /// Runs the plan's checks (each in a read-only transaction); each must return exactly its expected value.
    func runChecks(_ plan: Plan, connection: Connection) -> (results: [CheckResult], failures: [GateFailure]) {
        var results: [CheckResult] = []
        var failures: [GateFailure] = []
        for check in plan.checks {
            let name = check.name.value
            do {
                let rows = try readOnly(connection) { () throws(PostgresError) in try connection.query(check.sql.text) }
                let value = rows.first?.values.first ?? nil
                if rows.count == 1, rows[0].values.count == 1, check.expectation.matches(value) {
                    results.append(CheckResult(name: "check:\(name)", passed: true, message: "\(name) returned \(value ?? "NULL")"))
                } else {
                    let got = rows.count == 1 ? (value ?? "NULL") : "\(rows.count) rows"
                    let message = "check \(name) at \(check.sql.location) returned \(got), expected \(check.expectation.description)"
                    results.append(CheckResult(name: "check:\(name)", passed: false, message: message))
                    failures.append(GateFailure(gate: "check:\(name)", message: message))
                }
            } catch {
                let message = "check \(name) at \(check.sql.location) failed: \(error.message)" + (error.hint.map { " (hint: \($0))" } ?? "")
                results.append(CheckResult(name: "check:\(name)", passed: false, message: message))
                failures.append(GateFailure(gate: "check:\(name)", message: message))
            }
        }
        return (results, failures)
    }
}
