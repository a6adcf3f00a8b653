import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

extension MigrationRunner {
    /// What rolling back `reference` (a name or a number) would do: the rollback file's
    /// statements, what they destroy (tables with their row counts, columns, indexes, types),
    /// and what depends on the migration. Changes nothing.
    public func rollbackPreview(_ reference: String) throws -> RollbackPreview {
        let files = try loadFiles()
        return try withConnection(createSchema: false) { connection in
            try preview(reference, files: files, state: try readState(connection), connection: connection)
        }
    }

    /// Runs `migrations/rollback/NAME.sql` and deletes the migration's ledger row: in one
    /// transaction for a transactional rollback file; statement by statement, the row deleted
    /// at the end, for a non-transactional one. Refuses when an applied migration or an active
    /// plan depends on it, unless `force`. Confirmation is the caller's business: show
    /// ``rollbackPreview(_:)`` first.
    @discardableResult
    public func rollback(_ reference: String, force: Bool = false, archive: Bool = false) throws -> RolledBackMigration {
        let files = try loadFiles()
        return try withConnection(createSchema: true) { connection in
            try withRunnerLock(connection, command: "rollback") { control in
                try waitForOrphans(control, command: "rollback", except: connection.backendPID)
                let state = try readState(connection)
                let preview = try preview(reference, files: files, state: state, connection: connection, countRows: false)
                if !preview.dependents.isEmpty && !force {
                    let problem = MigrationProblem(
                        gate: "dependents", migration: preview.migration,
                        message: "\(preview.dependents.joined(separator: ", ")) depend\(preview.dependents.count == 1 ? "s" : "") on it and would be left without it",
                        remedy: "roll back the dependents first, or pass --force")
                    recordQuietly(connection, migration: preview.migration, command: "rollback", outcome: "refused",
                                  details: ["gate": "dependents", "message": .string(problem.message)])
                    throw MigrationRefusal(command: "rollback", problems: [problem])
                }
                if archive, let problem = try archiveProblem(preview.migration, connection) {
                    recordQuietly(connection, migration: preview.migration, command: "rollback", outcome: "refused",
                                  details: ["gate": "archive", "message": .string(problem.message)])
                    throw MigrationRefusal(command: "rollback", problems: [problem])
                }
                defer { resetSession(connection) }
                return try runRollback(preview, forced: force && !preview.dependents.isEmpty, archive: archive, connection, lock: control)
            }
        }
    }

    func preview(_ reference: String, files: [LoadedFile], state: DatabaseState, connection: Connection,
                 countRows: Bool = true) throws -> RollbackPreview {
        let known = Array(Set(files.map(\.name)).union(state.ledger.keys)).sorted()
        guard let name = Engine.match(reference, in: known) else {
            throw BellowsError.usage("no migration \"\(reference)\" in \(Self.display(project.migrationsDirectory)) or in the ledger")
        }
        guard let row = state.ledger[name] else {
            throw BellowsError.usage("migration \(name) is not applied; there is nothing to roll back (`bellows migrations status`)")
        }
        let path = files.first { $0.name == name }?.ref.rollbackPath ?? rollbackPath(for: name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw BellowsError.usage("migration \(name) has no rollback file: \(Self.display(path)) does not exist")
        }
        let (text, _) = try Self.read(path)
        let analysis = MigrationFile.analyze(text)
        let problems = MigrationFile.problems(text, analysis: analysis)
        guard problems.isEmpty else {
            throw MigrationRefusal(command: "rollback", problems: Self.refusals(problems, migration: name, path: Self.display(path)))
        }
        let statements = Self.statements(of: analysis)
        var reason: String?
        if case .nonTransactional(let why) = analysis.transactionMode { reason = why }
        var losses = MigrationStatements.losses(in: statements)
        // Unqualified names resolve under the search_path the file gives itself (hostile-h 01).
        let paths = try searchPaths(statements, connection)
        for i in losses.indices { losses[i].searchPath = losses[i].statementIndex.flatMap { paths[$0] } }
        if countRows {
            losses = try losses.flatMap { loss in try underSearchPath(loss.searchPath, connection) { cascade(loss, connection).map { measure($0, connection) } } }
        }
        return RollbackPreview(
            migration: name, rollbackPath: Self.display(path), transactional: analysis.transactionMode.isTransactional,
            nonTransactionalReason: reason, statements: statements, losses: losses,
            dependents: dependents(of: name, files: files, state: state), appliedAt: row.appliedAt, appliedBy: row.appliedBy)
    }

