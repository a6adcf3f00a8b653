import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Contract found the dual-write trigger's `pg_trigger` row other than verify recorded it.
struct TriggerChangedSinceVerify: Error {
    var verified: String?
    var now: String?
}

/// The table refused a write once contract's (or expand's) DDL had run (a trigger function
/// reading a dropped or renamed column, one copying `NEW.*` into a table of the old width), or has
/// a trigger the proof's writes cannot reach whose source names one (`WritabilityProof`): the
/// phase's transaction is rolled back.
struct UnwritableAfterChanges: Error {
    var failures: [GateFailure]
}

/// A table trigger fires after the dual-write trigger, found under contract's lock (hostile-d 22).
struct TriggerOrderRefused: Error {
    var failures: [GateFailure]
}

/// Something was added to a column contract drops after expand recorded the table (`ContractDrift`).
struct AddedSinceExpand: Error {
    var items: [String]
}

extension Engine {
    func contract(_ plan: Plan, state: PlanState, connection: Connection) throws -> [String: JSONValue] {
        let transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        let sql = PhaseSQL(transition)
        if state.phase == .contracted { return try finishValidations(plan, state: state, transition: transition, connection: connection) }
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
        failures += try tableSafetyFailures(table: transition.quotedTable, plan: plan, connection: connection)
        if let rename = plan.renameTableTo {
            // A publication made since expand sends the table by the name contract changes (hostile-h 07).
            failures += Self.tableRenamePublicationFailures(table: transition.quotedTable, to: rename.value,
                publications: try Self.publicationsSendingItsName(transition.quotedTable, connection: connection))
        }
        if transition.needsTrigger {
            failures += try triggerOrderFailures(transition, trigger: try dualWriteTrigger(sql, transition: transition, connection: connection), connection: connection)
        }
        if transition.needsTrigger && state.verifiedAt != nil && state.verifiedTrigger == nil {
            failures.append(triggerSinceVerify(plan, "the verification did not record the dual-write trigger"))
        }
        failures += manualGateFailures(plan, before: .contract, connection: connection)
        if failures.isEmpty {
            failures += runChecks(plan, connection: connection).failures
        }
        // What contract drops is kept in bellows_archive first (issue 24), unless turned off.
        let archive = try archiveOfDroppedColumns(transition, connection: connection)
        let archiving = !archive.isEmpty && ArchiveSQL.enabled(plan: plan, projectDefault: archiveSettings.archive)
        if archiving { failures += try archiveFailures(archive, plan: plan, connection: connection) }
        guard failures.isEmpty else { throw refuse(connection, plan: plan, command: .contract, phase: state.phase, failures) }

        var statements = sql.contract
        var committed = false
        // An archive contract did not complete is removed (its trigger would slow every write).
        defer { if archiving && !committed { abandonArchive(archive, connection: connection) } }
        // The schemas names in values kept as text are printed under (hostile-x 1, y 1).
        let printedUnder = archiving && !archive.keptAsText.isEmpty ? try Self.usableSchemas(connection) : nil
        if archiving {
            _ = try fillArchive(plan, archive, connection: connection)
            let unproven = try archiveProofFailures(plan, archive, connection: connection)
            if !unproven.isEmpty { throw refuse(connection, plan: plan, command: .contract, phase: state.phase, unproven) }
        }
        // `rename_table_to`: the table's name after the changes (the writes after them go there).
        let finalTable = plan.renameTableTo.map { SQLQuote.qualified(schema: transition.table.schema, name: $0.value) } ?? transition.quotedTable
        var renamedObjects: [TableRename.Rename] = []
        do {
            try step("contract in one transaction") {
                try LockSafety.inTransaction(connection, policy: policy(for: plan), table: transition.quotedTable, report: report) {
                    try carryColumnPrivileges(plan, transition, sql, connection: connection)
                    // The same writes before contract's changes: one that fails already (a trigger
                    // refusing deletes) shows nothing about them.
                    // `rename_table_to`: the view first (LOCK on a view locks the table too, after it).
                    // A writer using the view holds it while it waits for the table: locking the
                    // table first and then dropping the view would deadlock with it.
                    if let rename = plan.renameTableTo,
                       try connection.query("SELECT to_regclass($1) IS NOT NULL AS present",
                                            [SQLQuote.qualified(schema: transition.table.schema, name: rename.value)]).first?.bool("present") == true {
                        try connection.execute("LOCK TABLE \(SQLQuote.qualified(schema: transition.table.schema, name: rename.value)) IN ACCESS EXCLUSIVE MODE")
                    }
                    try connection.execute("LOCK TABLE \(transition.quotedTable) IN ACCESS EXCLUSIVE MODE")
                    // Under the lock no write can change the archive any more: it is final.
                    if archiving { try completeArchive(plan, archive, printedUnder: printedUnder, connection: connection) }
                    // Under the lock, so no migration can add one between this look and the drop.
                    if !transition.droppedColumns.isEmpty, let stored = try StateStore.storedTable(connection, id: plan.id),
                       let live = try CatalogReader.table(connection, transition.tableName) {
                        let added = ContractDrift.addedOnDroppedColumns(stored: stored, live: live, dropped: transition.droppedColumns)
                        if !added.isEmpty { throw AddedSinceExpand(items: added) }
                    }
                    let triggers = try TriggerFunctionSource.read(connection, table: transition.quotedTable)
                    let deleting = triggers.contains { $0.events.contains(.delete) }
                    // An empty table gets a made-up row (hostile-d 43: with no row the proof proved nothing).
                    let before = try probeWrites(transition.quotedTable, deleting: deleting, synthesize: true, filtered: plan.renamesTableOnly, connection: connection)
                    try attachDeferrableConstraints(plan, transition, sql, command: .contract, connection: connection)
                    // `rename_table_to`: what embeds the old name, read under the lock (`TableRename`).
                    if let rename = plan.renameTableTo {
                        let live = try Self.tableRenameObjects(connection, table: transition.quotedTable)
                        let offline = Set(sql.tableRename(TableRename.objects(of: transition.table)))
                        let decided = TableRename.renames(table: transition.table.name, to: rename.value, objects: live.objects, taken: live.taken)
                        for skipped in decided.skipped {
                            report(.info("warning: \(skipped.kind.rawValue) \(skipped.from) keeps its name: \(skipped.to) is taken"))
                        }
                        renamedObjects = decided.renames
                        statements = statements.filter { !offline.contains($0) }
                            + TableRename.contract(schema: transition.table.schema, table: transition.table.name, to: rename.value, renames: decided.renames)
                    }
                    // Another plan's schemas of views that read a column contract drops: dropped
                    // first, made again over the columns contract leaves (docs/versions.md).
                    let others = try Self.versionSchemasReading(transition.droppedColumns, of: transition.quotedTable, except: plan.id,
                                                                connection: connection)
                    for schema in others {
                        let statement = VersionSchemas.drop(schema: schema, "another plan's schema of views reads a column contract drops: made again after the changes")
                        announce(plan, .contract, statement)
                        try connection.execute(statement.sql)
                    }
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
                            // A table trigger that fires after Bellows' since the gate (hostile-d 22).
                            let order = try triggerOrderFailures(transition, trigger: try dualWriteTrigger(sql, transition: transition, connection: connection), connection: connection)
                            if !order.isEmpty { throw TriggerOrderRefused(failures: order) }
                        }
                    }
                    let remade = try recreateVersionSchemas(others, table: transition.quotedTable, for: plan, .contract, connection: connection)
                    let after = try probeWrites(finalTable, deleting: deleting, synthesize: true, filtered: plan.renamesTableOnly, connection: connection)
                    let unwritable = WritabilityProof.failures(table: "\(transition.tableName)", triggers: triggers, before: before, after: after,
                                                               replaced: transition.droppedColumns, gone: transition.goneAtContract)
                    if !unwritable.isEmpty { throw UnwritableAfterChanges(failures: unwritable) }
                    // The VALIDATEs after the commit are owed until each has run (hostile-d 19).
                    guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .contracted,
                                                    extra: ", owed_validations = $4::text[]", [PostgresArray.literal(sql.validatedAfterContract)]) else {
                        throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during contract (another bellows?)")
                    }
                    // A pause or throttle steered this attempt's backfill: it ends here (hostile-d 34).
                    let control = try StateStore.clearControl(connection, plan: plan.id)
                    try record(connection, plan: plan, command: .contract, from: state.phase, to: .contracted, details: [
                        "dropped": .array(transition.droppedColumns.map(JSONValue.string)),
                        "version_schemas_remade": .array(remade.map(JSONValue.string)),
                        "version_schemas_dropped": .array(others.filter { !remade.contains($0) }.map(JSONValue.string)),
                        "renamed": .array(transition.allTargets.filter(\.isShadow).map { .string("\($0.physical) -> \($0.final)") }
                                          + (plan.renameTableTo.map { [.string("table \(transition.table.name) -> \($0.value)")] } ?? [])
                                          + renamedObjects.map { .string("\($0.kind.rawValue) \($0.from) -> \($0.to)") }),
                        "confirmed": .array(plan.gates(before: .contract).map { .string($0.name.value) }),
                        "control_cleared": control ?? .null,
                        "archive": archiving ? .string("\(ArchiveSQL.schema).\(archive.tableName)") : .null,
                    ])
                }
            }
            committed = true
        } catch let order as TriggerOrderRefused {
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, order.failures)
        } catch let changed as TriggerChangedSinceVerify {
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, [triggerSinceVerify(plan,
                "the dual-write trigger's catalog row changed since verify (\(changed.verified ?? "none") → \(changed.now ?? "missing")): "
                    + "it was disabled, re-enabled or re-created, and writes made meanwhile may not be synchronised")])
        } catch let added as AddedSinceExpand {
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, [GateFailure(
                gate: "schema-changed",
                message: "since expand, the schema gained on the column(s) contract drops (\(transition.droppedColumns.joined(separator: ", "))): "
                    + added.items.joined(separator: "; ") + ". Dropping the column would drop them without a word",
                remedy: "`bellows rollback \(plan.id)` then `bellows expand \(plan.id)` again (expand carries what the column has then to the new one), "
                    + "or move them to the new column with a migration first")])
        } catch let unwritable as UnwritableAfterChanges {
            throw refuse(connection, plan: plan, command: .contract, phase: state.phase, unwritable.failures)
        }
        // After the commit (the plan is contracted): a declared foreign key added NOT VALID under
        // contract's lock is validated without blocking writes.
        var details: [String: JSONValue] = ["statements": .int(statements.count)]
        if archiving {
            let size = measureArchive(archive.tableName, connection: connection)
            report(.info("the dropped column(s) \(archive.columns.map(\.name).joined(separator: ", ")) are kept in \(archive.qualifiedTable)"
                         + (size.map { " (\($0.rows) rows, \($0.bytes) bytes)" } ?? "") + ": `bellows archive restore \(plan.id)` brings them back"))
            details["archive"] = .string("\(ArchiveSQL.schema).\(archive.tableName)")
            if let size { details["archive_rows"] = .int(size.rows); details["archive_bytes"] = .int(size.bytes) }
        }
        try validateAfterContract(plan, sql.validatedAfterContract, transition: transition, connection: connection)
        return details
    }

    /// Each declared foreign key's `VALIDATE` after contract's commit, each struck from the plan's
    /// owed validations once it ran. One that fails or is stopped stays owed: the plan is
    /// contracted, and `bellows contract PLAN` runs what is left (`finishValidations`).
    func validateAfterContract(_ plan: Plan, _ names: [String], transition: Transition, connection: Connection) throws {
        let sql = PhaseSQL(transition)
        for (name, statement) in zip(names, sql.validationsAfterContract(names)) {
            announce(plan, .contract, statement)
            try step(statement.purpose + " — contract itself is committed (the plan is contracted); `bellows contract \(plan.id)` runs this validation again") {
                try LockSafety.standalone(connection, policy: policy(for: plan), statementTimeoutMilliseconds: 0,
                                          table: transition.quotedTable, report: report, statement.sql)
                try connection.execute("UPDATE bellows.plans SET owed_validations = array_remove(owed_validations, $2) WHERE id = $1", [plan.id, name])
            }
        }
    }

    /// `contract` on a contracted plan that still owes the validation of a declared foreign key
    /// (its `VALIDATE` after the commit was cancelled, timed out or stopped): runs only those still
    /// `NOT VALID` (one dropped since is no longer owed), then records the event.
    func finishValidations(_ plan: Plan, state: PlanState, transition: Transition, connection: Connection) throws -> [String: JSONValue] {
        var owed: [String] = []
        for name in state.owedValidations {
            let valid = try connection.query("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                                             [transition.quotedTable, name]).first?.bool("convalidated")
            if valid == false { owed.append(name) }
        }
        try validateAfterContract(plan, owed, transition: transition, connection: connection)
        try step("record the validation") {
            try connection.withTransaction {
                try connection.execute("UPDATE bellows.plans SET owed_validations = NULL, updated_at = now() WHERE id = $1", [plan.id])
                try record(connection, plan: plan, command: .contract, from: .contracted, to: .contracted,
                           details: ["validated": .array(owed.map(JSONValue.string))])
            }
        }
        return ["statements": .int(owed.count), "validated": .array(owed.map(JSONValue.string))]
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

    /// Backfill and verify, before their work (hostile-g 06): each replacement column's
    /// column-level privileges made its old column's as they are now, as contract does, so a
    /// column `GRANT` or `REVOKE` on the old column after expand reaches the new version's
    /// view (which reads the replacement) without the operator naming the `_bellows_` column.
    /// (A write of the replacement by a role that may not UPDATE the old column is refused at
    /// once by the dual-write trigger.) In its own transaction, not under the table's lock:
    /// `GRANT`/`REVOKE` lock no rows. A role that may not give the grants (not a member of
    /// their grantors) changes nothing: the phase goes on and says which columns differ.
    /// Returns the detail to record, nil when the columns agree.
    func followColumnPrivileges(_ plan: Plan, _ command: PhaseCommand, _ transition: Transition, connection: Connection) throws -> (key: String, value: JSONValue)? {
        let pairs = transition.replacedColumns
        guard !pairs.isEmpty else { return nil }
        let sql = PhaseSQL(transition)
        return try connection.withTransaction {
            let oid = try connection.query("SELECT $1::regclass::oid::bigint AS oid", [transition.quotedTable]).first?.int("oid") ?? 0
            let grants = try CatalogReader.columnGrants(connection, oid: oid)
            let differing = pairs.filter { Set(grants[$0.new] ?? []) != Set(grants[$0.old] ?? []) }
            guard !differing.isEmpty else { return nil }
            try connection.execute("SAVEPOINT bellows_column_privileges")
            do {
                for pair in differing {
                    for statement in sql.columnPrivileges(of: pair.new, current: grants[pair.new] ?? [], wanted: grants[pair.old] ?? []) {
                        announce(plan, command, statement)
                        try connection.execute(statement.sql)
                    }
                }
                try connection.execute("RELEASE SAVEPOINT bellows_column_privileges")
                let columns = differing.map { "\($0.old) → \($0.new)" }
                report(.info("the column privileges of \(columns.joined(separator: ", ")) changed since expand: the replacement has the old column's again"))
                return ("column_privileges_followed", .array(differing.map { .string($0.old) }))
            } catch let error as PostgresError where error.sqlState == SQLState("42501") {
                try connection.execute("ROLLBACK TO SAVEPOINT bellows_column_privileges")
                let columns = differing.map { "\($0.old) (\($0.new))" }.joined(separator: ", ")
                report(.info("the column privileges of \(columns) changed since expand, and role \(try connection.query("SELECT current_user AS u").first?.string("u") ?? "?") "
                             + "may not give them to the replacement (\(error.message)): the new version's view keeps the old grants until a phase run by the table's owner (contract does it under its lock)"))
                return ("column_privileges_differ", .array(differing.map { .string($0.old) }))
            }
        }
    }

    /// Each deferrable UNIQUE constraint's built index not yet attached as its constraint,
    /// attached (`sql.expandAttachments`), in the caller's transaction: by expand, and by
    /// contract for a plan an older Bellows expanded without attaching them, so that
    /// contract's rename finds the constraint.
    func attachDeferrableConstraints(_ plan: Plan, _ transition: Transition, _ sql: PhaseSQL, command: PhaseCommand,
                                     connection: Connection) throws {
        for (index, statement) in zip(transition.recreatedIndexes.filter(\.attachesAtExpand), sql.expandAttachments) {
            let attached = try connection.query("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                                                [transition.quotedTable, index.transitional]).first != nil
            if attached { continue }
            announce(plan, command, statement)
            try connection.execute(statement.sql)
        }
    }

    /// Contract's writability proof, the writes (`WritabilityProof` decides): in a savepoint
    /// rolled back at the end, with every deferrable constraint and constraint trigger made
    /// immediate, an UPDATE of one row setting every plainly updatable column to itself; an INSERT
    /// of a copy of that row (generated columns, and key columns with a default or an identity,
    /// take their default, so a table with a generated key takes the copy); when `deleting`, a DELETE
    /// of the copy, or of the row when no copy was inserted — not when another table's foreign key
    /// references the table (its lookups and cascades are no work for contract's lock). Each write in a savepoint of its own; a lock, deadlock, cancel or connection error
    /// is thrown (the transaction is retried or fails), any other error is the write's result.
    /// With `synthesize`, an empty table gets a made-up row instead (hostile-d 32 and 43: on an
    /// empty table the proof proved nothing): each column its default, or, NOT NULL without one, a
    /// plain value of its type (`syntheticValue`); its INSERT is the proof's INSERT, and the
    /// UPDATE and DELETE are made on it. A value its constraints refuse only leaves fewer triggers shown fired.
    /// `filtered`: for a plan that renames its table alone, which the row-security gate lets
    /// through (hostile-h 22): the proof reads and writes (all rolled back) the rows the
    /// policies give Bellows' role (`row_security = on`), instead of failing on the first read.
    func probeWrites(_ table: String, deleting: Bool, synthesize: Bool = false, filtered: Bool = false, connection: Connection) throws -> ProbeRun {
        let identity = try connection.query("""
            SELECT c.relname::text AS name, n.nspname::text AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1)
            """, [table]).first
        let own = (name: try identity?.string("name"), schema: try identity?.string("schema"))
        let columns = try connection.query("""
            SELECT a.attnum::int AS num, a.attname::text AS name, a.attgenerated <> '' AS generated, a.attidentity::text AS identity,
                   a.atthasdef AS has_default, a.attnotnull AS not_null, format_type(a.atttypid, a.atttypmod) AS type,
                   t.typcategory::text AS category, t.typtype::text AS typtype,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND a.attnum = ANY (i.indkey)) AS key
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [table])
        /// The write's result from its error, after rolling back to `savepoint`; the errors that
        /// are no write's result (lock, deadlock, cancel, connection) are thrown.
        func result(of error: PostgresError, savepoint: String) throws -> ProbeResult {
            guard connection.isOpen, let state = error.sqlState, state != .lockNotAvailable, state != .deadlockDetected,
                  state != .queryCanceled, state.errorClass != "08", state.errorClass != "57" else { throw error }
            _ = try connection.executeScript("ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)")
            guard state.errorClass == "23" else { return .failed(error) }
            return .refusedAsData(error, ownTable: error.table == own.name && error.schema == own.schema)
        }
        func probe(_ write: () throws -> Int) throws -> ProbeResult {
            try connection.execute("SAVEPOINT bellows_probe")
            do {
                let rows = try write()
                _ = try connection.executeScript("ROLLBACK TO SAVEPOINT bellows_probe; RELEASE SAVEPOINT bellows_probe")
                return rows > 0 ? .wrote : .noRow
            } catch let error as PostgresError {
                return try result(of: error, savepoint: "bellows_probe")
            }
        }
        var run = ProbeRun()
        // The session's cached plans, PL/pgSQL's too, were made for the table as it was: a trigger's
        // `INSERT INTO history SELECT NEW.*` planned by the run before the changes still expands
        // NEW.* to the old columns here, where every new session would fail (hostile-d 32).
        // (Statements without parameters or results share a round trip: under contract's lock
        // each round trip is time every writer waits.)
        // `row_security = on` is undone with the rest by the rollback to bellows_writable below.
        _ = try connection.executeScript("DISCARD PLANS; SAVEPOINT bellows_writable; "
                                         + (filtered ? "SET LOCAL row_security = on; " : "") + "SET CONSTRAINTS ALL IMMEDIATE")
        var found = try connection.query("SELECT ctid::text AS ctid FROM \(table) LIMIT 1").first?.string("ctid")
        var synthetic: ProbeResult?
        if found == nil, synthesize {
            // Kept (until the rollback to bellows_writable) for the UPDATE and DELETE.
            let made = try columns.filter { try !$0.bool("generated") && !$0.bool("has_default") && $0.string("identity").isEmpty && $0.bool("not_null") }
            let names = try made.map { SQLQuote.identifier(try $0.string("name")) }
            let values = try made.map {
                Self.syntheticValue(type: try $0.string("type"), category: try $0.string("category"), isEnum: try $0.string("typtype") == "e")
            }
            try connection.execute("SAVEPOINT bellows_synthetic")
            do {
                let inserted = names.isEmpty
                    ? try connection.query("INSERT INTO \(table) DEFAULT VALUES RETURNING ctid::text AS ctid")
                    : try connection.query("INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(values.joined(separator: ", "))) RETURNING ctid::text AS ctid")
                try connection.execute("RELEASE SAVEPOINT bellows_synthetic")
                found = try inserted.first?.string("ctid")
                synthetic = found == nil ? .noRow : .wrote
                run.madeUp = found != nil
            } catch {
                synthetic = try result(of: error, savepoint: "bellows_synthetic")
            }
        }
        if let row = found {
            let settable = try columns.filter { try !$0.bool("generated") && $0.string("identity") != "a" }
            run.updatedColumns = Set(try settable.map { try $0.int("num") })
            if settable.isEmpty {
                run.results[.update] = .notRun("no column of the table can be set to itself")
            } else {
                let assignments = try settable.map { let name = SQLQuote.identifier(try $0.string("name")); return "\(name) = \(name)" }
                run.results[.update] = try probe {
                    try connection.execute("UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE ctid = $1::tid", [row]).affectedRows
                }
            }
            // A key column with a default or an identity gets a new value (the copy is inserted);
            // every other column keeps the row's, an identity's too, so no other sequence moves.
            let copiedColumns = try columns.filter {
                try !$0.bool("generated") && !($0.bool("key") && ($0.bool("has_default") || !$0.string("identity").isEmpty))
            }
            let copied = try copiedColumns.map { SQLQuote.identifier(try $0.string("name")) }.joined(separator: ", ")
            let overriding = try copiedColumns.contains { try !$0.string("identity").isEmpty } ? " OVERRIDING SYSTEM VALUE" : ""
            // A delete from a referenced table looks for referencing rows (a scan where their
            // column has no index) and may cascade: not under contract's lock.
            let referencing = try connection.query("""
                SELECT string_agg(DISTINCT conrelid::regclass::text, ', ') AS tables FROM pg_constraint
                WHERE contype = 'f' AND confrelid = to_regclass($1)
                """, [table]).first?.optionalString("tables")
            var copy: ProbeResult?
            if let synthetic {
                run.results[.insert] = synthetic
            } else {
                run.results[.insert] = try probe {
                let inserted = copied.isEmpty
                    ? try connection.query("INSERT INTO \(table) DEFAULT VALUES RETURNING ctid::text AS ctid")
                    : try connection.query("INSERT INTO \(table) (\(copied))\(overriding) SELECT \(copied) FROM \(table) WHERE ctid = $1::tid RETURNING ctid::text AS ctid", [row])
                if deleting, referencing == nil, let ctid = try inserted.first?.string("ctid") {
                    copy = try probe { try connection.execute("DELETE FROM \(table) WHERE ctid = $1::tid", [ctid]).affectedRows }
                }
                return inserted.count
                }
            }
            if !deleting {
                run.results[.delete] = .notRun("no trigger of the table fires on DELETE")
            } else if let referencing {
                run.results[.delete] = .notRun("contract does not DELETE from a table other tables' foreign keys reference (\(referencing))")
            } else if let copy {
                run.results[.delete] = copy
            } else {
                run.results[.delete] = try probe { try connection.execute("DELETE FROM \(table) WHERE ctid = $1::tid", [row]).affectedRows }
            }
        } else if let synthetic {
            run.results[.insert] = synthetic
            var why = "the table is empty and a made-up row (each column's default, or a plain value of its type) was not inserted"
            switch synthetic {
            case .refusedAsData(let error, _), .failed(let error): why += " (\(error.sqlState?.rawValue ?? "error"): \(error.message))"
            default: break
            }
            for event in [ProbeEvent.update, .delete] { run.results[event] = .notRun(why) }
        } else {
            for event in [ProbeEvent.update, .insert, .delete] { run.results[event] = .notRun("the table has no row to copy or update") }
        }
        _ = try connection.executeScript("ROLLBACK TO SAVEPOINT bellows_writable; RELEASE SAVEPOINT bellows_writable")
        return run
    }

    /// A plain constant of a column's type for the proof's made-up row (`format_type`'s text,
    /// `pg_type.typcategory`): what a NOT NULL column without a default gets. NULL for a type it
    /// has none for (the row is then refused as data).
    static func syntheticValue(type: String, category: String, isEnum: Bool) -> String {
        if isEnum { return "enum_first(NULL::\(type))" }
        let literal: String?
        switch category {
        case "N": literal = "1"
        case "S": literal = "x"
        case "B": literal = "false"
        case "D": literal = "now"
        case "T": literal = "0"
        case "A": literal = "{}"
        case "I": literal = "127.0.0.1"
        case "R": literal = "empty"
        case "V": literal = "1"
        case "U":
            let lower = type.lowercased()
            literal = lower.hasPrefix("uuid") ? "00000000-0000-0000-0000-000000000000" : lower.hasPrefix("json") ? "{}" : nil
        default: literal = nil
        }
        return literal.map { "\(SQLQuote.literal($0))::\(type)" } ?? "NULL::\(type)"
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
        var transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        // The table renamed or moved since expand (hostile-d 25): its trigger says where it is.
        if let moved = try movedTable(plan, table: transition.tableName, connection: connection) {
            report(.info("the plan's table \(transition.tableName) is now \(moved.schema).\(moved.name) (renamed or moved since expand): rolling back there"))
            transition.table.schema = moved.schema
            transition.table.name = moved.name
        }
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
                // Another plan's schemas of views that read a column rollback drops: dropped
                // first, made again over the columns rollback leaves (docs/versions.md).
                let others = try Self.versionSchemasReading(transition.newTargets.map(\.physical), of: transition.quotedTable,
                                                            except: plan.id, connection: connection)
                for schema in others {
                    let statement = VersionSchemas.drop(schema: schema, "another plan's schema of views reads a column rollback drops: made again after the changes")
                    announce(plan, .rollback, statement)
                    try connection.execute(statement.sql)
                }
                for statement in statements where statement.mode == .transaction {
                    announce(plan, .rollback, statement)
                    try connection.execute(statement.sql)
                }
                // What an interrupted contract left of its archive (its trigger, an unrecorded table).
                let archive = ArchiveSQL(transition)
                if try archiveTriggerPresent(archive, connection: connection) {
                    let recorded = try archiveRecorded(archive, connection: connection)
                    for statement in archive.abandon where !(recorded && statement.sql.hasPrefix("DROP TABLE")) {
                        announce(plan, .rollback, statement)
                        try connection.execute(statement.sql)
                    }
                }
                let remade = try recreateVersionSchemas(others, table: transition.quotedTable, for: plan, .rollback, connection: connection)
                guard try StateStore.transition(connection, id: plan.id, from: state.phase, to: .rolledBack, extra: """
                    , expanding = false, backfill_cursor = NULL, backfill_bound = NULL, backfill_rows = 0, backfill_done = false, verified_at = NULL, verified_trigger = NULL, table_info = NULL, search_path = NULL, not_null_shape = NULL, pinned_settings = NULL
                    """) else {
                    throw PostgresError(kind: .client, message: "plan \(plan.id) changed phase during rollback (another bellows?)")
                }
                // The attempt is over: its pause or throttle must not hold the next one (hostile-d 34).
                let control = try StateStore.clearControl(connection, plan: plan.id)
                try record(connection, plan: plan, command: .rollback, from: state.phase, to: .rolledBack, details: [
                    "removed_columns": .array(transition.newTargets.map { .string($0.physical) }),
                    "version_schemas_remade": .array(remade.map(JSONValue.string)),
                    "version_schemas_dropped": .array(others.filter { !remade.contains($0) }.map(JSONValue.string)),
                    "control_cleared": control ?? .null,
                ])
            }
        }
        return ["statements": .int(statements.count)]
    }
}
