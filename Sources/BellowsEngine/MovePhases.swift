import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// The phases of a `move_columns` plan (ColumnMove, MoveSQL): read → decide → act, as the
/// column-change phases, with the same state row, gates, audit events and backfill controls.
extension Engine {
    func runMove(_ command: PhaseCommand, plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        switch command {
        case .expand: return try expandMove(plan, state: state, connection: connection)
        case .backfill: return try backfillMove(plan, state: state, connection: connection)
        case .verify: return try verifyMove(plan, state: state, connection: connection)
        case .contract: return try contractMove(plan, state: state, connection: connection)
        case .rollback: return try rollbackMove(plan, state: state, connection: connection)
        }
    }

    /// The move as expand resolved it: against the table it stored, under the search_path it kept.
    func columnMove(_ plan: Plan, connection: Connection) throws -> ColumnMove {
        var table = try StateStore.storedTable(connection, id: plan.id)
        if table == nil { table = try CatalogReader.table(connection, plan.table.value) }
        let compiled = MoveCompiler.compile(plan, table: table)
        guard var move = compiled.move else {
            throw BellowsError.planInvalid(compiled.findings.isEmpty
                ? [Finding(at: plan.table.location, severity: .error, rule: "plan-unknown-table", message: "table \(plan.table.value) does not exist")]
                : compiled.findings)
        }
        if let path = try connection.query("SELECT search_path FROM bellows.plans WHERE id = $1", [plan.id]).first?.raw("search_path") {
            move.searchPath = PostgresArray.parse(path).compactMap { $0 }
        }
        move.typesWithoutEquality = try CatalogReader.typesWithoutEquality(connection, Set(move.moved.map(\.type)))
        return move
    }