    /// The `search_path` each statement of a rollback file runs under, by statement index, when
    /// the file sets its own (`SET [LOCAL] search_path`, `RESET`, `set_config('search_path', …)`):
    /// each such statement is run for real in a transaction (a savepoint inside one) that is
    /// rolled back, and `current_setting('search_path')` read before each statement after it.
    /// Empty when the file sets none: names resolve under the connection's.
    func searchPaths(_ statements: [MigrationStatement], _ connection: Connection) throws -> [Int: String] {
        let setters = Set(statements.filter { statement in
            StatementSplitter.split(statement.sql).first.map { MigrationStatements.setsSearchPath($0, sql: statement.sql) } == true
        }.map(\.index))
        guard !setters.isEmpty else { return [:] }
        let nested = connection.inTransaction
        try connection.execute(nested ? "SAVEPOINT bellows_search_path" : "BEGIN")
        defer {
            if nested {
                _ = try? connection.execute("ROLLBACK TO SAVEPOINT bellows_search_path")
                _ = try? connection.execute("RELEASE SAVEPOINT bellows_search_path")
            } else {
                _ = try? connection.execute("ROLLBACK")
            }
        }
        func current() throws -> String { try connection.query("SELECT current_setting('search_path') AS p").first?.string("p") ?? "" }
        var paths: [Int: String] = [:]
        var path: String?
        for statement in statements {
            paths[statement.index] = path
            if setters.contains(statement.index) {
                try connection.execute(statement.sql)
                path = try current()
            }
        }
        return paths
    }

    /// Runs `body` with the session's `search_path` set to `path` (nil: as it is), then puts it back.
    func underSearchPath<T>(_ path: String?, _ connection: Connection, _ body: () throws -> T) throws -> T {
        guard let path else { return try body() }
        let before = try connection.query("SELECT current_setting('search_path') AS p").first?.string("p") ?? ""
        try connection.execute("SELECT set_config('search_path', $1, false)", [path])
        defer { _ = try? connection.execute("SELECT set_config('search_path', $1, false)", [before]) }
        return try body()
    }

    /// Applied migrations whose `-- Dependencies:` name `name`, and plans past `planned`
    /// whose `depends_on.migrations` does.
    func dependents(of name: String, files: [LoadedFile], state: DatabaseState) -> [String] {
        let stems = files.map(\.name)
        var found: [String] = []
        for file in files where file.name != name && state.ledger[file.name] != nil {
            if file.analysis.header.dependencies.contains(where: { Engine.match($0, in: stems) == name || $0 == name }) {
                found.append(file.name)
            }
        }
        for plan in project.loadPlans().plans {
            let phase = state.planPhases[plan.id] ?? .planned
            guard phase != .planned, phase != .rolledBack else { continue }
            if plan.dependsOn.migrations.contains(where: { Engine.match($0.value, in: stems) == name || $0.value == name }) {
                found.append("plan:\(plan.id) (\(phase.rawValue))")
            }
        }
        return found
    }

