import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

extension Engine {
    func expand(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        var transition: Transition
        var kept: [KeptSetting] = []
        if state.expanding {
            // A crash between the DDL transaction and the index builds: resume with what was expanded.
            guard state.expandChecksum == plan.checksum else {
                throw refuse(connection, plan: plan, command: .expand, phase: state.phase, [GateFailure(
                    gate: "checksum", message: "the plan file changed since its interrupted expand",
                    remedy: "restore the file, or `bellows rollback \(plan.id)` and expand again")])
            }
            transition = try self.transition(for: plan, connection: connection, storedOnly: true)
            kept = try keptSettings(transition, connection: connection)
        } else {
            var failures = try dependencyFailures(plan, connection: connection)
            let table = try CatalogReader.table(connection, plan.table.value)
            failures += try conflictFailures(plan, table: table, connection: connection)
            failures += try moveTargetFailures(table: plan.table.value.quoted, plan: plan.id, connection: connection)
            failures += try tableRenameFailures(plan, table: table, connection: connection)
            failures += try referencedPlanFailures(plan, connection: connection)
            failures += manualGateFailures(plan, before: .expand, connection: connection)
            failures += try tableSafetyFailures(table: plan.table.value.quoted, plan: plan, connection: connection)
            failures += ServerVersion.planFailures(plan, serverVersion: connection.serverVersion)
            var compiled = TransitionCompiler.compile(plan, table: table)
            compiled.transition?.notNullShape = NotNullShape.preferred(serverVersion: connection.serverVersion)
            // Only new columns reach subscribers: a plan of table constraints alone adds none (hostile-d 18).
            if let rename = plan.renameTableTo {
                // A table rename changes the name every publication sends the table under (hostile-h 07).
                failures += Self.tableRenamePublicationFailures(table: plan.table.value.quoted, to: rename.value,
                    publications: try Self.publicationsSendingItsName(plan.table.value.quoted, connection: connection))
            } else if compiled.transition.map({ !$0.newTargets.isEmpty }) ?? true {
                failures += try publicationFailures(table: plan.table.value.quoted, connection: connection)
            } else if let renames = compiled.transition?.renamedInPlace, !renames.isEmpty {
                // strategy: views renames in place: the names a publication sends change (hostile-g 01).
                failures += Self.publicationFailures(table: plan.table.value.quoted, renames: renames,
                    publishedWhole: try Self.publications(of: plan.table.value.quoted, wholeOnly: true, connection: connection))
            }
            failures += compiled.findings.filter { $0.severity == .error }.map {
                GateFailure(gate: "plan", message: "\($0.location): \($0.message)", remedy: "fix the plan (rule \($0.rule))")
            }
            if let compiledTransition = compiled.transition {
                failures += try nameFailures(compiledTransition, connection: connection)
                failures += try notValidNotNullFailures(compiledTransition, connection: connection)
                failures += try violatedNotValidFailures(compiledTransition, connection: connection)
                failures += try tablespaceFailures(compiledTransition, connection: connection)
                failures += try privilegeFailures(compiledTransition, connection: connection)
                failures += try Self.replicaIdentityFailures(compiledTransition, connection: connection)
                if compiledTransition.needsTrigger {
                    failures += try triggerOrderFailures(compiledTransition, trigger: PhaseSQL(compiledTransition).triggerName, connection: connection)
                }
            }
            guard failures.isEmpty, let compiledTransition = compiled.transition, let table else {
                throw refuse(connection, plan: plan, command: .expand, phase: state.phase, failures)
            }
            transition = compiledTransition
            transition.searchPath = try sessionSearchPath(connection)
            if transition.allTargets.contains(where: \.addsNotNull) {
                report(.info(transition.notNullShape == .notNull
                    ? "NOT NULL: a NOT VALID NOT NULL constraint (PostgreSQL 18+), validated by verify and kept by contract"
                    : "NOT NULL: a NOT VALID CHECK (column IS NOT NULL), validated by verify; contract sets NOT NULL through it and drops it"))
            }
            try pinSearchPath(transition, connection: connection)
            transition.pinnedValues = try sessionPinnedValues(transition, connection: connection)
            report(.info("names in the plan's expressions resolve under search_path = \(PhaseSQL(transition).searchPath), kept for the trigger and every phase"))
            for item in transition.carried {
                report(.info("depends on a replaced column: \(item.line)"))
            }
            for constraint in transition.constraints {
                report(.info("table constraint: \(constraint.line)"))
            }
            for warning in try triggerBodyWarnings(transition, connection: connection) {
                report(.info("warning: " + warning))
            }
            for warning in compiled.findings where warning.severity != .error {
                report(.info("warning: \(warning.message) [\(warning.rule)]"))
            }
            if let rename = plan.renameTableTo {
                // What the view under the new name cannot do (hostile-h 16).
                report(.info("until contract, \(rename.value) is a view over \(table.name): SELECT, INSERT, UPDATE, DELETE, RETURNING and ON CONFLICT (columns) "
                    + "work through it; COPY … FROM (bulk loads), COPY … TO, TRUNCATE, ON CONFLICT ON CONSTRAINT and DDL do not: the new version uses "
                    + "INSERT … SELECT from a temporary table, COPY (SELECT …) TO, DELETE, ON CONFLICT (columns) until then (docs/plans.md#renaming-a-table-rename_table_to)"))
            }
            let sql = PhaseSQL(transition)
            if sql.needsBackfill {
                let triggers = try triggersTheBackfillFires(transition, connection: connection)
                if !triggers.fired.isEmpty {
                    report(.info("warning: " + Self.backfillFiresMessage(triggers, table: transition.tableName.description)))
                }
            }
            let tableJSON = String(decoding: try JSONEncoder().encode(table), as: UTF8.self)
            let touched = plan.changes.flatMap(\.touchedColumns)
            let columns = PlanColumns(plan, candidates: Set(table.columns.map(\.name)))
            do {
                try step("add the new columns, constraints and dual-write trigger") {
                    try LockSafety.inTransaction(connection, policy: policy(for: plan), table: transition.quotedTable, report: report) {
                        // Two expands on one table take turns from here to their state row's commit,
                        // so the second sees the first's columns (the check above may have run before
                        // the first committed).
                        try connection.execute("SELECT pg_advisory_xact_lock(hashtext('bellows.table'), (to_regclass($1)::oid::bigint - 2147483648)::int)",
                                               [transition.quotedTable])
                        let conflicts = try conflictFailures(plan, table: table, connection: connection)
                        if !conflicts.isEmpty { throw ConflictFound(failures: conflicts) }
                        // The writability proof's writes before the changes (hostile-d 32), under the
                        // lock the changes take anyway: ACCESS EXCLUSIVE to add columns, SHARE ROW
                        // EXCLUSIVE for the trigger alone.
                        let proving = !transition.newTargets.isEmpty || transition.needsTrigger
                        var triggers: [TriggerFunctionSource] = []
                        var before = ProbeRun()
                        if proving {
                            try connection.execute("LOCK TABLE \(transition.quotedTable) IN \(transition.newTargets.isEmpty ? "SHARE ROW EXCLUSIVE" : "ACCESS EXCLUSIVE") MODE")
                            triggers = try TriggerFunctionSource.read(connection, table: transition.quotedTable)
                            before = try probeWrites(transition.quotedTable, deleting: triggers.contains { $0.events.contains(.delete) },
                                                     synthesize: true, connection: connection)
                        }
                        // A contracted plan's new version's schema on this table goes before this
                        // plan changes it: its view would hold the columns this plan drops
                        // (docs/versions.md: applications leave it at the earlier plan's contract).
                        for schema in try Self.leftoverVersionSchemas(on: transition.quotedTable, connection: connection) {
                            let statement = VersionSchemas.drop(schema: schema, "drop the new version's schema a contracted plan left on the table")
                            announce(plan, .expand, statement)
                            try connection.execute(statement.sql)
                        }
                        var probed = false
                        for var statement in sql.expandTransaction {
                            if !probed && statement.sql == sql.triggerFunction {
                                try probeExpressions(plan, sql, connection: connection)
                                probed = true
                                // Read, decide, then make the function: one that keeps no setting
                                // when no expression can depend on one.
                                // The values stay in the plan's state: later phases' sessions still
                                // take them, for the plan's checks.
                                if !sql.pinnedSettings.isEmpty, try settingsDependence(sql, connection: connection) == nil {
                                    var candidate = transition
                                    candidate.settingsIndependent = true
                                    let function = PhaseSQL(candidate).triggerFunction
                                    // Without the settings the body is parsed under the writer's
                                    // standard_conforming_strings: a backslash anywhere in it (a name in
                                    // a message) keeps them (hostile-u 1).
                                    if !function.contains("\\") {
                                        transition = candidate
                                        statement.sql = function
                                    }
                                }
                            }
                            announce(plan, .expand, statement)
                            try connection.execute(statement.sql)
                        }
                        if !probed { try probeExpressions(plan, sql, connection: connection) }
                        try probeIndexes(plan, sql, connection: connection)
                        if proving {
                            let after = try probeWrites(transition.quotedTable, deleting: triggers.contains { $0.events.contains(.delete) },
                                                        synthesize: true, connection: connection)
                            let unwritable = WritabilityProof.failures(table: "\(transition.tableName)", triggers: triggers, before: before, after: after,
                                                                       replaced: [], gone: [], phase: .expand, ignoring: sql.functionName)
                            if !unwritable.isEmpty { throw UnwritableAfterChanges(failures: unwritable) }
                        }
                        let updated = try connection.execute("""
                            UPDATE bellows.plans SET expanding = true, expand_checksum = $2, checksum = $2, table_info = $3,
                                   touched_columns = $4::text[], backfill_cursor = NULL, backfill_bound = NULL, backfill_rows = 0, backfill_done = false,
                                   backfill_started_at = NULL, backfill_rows_at_start = NULL,
                                   verified_at = NULL, verified_trigger = NULL, search_path = $6::text[], updated_at = now(),
                                   referenced_columns = $7::text[], not_null_shape = $8, plan_text = $9, plan_path = $10,
                                   table_name = $11, pinned_settings = $12::text[]
                            WHERE id = $1 AND phase = $5 AND NOT expanding
                            """, [plan.id, plan.checksum, tableJSON, PostgresArray.literal(touched), state.phase.rawValue,
                                  PostgresArray.literal(transition.searchPath ?? []), PostgresArray.literal(columns.referenced.sorted()),
                                  transition.notNullShape.rawValue, plan.source, plan.file, plan.table.value.description,
                                  transition.pinnedValues.map { values in PostgresArray.literal(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }) }])
                        guard updated.affectedRows == 1 else {
                            throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase while expand ran (another bellows?)")
                        }
                    }
                }
                kept = try keptSettings(transition, connection: connection)
                if transition.settingsIndependent {
                    report(.info("up and down compute the same under every session setting (immutable built-in functions, no date, time or money literal): the trigger keeps none; the plan's checks run under this session's"))
                } else if !kept.isEmpty {
                    report(.info("values are computed under " + kept.filter { ["TimeZone", "DateStyle"].contains($0.name) }
                        .map { "\($0.name) = \($0.value)" }.joined(separator: ", ") + " and \(kept.count - 2) more settings, kept for the trigger and every phase (history lists them)"))
                    for setting in kept where setting.chosenByThisSession {
                        report(.info("warning: \(setting.name) = \(setting.value) comes from this connection (\(setting.origin)), not from the server's or the database's configuration; the trigger and every phase keep it, so it decides what up and down compute for every row. If the application's sessions use another value, roll back and expand again with theirs"))
                    }
                }
            } catch let found as ConflictFound {
                throw refuse(connection, plan: plan, command: .expand, phase: state.phase, found.failures)
            } catch let unrunnable as UnrunnableExpression {
                throw refuse(connection, plan: plan, command: .expand, phase: state.phase, unrunnable.failures)
            } catch let unwritable as UnwritableAfterChanges {
                throw refuse(connection, plan: plan, command: .expand, phase: state.phase, unwritable.failures)
            }
        }
        let sql = PhaseSQL(transition)
        for index in sql.addedIndexes {
            try buildIndex(plan, name: index.name, sql: index.sql, transition: transition, connection: connection)
        }
        if !sql.expandAttachments.isEmpty {
            // Resumed: those attached before the interruption are skipped.
            try step("attach the deferrable constraints to their built indexes") {
                try LockSafety.inTransaction(connection, policy: policy(for: plan), table: transition.quotedTable, report: report) {
                    try attachDeferrableConstraints(plan, transition, sql, command: .expand, connection: connection)
                }
            }
        }
        try step("record the expand") {
            try connection.withTransaction {
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .expanded, extra: ", expanding = false") else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase while expand ran (another bellows?)")
                }
                try record(connection, plan: plan, command: .expand, from: state.phase, to: .expanded, details: [
                    "columns": .array(transition.newTargets.map { .string($0.physical) }),
                    "trigger": transition.needsTrigger ? .string(sql.triggerName) : .null,
                    "indexes": .array(sql.addedIndexes.map { .string($0.name) }),
                    "constraints": .array(sql.addedConstraints.map(JSONValue.string)),
                    "resumed": .bool(state.expanding),
                    "settings": .object(Dictionary(uniqueKeysWithValues: kept.map { ($0.name, JSONValue.string($0.value)) })),
                ])
            }
        }
        return ["columns": .array(transition.newTargets.map { .string($0.physical) }),
                "indexes": .array(sql.addedIndexes.map { .string($0.name) })]
    }

    /// Runs `sql.expressionProbes` in expand's transaction (the new columns added, the pinned
    /// search_path in force): an `up` or `down` that cannot run (a misspelt function, one not
    /// on the path) would make every write to the table fail once the trigger exists. Throws
    /// `UnrunnableExpression`, which rolls the transaction back. With a trigger, every role that
    /// may write the table must be able to use what each expression uses (`WriterPrivileges`).
    func probeExpressions(_ plan: Plan, _ sql: PhaseSQL, connection: Connection) throws {
        var refused: [GateFailure] = []
        for probe in sql.expressionProbes {
            var failed: PostgresError? = nil
            do {
                _ = try connection.query(probe.sql)
            } catch let error as PostgresError {
                failed = error
            }
            guard let error = failed else {
                if sql.transition.needsTrigger, let failure = try writerPrivilegeFailure(plan, sql, probe, connection: connection) {
                    refused.append(failure)
                }
                continue
            }
            if error.kind == .connection { throw error }
            throw UnrunnableExpression(failures: [Self.unrunnable(plan, probe, error, searchPath: sql.searchPath)])
        }
        if !refused.isEmpty { throw UnrunnableExpression(failures: refused) }
        // Each default contract sets, set now and undone at once: one that does not fit the
        // column's type refuses expand (the transaction is rolled back) instead of failing contract.
        for probe in sql.defaultProbes {
            try connection.execute("SAVEPOINT bellows_default_probe")
            do {
                try connection.execute(probe.sql)
            } catch {
                if error.kind == .connection { throw error }
                throw UnrunnableExpression(failures: [Self.unrunnable(plan, probe, error, searchPath: sql.searchPath)])
            }
            try connection.execute("ROLLBACK TO SAVEPOINT bellows_default_probe")
            try connection.execute("RELEASE SAVEPOINT bellows_default_probe")
        }
    }

    /// Builds each index expand builds concurrently after its commit, plainly, on an empty copy
    /// of the table (the new columns added) in a savepoint rolled back at once
    /// (`PhaseSQL.indexProbes`): one whose expression or predicate does not fit the new column's
    /// type (`WHERE status = 'open'::the_enum` once `status` is `text`, 42883) refuses expand
    /// before anything is committed — it failed after the commit, and "run expand again" failed
    /// the same way for ever (hostile-f 06). Throws `UnrunnableExpression`. When the copy cannot
    /// be made (no TEMP privilege) the probe is skipped.
    func probeIndexes(_ plan: Plan, _ sql: PhaseSQL, connection: Connection) throws {
        let probes = sql.indexProbes
        guard !probes.isEmpty else { return }
        try connection.execute("SAVEPOINT bellows_index_probe")
        do {
            try connection.execute("CREATE TEMP TABLE \(PhaseSQL.indexProbeTable.split(separator: ".").last ?? "bellows_index_probe") (LIKE \(sql.transition.quotedTable))")
        } catch {
            if error.kind == .connection { throw error }
            try connection.execute("ROLLBACK TO SAVEPOINT bellows_index_probe")
            try connection.execute("RELEASE SAVEPOINT bellows_index_probe")
            return
        }
        var failures: [GateFailure] = []
        for probe in probes {
            try connection.execute("SAVEPOINT bellows_index_build")
            do {
                try connection.execute(probe.sql)
                try connection.execute("RELEASE SAVEPOINT bellows_index_build")
            } catch {
                if error.kind == .connection { throw error }
                try connection.execute("ROLLBACK TO SAVEPOINT bellows_index_build")
                try connection.execute("RELEASE SAVEPOINT bellows_index_build")
                if let failure = Self.unbuildableIndex(plan, index: probe.index, error) { failures.append(failure) }
            }
        }
        try connection.execute("ROLLBACK TO SAVEPOINT bellows_index_probe")
        try connection.execute("RELEASE SAVEPOINT bellows_index_probe")
        if !failures.isEmpty { throw UnrunnableExpression(failures: failures) }
    }

    /// The refusal for an index whose probe build failed by its definition (SQLSTATE class 42
    /// but a privilege, 22, 0A); nil for another error (the concurrent build reports it). Pure.
    static func unbuildableIndex(_ plan: Plan, index: String, _ error: PostgresError) -> GateFailure? {
        let code = error.sqlState?.rawValue ?? ""
        guard (code.hasPrefix("42") && code != "42501") || code.hasPrefix("22") || code.hasPrefix("0A") else { return nil }
        let detail = error.detail.map { " (\($0))" } ?? ""
        return GateFailure(gate: "index",
                           message: "\(plan.table.location): index \(index) cannot be built over the new column: ERROR \(code): \(error.message)\(detail)"
                            + " — its expression or predicate does not fit the new column's type; expand would commit the new column and trigger, then fail building it",
                           remedy: "nothing was changed; drop the index with a migration before expand and create it again after contract, its expression or predicate written for the new type (`WHERE status = 'open'` over text, not `'open'::the_enum`)")
    }

    /// Why the plan's `up` and `down` may compute differently under another session's settings,
    /// or `nil` when they cannot (`SettingsIndependence`): each probe is compiled into a view in
    /// a savepoint rolled back at once, and its stored tree read with what the catalog says of
    /// the functions it calls. Anything unexpected (no view could be made) keeps the settings.
    func settingsDependence(_ sql: PhaseSQL, connection: Connection) throws -> String? {
        let view = SQLQuote.qualified(schema: "bellows", name: TransitionNames.transitional("settings_probe_\(sql.transition.plan.id)"))
        try connection.execute("SAVEPOINT bellows_settings_probe")
        defer {
            _ = try? connection.execute("ROLLBACK TO SAVEPOINT bellows_settings_probe")
            _ = try? connection.execute("RELEASE SAVEPOINT bellows_settings_probe")
        }
        do {
            // `x = NULL` in any spelling then compiles to a comparison with a NULL literal.
            try connection.execute("SET LOCAL transform_null_equals = off")
            for probe in sql.expressionProbes {
                try connection.execute("CREATE VIEW \(view) (bellows_value) AS \(probe.alone)")
                let tree = try connection.query("SELECT ev_action::text AS tree FROM pg_rewrite WHERE ev_class = $1::regclass", [view]).first?.string("tree") ?? ""
                try connection.execute("DROP VIEW \(view)")
                var facts = SettingsIndependence.scan(tree)
                let oids = { (set: Set<UInt32>) in PostgresArray.literal(set.sorted().map(String.init)) }
                for row in try connection.query("SELECT oprcode::oid::bigint AS oid FROM pg_operator WHERE oid = ANY($1::oid[])", [oids(facts.operators)]) {
                    facts.functions.insert(UInt32(try row.int("oid")))
                }
                let functions = try connection.query("""
                    SELECT p.oid::bigint AS oid, p.provolatile::text AS volatility, l.lanname::text AS language, p.proname::text AS name,
                           EXISTS (SELECT 1 FROM pg_type t WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend)) AS io
                    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = ANY($1::oid[])
                    """, [oids(facts.functions)]).map {
                    SettingsIndependence.FunctionFacts(oid: UInt32(try $0.int("oid")), volatility: try $0.string("volatility"),
                                                      typeIO: try $0.bool("io"), language: try $0.string("language"), name: try $0.string("name"))
                }
                if let reason = SettingsIndependence.dependence(facts, functions: functions, text: probe.sql) {
                    return "the \(probe.key) expression for column \(probe.column): \(reason)"
                }
            }
            return nil
        } catch let error as PostgresError {
            if error.kind == .connection { throw error }
            return "its view could not be read: \(error.message)"
        }
    }

    /// What `probe`'s expression uses that a role able to write the table may not, read from a
    /// view compiled from the probe in a savepoint that is rolled back at once.
    func writerPrivilegeFailure(_ plan: Plan, _ sql: PhaseSQL, _ probe: PhaseSQL.ExpressionProbe, connection: Connection) throws -> GateFailure? {
        let view = SQLQuote.qualified(schema: "bellows", name: TransitionNames.transitional("probe_\(plan.id)"))
        let location = Self.location(of: probe, in: plan)
        let expression = "\(probe.key) expression for column \(probe.column)"
        try connection.execute("SAVEPOINT bellows_writer_privileges")
        do {
            try connection.execute("CREATE VIEW \(view) (bellows_value) AS \(probe.sql)")
            let missing = try WriterPrivileges.missing(connection, view: view, table: sql.transition.quotedTable)
            try connection.execute("ROLLBACK TO SAVEPOINT bellows_writer_privileges")
            try connection.execute("RELEASE SAVEPOINT bellows_writer_privileges")
            return WriterPrivileges.failure(missing, expression: expression, location: location, table: sql.transition.tableName.description)
        } catch let error as PostgresError {
            if error.kind == .connection { throw error }
            try connection.execute("ROLLBACK TO SAVEPOINT bellows_writer_privileges")
            try connection.execute("RELEASE SAVEPOINT bellows_writer_privileges")
            return GateFailure(gate: "writer-privileges",
                               message: "\(location): could not list what the \(expression) uses, to check that every writer of the table may use it: \(error.message)",
                               remedy: "report this; nothing was changed")
        }
    }

    /// Where `probe`'s expression is in the plan file.
    static func location(of probe: PhaseSQL.ExpressionProbe, in plan: Plan) -> SourceLocation {
        guard plan.changes.indices.contains(probe.changeIndex) else { return plan.table.location }
        var one = plan
        one.changes = [plan.changes[probe.changeIndex]]
        one.checks = []
        let keys = probe.key == "up" ? ["up", "backfill"] : [probe.key]
        return PlanValidator.expressions(of: one).first(where: { keys.contains($0.key) })?.value.location ?? one.changes[0].location
    }

    /// The refusal for a probe that failed, at its expression's place in the plan file.
    static func unrunnable(_ plan: Plan, _ probe: PhaseSQL.ExpressionProbe, _ error: PostgresError, searchPath: String) -> GateFailure {
        let location = Self.location(of: probe, in: plan)
        let code = error.sqlState.map { " [\($0.rawValue)]" } ?? ""
        let detail = error.detail.map { " (\($0))" } ?? ""
        let hint = error.hint.map { $0 + "; " } ?? ""
        return GateFailure(
            gate: "expression",
            message: "\(location): the \(probe.key) expression for column \(probe.column) cannot run\(code): \(error.message)\(detail)",
            remedy: hint + "fix the plan's expression (names resolve in the search_path \(searchPath)); nothing was changed")
    }

    /// Builds an index concurrently; an INVALID one left by a crash or a failed build is dropped first.
    func buildIndex(_ plan: Plan, name: String, sql: String, transition: Transition, connection: Connection) throws {
        let qualified = SQLQuote.qualified(schema: transition.table.schema, name: name)
        try step("build index \(name)") {
            let existing = try connection.query("""
                SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)
                """, [qualified]).first
            if let existing, try existing.bool("valid") { return }
            if existing != nil {
                report(.info("index \(name) is INVALID (a build was interrupted): dropping and rebuilding it"))
                try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(qualified)")
            }
            announce(plan, .expand, PhaseStatement(.standalone, "build an index without blocking writes", sql))
            try connection.execute("SET statement_timeout = \(options.indexTimeoutMilliseconds)")
            defer { _ = try? connection.execute("RESET statement_timeout") }
            // A build waits for every transaction older than it, on any table: say which, as it waits.
            let monitor = IndexWaitMonitor(conninfo: options.conninfo, pid: connection.backendPID, index: name,
                                           interval: options.indexWaitReportSeconds, report: report)
            do throws(PostgresError) {
                try connection.execute(sql)
                monitor.finish()
            } catch {
                monitor.finish()
                // Stopped or cut off: the INVALID index stays for the resumed expand to rebuild.
                if options.shouldStop() || !connection.isOpen { throw error }
                _ = try? connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(qualified)")
                var failure = error
                if error.sqlState == .queryCanceled, !monitor.lastBlockers.isEmpty {
                    failure.message += " (the index timeout of \(options.indexTimeoutMilliseconds) ms ran out while the build waited for "
                        + monitor.lastBlockers.map(\.description).joined(separator: "; ") + ")"
                    failure.hint = "end or wait out that transaction, then run `bellows expand \(plan.id)` again (it resumes the index builds)"
                }
                throw failure
            }
        }
    }

    /// The names the transition's indexes and constraints take at contract, already taken in
    /// the schema (an index) or the table (a constraint): found now rather than when contract fails.
    /// A NOT NULL constraint (PostgreSQL 18) of a column contract drops frees its name.
    func nameFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        let names = PhaseSQL(transition).finalNames
        guard !names.isEmpty else { return [] }
        let relations = names.filter(\.relation).map(\.name), constraints = names.filter { !$0.relation }.map(\.name)
        let taken = try connection.query("""
            SELECT 'relation' AS kind, c.relname AS name, c.relkind::text AS detail FROM pg_class c
            WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = $1) AND c.relname = ANY ($2::text[])
            UNION ALL
            SELECT 'constraint', k.conname, NULL FROM pg_constraint k WHERE k.conrelid = to_regclass($3) AND k.conname = ANY ($4::text[])
              AND NOT (k.contype = 'n' AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                                                                               AND a.attname = ANY ($5::text[])))
            ORDER BY 1, 2
            """, [transition.table.schema, PostgresArray.literal(relations), transition.quotedTable, PostgresArray.literal(constraints),
                  PostgresArray.literal(transition.droppedColumns)])
        return try taken.map { row in
            let name = try row.string("name")
            let what = try row.string("kind") == "relation" ? "a relation of schema \(transition.table.schema)" : "a constraint of \(transition.tableName)"
            return GateFailure(gate: "name", message: "contract would name an index or constraint \"\(name)\", which is already \(what)",
                               remedy: "rename or drop that object first (index names are unique per schema)")
        }
    }

    /// PostgreSQL 18: a column that already has a NOT VALID NOT NULL constraint cannot get a
    /// second one (expand would fail), and `SET NOT NULL` validates it by scanning the table under
    /// ACCESS EXCLUSIVE whatever validated CHECK exists: it is validated or dropped first.
    func notValidNotNullFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        let columns = transition.allTargets.filter { $0.addsNotNull && $0.existing }.map(\.physical)
        guard !columns.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT k.conname, a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            WHERE k.conrelid = to_regclass($1) AND k.contype = 'n' AND NOT k.convalidated AND a.attname = ANY ($2::text[])
            ORDER BY 2
            """, [transition.quotedTable, PostgresArray.literal(columns)])
        return try rows.map { row in
            let name = try row.string("conname"), column = try row.string("attname")
            return GateFailure(
                gate: "not-null",
                message: "column \(column) of \(transition.tableName) already has a NOT VALID NOT NULL constraint \(name): making it NOT NULL would validate that constraint by scanning the table under an ACCESS EXCLUSIVE lock",
                remedy: "validate it first (`ALTER TABLE \(transition.quotedTable) VALIDATE CONSTRAINT \(SQLQuote.identifier(name))` does not block writes) or drop it, then expand again")
        }
    }

    /// A NOT VALID CHECK (or, PostgreSQL 18, NOT VALID NOT NULL constraint) of the table that
    /// rows violate: PostgreSQL checks every new version of a row against it, so the backfill,
    /// which writes a new version of every row, would fail on each batch holding one of them,
    /// whatever column it fills (hostile-c 11, hostile-d 11). Found now, by one read per such
    /// constraint that stops at the first violating row. Another plan's own (`_bellows_…`, NOT
    /// NULL of a column its backfill has yet to fill) is left out: its trigger computes the
    /// column for every row this backfill writes. So is a NOT ENFORCED CHECK (PostgreSQL 18),
    /// which checks nothing.
    func violatedNotValidFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        guard PhaseSQL(transition).needsBackfill else { return [] }
        let enforced = connection.serverVersion >= 180_000 ? " AND k.conenforced" : ""
        let checks = try connection.query("""
            SELECT k.conname AS name, pg_get_expr(k.conbin, k.conrelid) AS expression,
                   'CHECK (' || pg_get_expr(k.conbin, k.conrelid) || ')' AS definition FROM pg_constraint k
            WHERE k.conrelid = to_regclass($1) AND k.contype = 'c' AND NOT k.convalidated\(enforced) AND left(k.conname, length($2)) <> $2
            UNION ALL
            SELECT k.conname, quote_ident(a.attname) || ' IS NOT NULL', 'NOT NULL ' || quote_ident(a.attname)
            FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            WHERE k.conrelid = to_regclass($1) AND k.contype = 'n' AND NOT k.convalidated AND left(k.conname, length($2)) <> $2
            ORDER BY 1
            """, [transition.quotedTable, TransitionNames.reservedPrefix])
        var failures: [GateFailure] = []
        for check in checks {
            let name = try check.string("name"), expression = try check.string("expression"), definition = try check.string("definition")
            let violated = try readOnly(connection) { () throws(PostgresError) in
                try connection.execute("SET LOCAL statement_timeout = 0")
                try connection.execute("SET LOCAL row_security = off")
                return try connection.query("SELECT EXISTS (SELECT 1 FROM \(transition.quotedTable) WHERE NOT (\(expression))) AS violated").first?.bool("violated") ?? false
            }
            guard violated else { continue }
            failures.append(GateFailure(
                gate: "not-valid-constraint",
                message: "rows of \(transition.tableName) violate its NOT VALID constraint \(name) (\(definition)): PostgreSQL refuses every new version of such a row, so the backfill, which writes one for every row, would fail on each batch holding one",
                remedy: "fix those rows (`SELECT * FROM \(transition.quotedTable) WHERE NOT (\(expression))`) and validate it, or drop the constraint with a migration and add it again NOT VALID after contract; nothing was changed"))
        }
        return failures
    }

    /// A recreated index in a tablespace of its own is built there: Bellows' role must be
    /// allowed to (found now, not when the build fails after expand's transaction).
    func tablespaceFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        let tablespaces = Set(transition.recreatedIndexes.compactMap { transition.table.details?.indexTablespaces?[$0.original] })
        return try tablespaces.sorted().compactMap { tablespace in
            guard try connection.query("SELECT has_tablespace_privilege($1, 'CREATE') AS ok", [tablespace]).first?.bool("ok") == false else { return nil }
            return GateFailure(gate: "tablespace", message: "an index this plan recreates lives in tablespace \(tablespace), where Bellows' role may not create one",
                               remedy: "GRANT CREATE ON TABLESPACE \(SQLQuote.identifier(tablespace)) to the role, or move the index with a migration first")
        }
    }

    /// What expand's statements need of Bellows' role, found before any change (hostile-d 16:
    /// a table owner without CREATE on the table's schema got the column and the trigger
    /// committed, then every index build failed 42501): ownership of the table (ALTER TABLE,
    /// CREATE TRIGGER) and, when an index is built, CREATE on the table's schema, where
    /// PostgreSQL puts it.
    func privilegeFailures(_ transition: Transition, connection: Connection) throws -> [GateFailure] {
        guard let row = try connection.query("""
            SELECT current_user AS role, pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
                   has_schema_privilege(current_user, c.relnamespace, 'CREATE') AS creates,
                   has_database_privilege(current_database(), 'CREATE') AS creates_schemas, current_database() AS database
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [transition.quotedTable]).first else { return [] }
        let role = try row.string("role"), owner = try row.string("owner")
        var failures: [GateFailure] = []
        if try !row.bool("owns") {
            failures.append(GateFailure(
                gate: "privilege",
                message: "Bellows' role \(role) does not own \(transition.tableName) (its owner is \(owner)): adding columns and the dual-write trigger needs the owner's privileges",
                remedy: "run Bellows as \(owner), or `GRANT \(SQLQuote.identifier(owner)) TO \(SQLQuote.identifier(role))`; nothing was changed"))
        }
        if try !row.bool("creates"), !PhaseSQL(transition).addedIndexes.isEmpty {
            failures.append(GateFailure(
                gate: "privilege",
                message: "Bellows' role \(role) may not create in schema \(transition.table.schema): the plan builds indexes on \(transition.tableName), which PostgreSQL creates in the table's schema",
                remedy: "`GRANT CREATE ON SCHEMA \(SQLQuote.identifier(transition.table.schema)) TO \(SQLQuote.identifier(role))` (docs/operations.md lists what Bellows needs); nothing was changed"))
        }
        if try !row.bool("creates_schemas"), transition.plan.versionedSchemas {
            // hostile-g 03: a bare 42501 at the end of expand's transaction, before.
            failures.append(GateFailure(
                gate: "privilege",
                message: "Bellows' role \(role) may not create schemas in database \(try row.string("database")): the plan's versioned schemas (versioned_schemas or strategy: views) are two new schemas of views",
                remedy: "`GRANT CREATE ON DATABASE \(SQLQuote.identifier(try row.string("database"))) TO \(SQLQuote.identifier(role))` (docs/operations.md lists what Bellows needs); nothing was changed"))
        }
        return failures
    }

    /// Plans this one depends on must be contracted; migrations must be applied.
    func dependencyFailures(_ plan: Plan, connection: Connection) throws -> [GateFailure] {
        let baselineApplied = try connection.query("SELECT 1 FROM bellows.migrations WHERE name = $1", [MigrationRunner.baselineName]).first != nil
        let applied = plan.dependsOn.migrations.isEmpty ? []
            : Set(try connection.query("SELECT name FROM bellows.migrations").map { try $0.string("name") })
        return dependencyFailures(plan, states: try StateStore.allPlans(connection), appliedMigrations: applied, baselineApplied: baselineApplied)
    }

    /// The dependency decision over what was read: the plans' states, the applied migrations,
    /// and whether the ledger records the baseline.
    func dependencyFailures(_ plan: Plan, states: [PlanState], appliedMigrations applied: Set<String>, baselineApplied: Bool) -> [GateFailure] {
        var failures: [GateFailure] = []
        let planFiles = project.planFiles().map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        for dependency in plan.dependsOn.plans {
            guard let id = Self.match(dependency.value, in: planFiles) else {
                failures.append(GateFailure(gate: "dependency", message: "\(dependency.location): plan \(dependency.value) does not exist"))
                continue
            }
            let phase = states.first { $0.id == id }?.phase ?? .planned
            // A plan the applied baseline holds (contracted before it was captured) is contracted here too.
            if phase == .planned, baselineApplied, project.contractedBeforeBaseline().contains(id) {
                continue
            }
            if phase != .contracted {
                failures.append(GateFailure(gate: "dependency", message: "plan \(id) must be contracted first; it is \(phase.rawValue)",
                                            remedy: "`bellows advance \(id) --through contract`"))
            }
        }
        if !plan.dependsOn.migrations.isEmpty {
            let files = project.migrationFiles().map(\.name)
            for dependency in plan.dependsOn.migrations {
                let id = Self.match(dependency.value, in: files) ?? dependency.value
                if !applied.contains(id) {
                    failures.append(GateFailure(gate: "dependency", message: "migration \(id) is not applied",
                                                remedy: "`bellows migrate` applies pending migrations"))
                }
            }
        }
        return failures
    }

    /// Another plan in progress on the same table (the very table: its schema and name as the
    /// catalog has them, stored at the other's expand) blocks this one when either changes a
    /// column the other changes or whose expressions read it.
    func conflictFailures(_ plan: Plan, table: TableInfo?, connection: Connection) throws -> [GateFailure] {
        guard let table else { return [] }
        let rows = try connection.query("""
            SELECT id, phase, expanding, table_name, table_info, touched_columns, coalesce(referenced_columns, '{}') AS referenced_columns
            FROM bellows.plans
            WHERE id <> $1 AND (phase IN ('expanded', 'backfilled', 'verified') OR expanding)
            ORDER BY id
            """, [plan.id])
        let names = Set(table.columns.map(\.name))
        return try rows.flatMap { row -> [GateFailure] in
            let id = try row.string("id")
            let sameTable: Bool
            if let json = try row.optionalString("table_info"), let data = json.data(using: .utf8),
               let info = try? JSONDecoder().decode(TableInfo.self, from: data) {
                sameTable = info.schema == table.schema && info.name == table.name
            } else {
                sameTable = Self.sameTable(try row.string("table_name"), TableName(schema: table.schema, name: table.name))
            }
            guard sameTable else { return [] }
            let other = PlanColumns(touched: Set(try row.stringArray("touched_columns")), referenced: Set(try row.stringArray("referenced_columns")))
            let mine = PlanColumns(plan, candidates: names.union(other.touched))
            let phase = try row.bool("expanding") ? "expanding" : try row.string("phase")
            var reasons = mine.conflicts(with: other)
            let shared = PlanColumns.sharedObjects(in: table, mine.touched, other.touched)
            if !shared.isEmpty {
                reasons.append("changes a column that shares \(shared.joined(separator: ", ")) with a column this plan changes: each plan rebuilds it over its own new column, and the first contract would drop the other's copy")
            }
            return reasons.map { reason in
                GateFailure(gate: "conflict", message: "plan \(id) is \(phase) on \(table.schema).\(table.name) and \(reason)",
                            remedy: "contract or roll back \(id) first")
            }
        }
    }

    /// The tables and columns the plan's new foreign keys reference (`references:` of a column,
    /// `add_foreign_key`).
    static func referencedColumns(_ plan: Plan) -> [(table: TableName, columns: [String])] {
        var list: [(table: TableName, columns: [String])] = []
        func add(_ attributes: ColumnAttributes) {
            if let r = attributes.references { list.append((r.tableName, [r.column.value])) }
        }
        for change in plan.changes {
            switch change {
            case .alter(let c): add(c.attributes)
            case .add(let c): add(c.attributes)
            case .split(let c): c.into.forEach { add($0.attributes) }
            case .merge(let c): add(c.attributes)
            case .drop: break
            }
        }
        for change in plan.constraintChanges {
            if case .foreignKey(_, let references, _, _) = change { list.append((references.tableName, references.columns.map(\.value))) }
        }
        return list
    }

    /// A foreign key to a column of another table that a plan in flight there changes or
    /// creates (hostile-d 44): the key would depend on that plan's transitional index, so its
    /// rollback would fail (2BP01) and its contract would swap the index under the key.
    /// Refused until that plan is contracted or rolled back.
    func referencedPlanFailures(_ plan: Plan, connection: Connection) throws -> [GateFailure] {
        let referenced = Self.referencedColumns(plan).filter { !Self.sameTable($0.table.description, plan.table.value) }
        guard !referenced.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT id, phase, expanding, table_name, touched_columns FROM bellows.plans
            WHERE id <> $1 AND (phase IN ('expanded', 'backfilled', 'verified') OR expanding)
            ORDER BY id
            """, [plan.id])
        var failures: [GateFailure] = []
        for row in rows {
            let id = try row.string("id"), table = try row.string("table_name")
            let touched = Set(try row.stringArray("touched_columns"))
            let phase = try row.bool("expanding") ? "expanding" : try row.string("phase")
            for reference in referenced {
                guard let same = try connection.query("SELECT to_regclass($1) = to_regclass($2) AS same",
                                                       [reference.table.quoted, TableName(parsing: table)?.quoted ?? table]).first?.optionalBool("same"),
                      same else { continue }
                let columns = reference.columns.filter(touched.contains)
                guard !columns.isEmpty else { continue }
                failures.append(GateFailure(
                    gate: "conflict",
                    message: "plan \(id) is \(phase) on \(table) and changes \(columns.joined(separator: ", ")), which a foreign key of this plan references: the key would depend on \(id)'s transitional index, and \(id)'s rollback would fail",
                    remedy: "contract or roll back \(id) first"))
            }
        }
        return failures
    }

    /// Manual gates before `command` not yet confirmed (by `--confirm` or a recorded approval).
    /// `connection` nil: a database without Bellows' state, so without approvals.
    func manualGateFailures(_ plan: Plan, before command: PhaseCommand, connection: Connection?) -> [GateFailure] {
        let gates = plan.gates(before: command)
        guard !gates.isEmpty else { return [] }
        let approved = connection.flatMap { try? StateStore.approvals($0, plan: plan) } ?? []
        return gates.filter { !options.confirmations.contains($0.name.value) && !approved.contains($0.name.value) }.map { gate in
            GateFailure(gate: "gate:\(gate.name.value)",
                        message: "manual gate \"\(gate.name.value)\" is not confirmed" + (gate.description.map { ": \($0)" } ?? ""),
                        remedy: "confirm it with `bellows \(command.rawValue) \(plan.id) --confirm \(gate.name.value)` or `bellows approve \(plan.id) \(gate.name.value)`")
        }
    }

    /// `users` and `public.users` name the same table.
    static func sameTable(_ stored: String, _ table: TableName) -> Bool {
        guard let other = TableName(parsing: stored) else { return stored == table.description }
        return other.name == table.name && other.effectiveSchema == table.effectiveSchema
    }

    /// Matches `001` or `001_name` against file stems.
    static func match(_ reference: String, in stems: [String]) -> String? {
        if stems.contains(reference) { return reference }
        if let number = Int(reference) {
            return stems.first { PlanNaming.sequenceNumber(of: $0) == number }
        }
        return nil
    }
}

/// Another plan's expand committed first: this one's transaction is rolled back and refused.
struct ConflictFound: Error {
    var failures: [GateFailure]
}

/// An `up` or `down` of the plan fails parse analysis against the table (see `probeExpressions`).
/// Or uses what a role able to write the table may not (see `writerPrivilegeFailure`).
struct UnrunnableExpression: Error {
    var failures: [GateFailure]
}