    func expandMove(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        var failures = try dependencyFailures(plan, connection: connection)
        failures += manualGateFailures(plan, before: .expand, connection: connection)
        let table = try CatalogReader.table(connection, plan.table.value)
        let compiled = MoveCompiler.compile(plan, table: table)
        failures += compiled.findings.filter { $0.severity == .error }.map {
            GateFailure(gate: "plan", message: "\($0.location): \($0.message)", remedy: "fix the plan (rule \($0.rule))")
        }
        if table == nil {
            failures.append(GateFailure(gate: "plan", message: "table \(plan.table.value) does not exist", remedy: "fix 'table' in the plan"))
        }
        if let move = compiled.move {
            // The new table's schema: USAGE and CREATE on it, checked before anything (hostile-h 24).
            var schemaReady = false
            let schema = move.target.schema ?? move.source.schema
            if let row = try connection.query("""
                SELECT current_user::text AS role, (SELECT has_schema_privilege(n.oid, 'USAGE, CREATE') FROM pg_namespace n WHERE n.nspname = $1) AS may
                """, [schema]).first {
                let role = try row.string("role")
                switch try row.optionalBool("may") {
                case nil:
                    failures.append(GateFailure(gate: "plan", message: "\(move.move.to.location): schema \(schema) does not exist", remedy: "create it with a migration, or name another in 'to'"))
                case false?:
                    failures.append(GateFailure(gate: "privilege", message: "role \(role) may not create \(move.targetName): it lacks USAGE or CREATE on schema \(schema)",
                                                remedy: "GRANT USAGE, CREATE ON SCHEMA \(SQLQuote.identifier(schema)) TO \(SQLQuote.identifier(role)), or run Bellows as a role that has it"))
                default: schemaReady = true
                }
            }
            if schemaReady, try connection.query("SELECT to_regclass($1) IS NOT NULL AS taken", [move.quotedTarget]).first?.bool("taken") == true {
                failures.append(GateFailure(gate: "plan", message: "\(move.move.to.location): table \(move.targetName) already exists",
                                            remedy: "a move creates its new table: name another in 'to'"))
            }
            failures += try tableSafetyFailures(table: move.quotedSource, connection: connection)
            failures += try moveTargetFailures(table: move.quotedSource, plan: plan.id, connection: connection)
            failures += Self.movePublicationFailures(move, publications: try Self.publishedColumns(of: move.quotedSource, connection: connection))
            // Another plan in flight on the table that changes a moved column.
            let names = [plan.table.value.description, move.sourceName, move.source.name]
            for row in try connection.query("""
                SELECT id, CASE WHEN expanding THEN 'expanding' ELSE phase END AS phase FROM bellows.plans
                WHERE id <> $1 AND (phase IN ('expanded', 'backfilled', 'verified') OR expanding)
                  AND table_name = ANY($2::text[]) AND touched_columns && $3::text[] ORDER BY id
                """, [plan.id, PostgresArray.literal(names), PostgresArray.literal(move.movedNames)]) {
                failures.append(GateFailure(gate: "conflict", message: "plan \(try row.string("id")) is \(try row.string("phase")) on \(move.sourceName) and changes a column this plan moves",
                                            remedy: "contract or roll back \(try row.string("id")) first"))
            }
        }
        guard failures.isEmpty, var move = compiled.move, let table else {
            throw refuse(connection, plan: plan, command: .expand, phase: state.phase, failures)
        }
        move.searchPath = try sessionSearchPath(connection)
        move.typesWithoutEquality = try CatalogReader.typesWithoutEquality(connection, Set(move.moved.map(\.type)))
        move.tableGrants = try connection.query("""
            SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE (SELECT rolname FROM pg_roles WHERE oid = a.grantee) END AS grantee, a.privilege_type
            FROM pg_class c, aclexplode(c.relacl) AS a WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner ORDER BY 1, 2
            """, [move.quotedSource]).map { ColumnMove.TableGrant(grantee: try $0.string("grantee"), privilege: try $0.string("privilege_type")) }
        move.columnGrants = try connection.query("""
            SELECT a.attname::text AS column_name, x.privilege_type,
                   CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE (SELECT rolname FROM pg_roles WHERE oid = x.grantee) END AS grantee
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid, aclexplode(a.attacl) AS x
            WHERE c.oid = to_regclass($1) AND a.attname = ANY ($2::text[]) AND NOT a.attisdropped AND x.grantee <> c.relowner
            ORDER BY a.attnum, 3, 2
            """, [move.quotedSource, PostgresArray.literal(move.keyNames + move.movedNames)]).map {
                ColumnMove.ColumnGrant(grantee: try $0.string("grantee"), privilege: try $0.string("privilege_type"), column: try $0.string("column_name"))
            }
        if let row = try connection.query("""
            SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                   ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1) AS policies
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [move.quotedSource]).first, try row.bool("enabled") {
            move.rowSecurity = ColumnMove.RowSecurity(forced: try row.bool("forced"), policies: try row.stringArray("policies"))
        }
        let sql = MoveSQL(move)
        if let security = move.rowSecurity {
            report(.info("row-level security of \(move.sourceName) (\(security.policies.isEmpty ? "no policy" : "policies " + security.policies.joined(separator: ", "))\(security.forced ? ", FORCE" : "")) "
                + "is enabled on \(move.targetName) too, with policy \(MoveSQL.policyName): a row of it only for whom those policies show its source row"))
        }
        for note in sql.notes { report(.info(note)) }
        let tableJSON = String(decoding: try JSONEncoder().encode(table), as: UTF8.self)
        let details: [String: JSONValue] = ["new_table": .string(move.targetName), "moved_columns": .array(move.movedNames.map(JSONValue.string)),
                                            "key": .array(move.keyNames.map(JSONValue.string))]
        try step("create the new table and the triggers keeping both sides in step") {
            try LockSafety.inTransaction(connection, policy: policy(for: plan), table: move.quotedSource, report: report) {
                for statement in sql.expandTransaction {
                    announce(plan, .expand, statement)
                    try connection.execute(statement.sql)
                }
                let updated = try connection.execute("""
                    UPDATE bellows.plans SET phase = 'expanded', expanding = false, expand_checksum = $2, checksum = $2, table_info = $3,
                           touched_columns = $4::text[], backfill_cursor = NULL, backfill_bound = NULL, backfill_rows = 0, backfill_done = false,
                           verified_at = NULL, verified_trigger = NULL, search_path = $6::text[], updated_at = now(),
                           referenced_columns = $10::text[], plan_text = $7, plan_path = $8, table_name = $9
                    WHERE id = $1 AND phase = $5 AND NOT expanding
                    """, [plan.id, plan.checksum, tableJSON, PostgresArray.literal(move.movedNames), state.phase.rawValue,
                          PostgresArray.literal(move.searchPath ?? []), plan.source, plan.file, plan.table.value.description,
                          // The key the move's triggers read: a plan renaming it conflicts (hostile-h 25).
                          PostgresArray.literal(move.keyNames)])
                guard updated.affectedRows == 1 else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase while expand ran (another bellows?)")
                }
                try record(connection, plan: plan, command: .expand, from: state.phase, to: .expanded, details: details)
            }
        }
        return details
    }

    /// Copies the source's rows into the new table in keyset batches, each with its cursor in
    /// one transaction (resumable), up to the largest key when the backfill started, paced and
    /// controlled (`bellows pause`/`throttle`) like a column backfill.
    func backfillMove(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        // A rescan walks the source again and copies the rows missing from the new table
        // (a delete or TRUNCATE there around its trigger); rows already there are kept.
        let rescan = options.rescan && state.phase == .backfilled
        if state.phase == .backfilled && !rescan {
            report(.info("plan \(plan.id) is already backfilled (`bellows backfill \(plan.id) --rescan` copies the rows missing from the new table again)"))
            return ["rows_updated": .int(state.backfillRows), "already_done": true]
        }
        let move = try columnMove(plan, connection: connection)
        let sql = MoveSQL(move)
        var failures = checksumFailures(plan, state: state)
        failures += try moveTriggerFailures(sql, connection: connection)
        failures += manualGateFailures(plan, before: .backfill, connection: connection)
        guard failures.isEmpty else { throw refuse(connection, plan: plan, command: .backfill, phase: state.phase, failures) }

        var pacer = BackfillPacer(settings: plan.backfill, pacing: options.pacing, fixedBatchSize: options.batchSize,
                                  pauseMilliseconds: options.pauseMilliseconds)
        var cursor = rescan ? nil : state.backfillCursor
        var bound = rescan ? nil : state.backfillBound
        if rescan { report(.info("rescanning \(move.sourceName) from the first key: rows missing from \(move.targetName) are copied again")) }
        if bound == nil {
            bound = try step("read the walk's end") { try KeyTextSettings.reading(connection) { try connection.query(sql.backfillUpperBound).first?.stringArray("max_key") } }
            try step("save the backfill's upper bound") {
                try StateStore.saveBackfillBound(connection, plan: plan.id, bound: bound, phase: state.phase)
            }
        }
        let estimate = try connection.query("SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = to_regclass($1)", [move.quotedSource]).first?.int("n") ?? 0
        let bytesAtStart = try tableBytes(connection, move.quotedTarget)
        var copiedTotal = state.backfillRows
        var scannedThisRun = 0
        let started = Date()
        // The new table's trigger stands aside for this session's copies (the values come from the source).
        try step("mark the session as the backfill's") { try connection.execute("SELECT set_config('bellows.backfill', $1, false)", [sql.marker]) }
        defer { _ = try? connection.execute("RESET bellows.backfill") }
        // The copy's statement reads the batch's last key and evaluates the new table's CHECK
        // constraints in one: it runs under the session's settings (under the walk's fixed ones
        // a CHECK parsing a DMY date failed, hostile-n 05), so only the walk's end is read under
        // KeyTextSettings. Not done: a key whose text the session's settings make inexact.
        let first = sql.backfillBatch(first: true), next = sql.backfillBatch(first: false)
        announce(plan, .backfill, PhaseStatement(.transaction, "one keyset batch", first))
        while let upper = bound {
            if options.shouldStop() {
                recordQuietly(connection, plan: plan, command: .backfill, from: state.phase, outcome: "interrupted",
                              details: ["rows_updated": .int(copiedTotal), "cursor": .array((cursor ?? []).map(JSONValue.string))])
                throw BellowsError.interrupted(plan: plan.id, rowsDone: copiedTotal, resume: "bellows backfill \(plan.id)")
            }
            let control = try step("read the backfill's control") { try StateStore.control(connection, plan: plan.id) ?? BackfillControl() }
            if pacer.apply(control) {
                report(.info("backfill of \(plan.id): " + (control.summary ?? "no pause or throttle any more")))
            }
            if control.paused {
                let pauseStart = Date()
                while Date().timeIntervalSince(pauseStart) < options.controlPollSeconds && !options.shouldStop() {
                    Thread.sleep(forTimeInterval: min(0.1, options.controlPollSeconds))
                }
                continue
            }
            do { try paceWalk(&pacer, settings: plan.backfill, what: "backfill of \(plan.id)", connection: connection) } catch let error as PostgresError {
                throw PhaseFailure(purpose: "watch the replicas and the server's other sessions", error: error)
            }
            if options.shouldStop() { continue }   // recorded as interrupted at the loop's top
            let size = pacer.nextBatchSize
            let parameters: [(any PostgresBindable)?] = (cursor ?? []).map { $0 } + upper.map { $0 } + [size]
            let batchStart = Date()
            let row = try step("copy a batch into \(move.targetName)") {
                try LockSafety.inTransaction(connection, policy: policy(for: plan), table: move.quotedSource, report: report) { () throws -> Row? in
                    try connection.execute("SET LOCAL statement_timeout = '\(plan.backfill.statementTimeoutMilliseconds)ms'")
                    let row = try connection.query(cursor == nil ? first : next, parameters).first
                    if let last = try row?.raw("last_key") {
                        let copied = try row?.int("copied") ?? 0
                        try connection.execute("""
                            UPDATE bellows.plans SET backfill_cursor = $2::text[], backfill_rows = backfill_rows + $3, updated_at = now()
                            WHERE id = $1 AND phase = $4
                            """, [plan.id, last, copied, state.phase.rawValue])
                    }
                    return row
                }
            }
            let scanned = try row?.int("scanned") ?? 0
            guard scanned > 0, let last = try row?.raw("last_key").map({ PostgresArray.parse($0).map { $0 ?? "" } }) else { break }
            let elapsed = Date().timeIntervalSince(batchStart) * 1000
            if let cursor, PostgresArray.sameKey(last, cursor) {
                throw PhaseFailure(purpose: "copy a batch into \(move.targetName)", error: KeyTextSettings.walkCannotPass(last))
            }
            cursor = last
            scannedThisRun += scanned
            copiedTotal += try row?.int("copied") ?? 0
            pacer.batchDone(rows: scanned, milliseconds: elapsed)
            let seconds = Date().timeIntervalSince(started)
            let rate = seconds > 0 ? Double(scannedThisRun) / seconds : 0
            report(.backfill(BackfillProgress(
                plan: plan.id, rowsScanned: scannedThisRun, rowsUpdated: copiedTotal, estimatedTotal: estimate, rowsPerSecond: rate,
                etaSeconds: nil, batchSize: pacer.nextBatchSize, lastBatchMilliseconds: elapsed, throttled: nil, pace: pacer.description,
                tableBytes: try tableBytes(connection, move.quotedTarget), tableBytesAtStart: bytesAtStart, control: pacer.control.summary)))
            if PostgresArray.sameKey(cursor, upper) { break }
            let rest = pacer.restMilliseconds(afterBatchOf: elapsed, rows: scanned)
            if rest > 0 { Thread.sleep(forTimeInterval: rest / 1000) }
        }
        var details: [String: JSONValue] = ["rows_updated": .int(copiedTotal), "rows_scanned_this_run": .int(scannedThisRun),
                                            "seconds": .double(Date().timeIntervalSince(started))]
        if rescan { details["rescan"] = true }
        try step("record the end of the backfill") {
            try connection.withTransaction {
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .backfilled,
                                                extra: ", backfill_done = true, verified_at = NULL, verified_trigger = NULL") else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during the backfill (another bellows?)")
                }
                try record(connection, plan: plan, command: .backfill, from: state.phase, to: .backfilled, details: details)
            }
        }
        return details
    }

    /// Both triggers in place and firing for every writer, or what is wrong.
    func moveTriggerFailures(_ sql: MoveSQL, connection: Connection) throws -> [GateFailure] {
        let present = try connection.query(sql.verifyTriggers).first?.int("n") ?? 0
        guard present < 2 else { return [] }
        return [GateFailure(gate: "trigger", message: "the trigger \(sql.triggerName) keeping \(sql.move.sourceName) and \(sql.move.targetName) in step is missing or not ENABLE ALWAYS on one of them",
                            remedy: "`bellows rollback \(sql.move.plan.id)` and expand again")]
    }

    func verifyMove(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let move = try columnMove(plan, connection: connection)
        let sql = MoveSQL(move)
        var failures = checksumFailures(plan, state: state)
        failures += try moveTriggerFailures(sql, connection: connection)
        failures += manualGateFailures(plan, before: .verify, connection: connection)
        if !failures.isEmpty { throw refuse(connection, plan: plan, command: .verify, phase: state.phase, failures) }
        var results: [CheckResult] = []
        let keys = move.keyNames.joined(separator: ", ")
        announce(plan, .verify, PhaseStatement(.transaction, "every source row has its counterpart, with equal values", sql.verifyCounterparts))
        let counterparts = try step("compare the source with the new table") {
            try readOnly(connection) { () throws(PostgresError) in
                try connection.execute("SET LOCAL statement_timeout = 0")
                try connection.execute("SET LOCAL row_security = off")
                return try connection.query(sql.verifyCounterparts).first
            }
        }
        if let counterparts {
            let count = try counterparts.int("n"), missing = try counterparts.int("missing")
            let example = try counterparts.stringArray("example").joined(separator: ", ")
            let message = "\(count) row(s) of \(move.sourceName) have no counterpart in \(move.targetName) (\(missing)) or other values in \(move.movedNames.joined(separator: ", ")) (\(count - missing)); "
                + "first key (\(keys)) = (\(example))" + (try counterparts.bool("example_missing") ? ", missing" : ", values differ")
            results.append(CheckResult(name: "counterparts", passed: false, message: message))
            let rescan = "`bellows backfill \(plan.id) --rescan` copies the missing rows from \(move.sourceName) again"
            let remedy = missing == count
                ? "rows of \(move.targetName) were removed around its trigger (a TRUNCATE, a DELETE with the trigger disabled or bellows.backfill set): \(rescan), then verify again"
                : "writes bypassed the triggers (bellows.backfill set by hand, a disabled trigger): correct the rows that differ"
                    + (missing > 0 ? " (\(rescan))" : "") + " and verify again, or roll back and expand again"
            failures.append(GateFailure(gate: "mismatch:counterparts", message: message, remedy: remedy))
        } else {
            results.append(CheckResult(name: "counterparts", passed: true, message: "every row of \(move.sourceName) has its counterpart in \(move.targetName), with equal values"))
        }
        announce(plan, .verify, PhaseStatement(.transaction, "no row of the new table is orphaned", sql.verifyOrphans))
        let orphans = try step("look for orphans in the new table") {
            try readOnly(connection) { () throws(PostgresError) in
                try connection.execute("SET LOCAL statement_timeout = 0")
                try connection.execute("SET LOCAL row_security = off")
                return try connection.query(sql.verifyOrphans).first
            }
        }
        if let orphans {
            let message = "\(try orphans.int("n")) row(s) of \(move.targetName) have no row in \(move.sourceName); first key (\(keys)) = (\(try orphans.stringArray("example").joined(separator: ", ")))"
            results.append(CheckResult(name: "orphans", passed: false, message: message))
            failures.append(GateFailure(gate: "mismatch:orphans", message: message, remedy: "delete them, or roll back and expand again"))
        } else {
            results.append(CheckResult(name: "orphans", passed: true, message: "no row of \(move.targetName) is orphaned"))
        }
        let checks = runChecks(plan, connection: connection)
        results += checks.results
        failures += checks.failures
        let details: [String: JSONValue] = ["checks": .array(results.map(\.json))]
        if !failures.isEmpty {
            if state.phase == .verified {
                _ = try? StateStore.transition(connection, id: plan.id, from: .verified, to: .backfilled, extra: ", verified_at = NULL")
            }
            throw refuse(connection, plan: plan, command: .verify, phase: state.phase, failures, details: details)
        }
        try step("record the verification") {
            try connection.withTransaction {
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .verified, extra: ", verified_at = now()") else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during verify (another bellows?)")
                }
                try record(connection, plan: plan, command: .verify, from: state.phase, to: .verified, details: details)
            }
        }
        return details
    }

    func contractMove(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let move = try columnMove(plan, connection: connection)
        let sql = MoveSQL(move)
        var failures = checksumFailures(plan, state: state)
        failures += try moveTriggerFailures(sql, connection: connection)
        failures += manualGateFailures(plan, before: .contract, connection: connection)
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
        if !failures.isEmpty { throw refuse(connection, plan: plan, command: .contract, phase: state.phase, failures) }
        let details: [String: JSONValue] = ["new_table": .string(move.targetName), "dropped_columns": .array(move.movedNames.map(JSONValue.string))]
        try step("drop the triggers and the moved columns from \(move.sourceName)") {
            try LockSafety.inTransaction(connection, policy: policy(for: plan), table: move.quotedSource, report: report) {
                for statement in sql.contractTransaction {
                    announce(plan, .contract, statement)
                    try connection.execute(statement.sql)
                }
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .contracted) else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during contract (another bellows?)")
                }
                try record(connection, plan: plan, command: .contract, from: state.phase, to: .contracted, details: details)
            }
        }
        return details
    }

    /// A plan on the new table of a move in flight is refused until that move is contracted or
    /// rolled back: the move's triggers write the table by name (a rename made every write to
    /// the source fail and the move's rollback fail 2BP01) and read its columns (a column plan
    /// deadlocked both plans) (hostile-h 25). Found by the move's trigger function on the table.
    func moveTargetFailures(table: String, plan: String, connection: Connection) throws -> [GateFailure] {
        let functions = Set(try connection.query("""
            SELECT p.proname::text AS name FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = to_regclass($1) AND p.pronamespace = to_regnamespace('bellows')
            """, [table]).map { try $0.string("name") })
        guard !functions.isEmpty else { return [] }
        return try connection.query("""
            SELECT id, CASE WHEN expanding THEN 'expanding' ELSE phase END AS phase FROM bellows.plans
            WHERE id <> $1 AND (phase IN ('expanded', 'backfilled', 'verified') OR expanding) ORDER BY id
            """, [plan]).compactMap { row in
                let id = try row.string("id")
                guard functions.contains(TransitionNames.fitted("move_\(id)_from_target")) else { return nil }
                return GateFailure(gate: "conflict",
                                   message: "\(table) is the new table of plan \(id) (\(try row.string("phase"))), whose triggers write it by name and read its columns until it is contracted: "
                                    + "a rename of it would make every write to the move's source fail, a column change would stop both plans",
                                   remedy: "contract or roll back \(id) first")
            }
    }

    /// The publications that send `table` (`regclass` text), with the columns each sends.
    static func publishedColumns(of table: String, connection: Connection) throws -> [String: [String]] {
        let columns = connection.serverVersion >= 150000 ? "pt.attnames::text[]"
            : "ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)"
        var published: [String: [String]] = [:]
        for row in try connection.query("""
            SELECT pt.pubname::text AS name, \(columns) AS columns
            FROM pg_publication_tables pt JOIN pg_class c ON c.oid = to_regclass($1) JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE pt.schemaname = n.nspname AND pt.tablename = c.relname ORDER BY 1
            """, [table]) {
            published[try row.string("name")] = try row.stringArray("columns")
        }
        return published
    }

    /// Expand refuses a move of columns a publication sends: contract drops them from the
    /// source, the new table is in no publication, and subscribers would silently stop
    /// receiving them (hostile-h 08). Pure: `publications` maps each publication of the source
    /// to the columns it sends.
    public static func movePublicationFailures(_ move: ColumnMove, publications: [String: [String]]) -> [GateFailure] {
        let moved = Set(move.movedNames)
        let sending = publications.filter { !moved.isDisjoint(with: $0.value) }.keys.sorted()
        guard !sending.isEmpty else { return [] }
        let sent = move.movedNames.filter { name in sending.contains { publications[$0]?.contains(name) == true } }
        let staying = move.source.columns.map(\.name).filter { !moved.contains($0) }.map(SQLQuote.identifier).joined(separator: ", ")
        return [GateFailure(
            gate: "publication",
            message: "\(move.sourceName) is published by \(sending.joined(separator: ", ")) with the moved column\(sent.count == 1 ? "" : "s") \(sent.joined(separator: ", ")): "
                + "contract drops them from \(move.sourceName) and \(move.targetName) is in no publication, so subscribers would silently stop receiving their new and changed values",
            remedy: "leave the moved columns out of \(sending.count == 1 ? "the publication" : "each publication") (PostgreSQL 15+: ALTER PUBLICATION … SET TABLE \(move.quotedSource) (\(staying))) "
                + "or take \(move.sourceName) out of it, then expand; then create \(move.targetName) on the subscribers, ALTER PUBLICATION … ADD TABLE \(move.quotedTarget) "
                + "and ALTER SUBSCRIPTION … REFRESH PUBLICATION (it copies the table's rows) before contract. A publication FOR ALL TABLES or FOR TABLES IN SCHEMA "
                + "cannot leave them out: move the columns with a migration")]
    }

    func rollbackMove(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let move = try columnMove(plan, connection: connection)
        let statements = MoveSQL(move).rollbackTransaction
        for statement in statements where statement.mode == .standalone {
            announce(plan, .rollback, statement)
            try step(statement.purpose) {
                try LockSafety.standalone(connection, policy: policy(for: plan), statementTimeoutMilliseconds: options.statementTimeoutMilliseconds,
                                          table: move.quotedTarget, report: report, statement.sql)
            }
        }
        try step("drop the triggers and the new table") {
            try LockSafety.inTransaction(connection, policy: policy(for: plan), table: move.quotedSource, report: report) {
                for statement in statements where statement.mode == .transaction {
                    announce(plan, .rollback, statement)
                    try connection.execute(statement.sql)
                }
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .rolledBack, extra: """
                    , expanding = false, backfill_cursor = NULL, backfill_bound = NULL, backfill_rows = 0, backfill_done = false, verified_at = NULL, verified_trigger = NULL, table_info = NULL, search_path = NULL, not_null_shape = NULL
                    """) else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during rollback (another bellows?)")
                }
                let control = try StateStore.clearControl(connection, plan: plan.id)
                try record(connection, plan: plan, command: .rollback, from: state.phase, to: .rolledBack, details: [
                    "dropped_table": .string(move.targetName), "control_cleared": control ?? .null,
                ])
            }
        }
        return ["statements": .int(statements.count)]
    }
}