    /// A loss and what its CASCADE takes with it, as the catalog says now: the tables of a
    /// dropped schema, the tables that reference a truncated one (transitively), the columns
    /// of a dropped type or domain.
    func cascade(_ loss: RollbackLoss, _ connection: Connection) -> [RollbackLoss] {
        func rows(_ sql: String, _ parameter: String) -> [[String]] {
            ((try? connection.query(sql, [parameter])) ?? []).map { row in
                ["schema", "name", "column"].compactMap { (try? row.optionalString($0)) ?? nil }
            }
        }
        func found(_ kind: RollbackLoss.Kind, _ parts: [String], via: String) -> RollbackLoss {
            RollbackLoss(kind: kind, object: parts.joined(separator: "."), line: loss.line, exists: nil, rows: nil,
                         rowsEstimated: false, statement: nil, via: via)
        }
        switch loss.kind {
        case .schema:
            let tables = rows("""
                SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') ORDER BY c.relname
                """, loss.object)
            return [loss] + tables.map { found(.table, $0, via: "DROP SCHEMA \(loss.object)" + (loss.cascade ? " CASCADE" : "")) }
        case .rows where loss.cascade:
            let referencing = rows("""
                WITH RECURSIVE refs(oid) AS (
                    SELECT to_regclass($1)::oid
                    UNION SELECT c.conrelid FROM pg_constraint c JOIN refs r ON c.confrelid = r.oid WHERE c.contype = 'f')
                SELECT n.nspname AS schema, cl.relname AS name FROM refs JOIN pg_class cl ON cl.oid = refs.oid
                JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE refs.oid <> to_regclass($1)::oid ORDER BY 1, 2
                """, Self.regclass(loss.object))
            return [loss] + referencing.map { found(.rows, $0, via: "TRUNCATE \(loss.object) CASCADE") }
        case .type where loss.cascade:
            let columns = rows("""
                SELECT n.nspname AS schema, c.relname AS name, a.attname AS column
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.atttypid IN (SELECT to_regtype($1) UNION SELECT t.typarray FROM pg_type t WHERE t.oid = to_regtype($1))
                  AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') ORDER BY 1, 2, 3
                """, loss.object)
            return [loss] + columns.map { found(.column, $0, via: "DROP TYPE \(loss.object) CASCADE") }
        default:
            return [loss]
        }
    }

    /// `s.t` or `t` as written in a loss, quoted for `to_regclass`.
    static func regclass(_ object: String) -> String {
        let parts = object.split(separator: ".").map(String.init)
        return parts.count == 2 ? SQLQuote.qualified(schema: parts[0], name: parts[1]) : SQLQuote.identifier(object)
    }

    /// Whether the object exists, and how many rows would go with it.
    func measure(_ loss: RollbackLoss, _ connection: Connection) -> RollbackLoss {
        var loss = loss
        let parts = loss.object.split(separator: ".").map(String.init)
        func regclass(_ names: ArraySlice<String>) -> String {
            names.count == 2 ? SQLQuote.qualified(schema: names[names.startIndex], name: names[names.startIndex + 1])
                             : SQLQuote.identifier(names.last ?? "")
        }
        /// Exact count for small tables, the planner's estimate for large ones.
        func rows(_ table: String, column: String?) -> (Int, Bool)? {
            guard let estimate = try? connection.query("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass($1)", [table])
                .first?.int("n") else { return nil }
            if estimate > 1_000_000 { return (estimate, true) }
            let counted = column.map { "count(\(SQLQuote.identifier($0)))" } ?? "count(*)"
            guard let exact = try? connection.query("SELECT \(counted)::bigint AS n FROM \(table)").first?.int("n") else {
                return estimate >= 0 ? (estimate, true) : nil
            }
            return (exact, false)
        }
        /// The bytes a table (with its indexes and TOAST) or a column's values take.
        func bytes(_ table: String, column: String?, estimated: Bool) -> Int? {
            guard let column else {
                return try? connection.query("SELECT pg_total_relation_size(to_regclass($1))::bigint AS n", [table]).first?.int("n")
            }
            if !estimated {
                return try? connection.query("SELECT coalesce(sum(pg_column_size(\(SQLQuote.identifier(column)))), 0)::bigint AS n FROM \(table)").first?.int("n")
            }
            return try? connection.query("""
                SELECT (s.avg_width * greatest(c.reltuples, 0) * (1 - s.null_frac))::bigint AS n
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = $2
                WHERE c.oid = to_regclass($1)
                """, [table, column]).first?.int("n")
        }
        switch loss.kind {
        case .table, .rows:
            let table = regclass(parts[...])
            loss.exists = (try? connection.query("SELECT to_regclass($1) IS NOT NULL AS e", [table]).first?.bool("e")) ?? nil
            if loss.exists == true, let (count, estimated) = rows(table, column: nil) {
                loss.rows = count
                loss.rowsEstimated = estimated
                loss.bytes = bytes(table, column: nil, estimated: estimated)
            }
        case .column, .values:
            guard parts.count >= 2, let column = parts.last else { return loss }
            let table = regclass(parts.dropLast())
            loss.exists = (try? connection.query("""
                SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped) AS e
                """, [table, column]).first?.bool("e")) ?? nil
            if loss.exists == true, let (count, estimated) = rows(table, column: column) {
                loss.rows = count
                loss.rowsEstimated = estimated
                loss.bytes = bytes(table, column: column, estimated: estimated)
            }
        case .index:
            loss.exists = (try? connection.query("SELECT to_regclass($1) IS NOT NULL AS e", [regclass(parts[...])]).first?.bool("e")) ?? nil
        case .type:
            loss.exists = (try? connection.query("SELECT to_regtype($1) IS NOT NULL AS e", [regclass(parts[...])]).first?.bool("e")) ?? nil
        case .schema:
            loss.exists = (try? connection.query("SELECT to_regnamespace($1) IS NOT NULL AS e", [SQLQuote.identifier(loss.object)]).first?.bool("e")) ?? nil
        case .other:
            break
        }
        return loss
    }

    func runRollback(_ preview: RollbackPreview, forced: Bool, archive: Bool = false, _ connection: Connection, lock: Connection) throws -> RolledBackMigration {
        let started = Date()
        var archived: [String] = []
        // `--archive`: what the file drops, kept first (in its transaction when it has one).
        var losses: [RollbackLoss] = []
        if archive {
            for loss in preview.losses {
                for var found in try underSearchPath(loss.searchPath, connection, { cascade(loss, connection) }) {
                    found.searchPath = loss.searchPath
                    losses.append(found)
                }
            }
        }
        func keep() throws {
            guard archive else { return }
            archived = try archiveLosses(preview.migration, losses, connection)
            if !archived.isEmpty { report(.info("\(preview.migration): kept \(archived.map { "\(ArchiveSQL.schema).\($0)" }.joined(separator: ", ")) (`bellows archive list`)")) }
        }
        let details: [String: JSONValue] = [
            "rollback_file": .string(preview.rollbackPath), "transactional": .bool(preview.transactional),
            "forced": .bool(forced), "dependents": .array(preview.dependents.map(JSONValue.string)),
            "losses": .array(preview.losses.map { .string("\($0.kind.rawValue) \($0.object)") })]
        if preview.transactional {
            report(.info("\(preview.migration): rolling back in one transaction (\(preview.statements.count) statement(s) of \(preview.rollbackPath))"))
            do {
                try runInTransaction(preview.statements, file: preview.rollbackPath, connection, before: keep) { _ in
                    try requireRunnerLock(lock, before: "recording the rollback of \(preview.migration)")
                    try deleteLedgerRow(preview.migration, connection)
                    var all = details
                    all["archived"] = .array(archived.map(JSONValue.string))
                    all["duration_ms"] = .int(Int((Date().timeIntervalSince(started) * 1000).rounded()))
                    try record(connection, migration: preview.migration, command: "rollback", outcome: "succeeded", details: all)
                }
            } catch {
                let failure = migrationError(preview.migration, file: preview.rollbackPath, statement: error.statement, error: error.error,
                                             transactional: true, rollback: true, completed: 0, total: preview.statements.count)
                if options.interrupt?.isTriggered == true {
                    throw interrupted(failure, state: "its running statement was cancelled and its transaction rolled back: the migration stays applied", connection)
                }
                recordFailure(connection, failure, command: "rollback")
                throw failure
            }
        } else {
            report(.info("\(preview.migration): rolling back outside a transaction, statement by statement (\(preview.nonTransactionalReason ?? "non-transactional"))"))
            // Until its ledger row goes, the migration shows as partly rolled back, and
            // `migrate` refuses to go on as if it were plainly applied.
            try database {
                try connection.withTransaction {
                    try keep()
                    try actAsRunner(connection)
                    try connection.execute("""
                        INSERT INTO bellows.migration_progress (name, checksum, statement_index, statement_line, duration_ms, applied_by)
                        VALUES ($1, '', 0, 0, -1, \(StateStore.actorSQL(2))) ON CONFLICT DO NOTHING
                        """, [Self.rollbackMarker + preview.migration, options.actor])
                }
            }
            for statement in preview.statements {
                do {
                    try runStandalone(statement, parsed: StatementSplitter.split(statement.sql).first, migration: preview.migration,
                                      file: preview.rollbackPath, connection)
                } catch let error as PostgresError {
                    let failure = migrationError(preview.migration, file: preview.rollbackPath, statement: statement, error: error,
                                                 transactional: false, rollback: true, completed: statement.index,
                                                 total: preview.statements.count)
                    recordFailure(connection, failure, command: "rollback")
                    throw failure
                }
            }
            try database {
                try connection.withTransaction {
                    try actAsRunner(connection)
                    try requireRunnerLock(lock, before: "recording the rollback of \(preview.migration)")
                    try deleteLedgerRow(preview.migration, connection)
                    try connection.execute("DELETE FROM bellows.migration_progress WHERE name = $1", [Self.rollbackMarker + preview.migration])
                    var all = details
                    all["archived"] = .array(archived.map(JSONValue.string))
                    all["duration_ms"] = .int(Int((Date().timeIntervalSince(started) * 1000).rounded()))
                    try record(connection, migration: preview.migration, command: "rollback", outcome: "succeeded", details: all)
                }
            }
        }
        let milliseconds = Date().timeIntervalSince(started) * 1000
        return RolledBackMigration(name: preview.migration, rollbackPath: preview.rollbackPath, transactional: preview.transactional,
                                   milliseconds: milliseconds, statementsRun: preview.statements.count, archived: archived)
    }

    /// `--archive` needs to create in `bellows_archive` (as contract's archive does).
    func archiveProblem(_ migration: String, _ connection: Connection) throws -> MigrationProblem? {
        let may = try connection.query("""
            SELECT CASE WHEN to_regnamespace($1) IS NULL THEN has_database_privilege(current_database(), 'CREATE')
                        ELSE has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE') END AS may, current_user::text AS role
            """, [ArchiveSQL.schema]).first
        guard let may, try !may.bool("may") else { return nil }
        return MigrationProblem(gate: "archive", migration: migration,
                                message: "--archive keeps what the rollback drops in schema \(ArchiveSQL.schema), and role \(try may.string("role")) may not create there",
                                remedy: "GRANT CREATE ON DATABASE (or USAGE, CREATE ON SCHEMA \(ArchiveSQL.schema)) to the role, or roll back without --archive")
    }

    /// `--archive`, in the rollback's transaction before its statements: each table the file
    /// drops or truncates copied whole into `bellows_archive."<migration>_<table>"`, each column
    /// it drops or sets to NULL with the table's primary key (the whole row without one) into
    /// `"<migration>_<table>_<column>"` (a name already taken gets `_2`, `_3`…), each recorded in
    /// `bellows.archives` (source `migrate rollback`). What does not exist now is skipped.
    func archiveLosses(_ migration: String, _ losses: [RollbackLoss], _ connection: Connection) throws -> [String] {
        var kept: [String] = []
        var done = Set<String>()
        for loss in losses where [.table, .rows, .column, .values].contains(loss.kind) {
            let parts = loss.object.split(separator: ".").map(String.init)
            let whole = loss.kind == .table || loss.kind == .rows
            guard whole || parts.count >= 2 else { continue }
            let column = whole ? nil : parts.last
            let reference = whole ? Self.regclass(loss.object) : Self.regclass(parts.dropLast().joined(separator: "."))
            // Resolved under the search_path the file gives the statement (hostile-h 01).
            guard let table = try underSearchPath(loss.searchPath, connection, {
                try connection.query("""
                    SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')
                    """, [reference]).first
            }) else { continue }
            let schema = try table.string("schema"), name = try table.string("name")
            let qualified = SQLQuote.qualified(schema: schema, name: name)
            if let column, try connection.query("""
                SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped
                """, [qualified, column]).isEmpty { continue }
            guard done.insert("\(qualified).\(column ?? "")").inserted else { continue }
            let key = try connection.query("""
                SELECT a.attname::text AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)
                """, [qualified]).map { try $0.string("name") }
            let base = column.map { "\(migration)_\(name)_\($0)" } ?? "\(migration)_\(name)"
            var archiveName = TransitionNames.fitted(base)
            var n = 1
            while try !connection.query("""
                SELECT 1 WHERE EXISTS (SELECT 1 FROM bellows.archives WHERE archive_table = $1)
                   OR to_regclass(quote_ident($2) || '.' || quote_ident($1)) IS NOT NULL
                """, [archiveName, ArchiveSQL.schema]).isEmpty {
                n += 1
                archiveName = TransitionNames.fitted(base + "_\(n)")
            }
            let target = SQLQuote.qualified(schema: ArchiveSQL.schema, name: archiveName)
            // A column of the database's own type (enum, domain, composite…) kept as text: the
            // archive must not depend on a type the same file may drop (hostile-h 19).
            let attributes = try connection.query("""
                SELECT a.attname::text AS name, n.nspname NOT IN ('pg_catalog', 'information_schema') AS own
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                JOIN pg_type b ON b.oid = coalesce(e.oid, t.oid) JOIN pg_namespace n ON n.oid = b.typnamespace
                WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
                """, [qualified]).map { (name: try $0.string("name"), own: try $0.bool("own")) }
            let own = Set(attributes.filter(\.own).map(\.name))
            func item(_ name: String) -> String {
                own.contains(name) ? "\(SQLQuote.identifier(name))::text AS \(SQLQuote.identifier(name))" : SQLQuote.identifier(name)
            }
            let names = column.map { column in key.isEmpty ? attributes.map(\.name) : key + [column] } ?? attributes.map(\.name)
            let list = names.map(item).joined(separator: ", ")
            try connection.execute("CREATE SCHEMA IF NOT EXISTS \(SQLQuote.identifier(ArchiveSQL.schema))")
            let rows = try connection.execute("CREATE TABLE \(target) AS SELECT \(list) FROM \(qualified)").affectedRows
            if !key.isEmpty {
                try connection.execute("ALTER TABLE \(target) ADD PRIMARY KEY (\(key.map(SQLQuote.identifier).joined(separator: ", ")))")
            }
            try connection.execute("""
                INSERT INTO bellows.archives (archive_table, plan_id, source, table_name, columns, key_columns, rows, bytes, created_by,
                                              retention_seconds, table_oid)
                VALUES ($1, $2, 'migrate rollback', $3, $4::text[], $5::text[], $6, pg_total_relation_size(to_regclass($7)), \(StateStore.actorSQL(8)),
                        $9::bigint, to_regclass($10)::oid)
                """, [archiveName, migration, "\(schema).\(name)", PostgresArray.literal(column.map { [$0] } ?? []), PostgresArray.literal(key),
                      rows, target, options.actor, ProjectConfig.archiveSettings(root: project.root).retentionSeconds, qualified])
            kept.append(archiveName)
        }
        return kept
    }

    /// The `bellows.migration_progress` name that marks a rollback outside a transaction as
    /// under way: `rollback:NAME`.
    static let rollbackMarker = "rollback:"

    func deleteLedgerRow(_ name: String, _ connection: Connection) throws {
        let deleted = try connection.execute("DELETE FROM bellows.migrations WHERE name = $1", [name])
        guard deleted.affectedRows == 1 else {
            throw PostgresError(kind: .client, message: "migration \(name) vanished from bellows.migrations during its rollback (another session?)")
        }
    }
}
