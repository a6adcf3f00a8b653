import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// PostgreSQL accepts every statement Bellows renders for the example plans: the SQL that
/// `bellows render` prints (compiled offline against `migrations/`) is run phase by phase on the
/// Takumi schema with seed data — expand, backfill, verify and rollback for real, contract in a
/// transaction that is rolled back.
///
/// And the offline catalog (`MigrationSchema`) equals what the engine reads from `pg_catalog`,
/// so the rendered SQL is what the engine runs.
@Suite(needsDatabase)
struct RenderedSQLParsesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let plans = files(in: root.appendingPathComponent("plans"), extension: "yaml")
    static let migrations = files(in: root.appendingPathComponent("migrations"), extension: "sql")
    static var planNames: [String] { plans.map { $0.deletingPathExtension().lastPathComponent } }

    static func files(in directory: URL, extension ext: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    static var offlineCatalog: SchemaCatalog {
        get throws { MigrationSchema.catalog(fromMigrations: try migrations.map(text)) }
    }

    /// A scratch database with the migrations applied statement by statement (migration 002
    /// builds its index CONCURRENTLY, outside any transaction), the `bellows` schema, and seed rows.
    static func takumi(_ label: String, seedRows: Int = 300) throws -> (ScratchDatabase, Connection) {
        let db = try TestDatabase.create(label)
        do {
            let connection = try db.connect()
            for migration in migrations {
                for statement in StatementSplitter.split(try text(migration)) where !statement.significantTokens.isEmpty {
                    try connection.execute(statement.text)
                }
            }
            try connection.execute("CREATE SCHEMA bellows")
            try connection.execute("SET bellows.seed_rows = \(seedRows)")
            try connection.executeScript(try text(root.appendingPathComponent("examples/seed.sql")))
            return (db, connection)
        } catch {
            db.drop()
            throw error
        }
    }

    static func plan(_ name: String) throws -> Plan {
        let result = PlanLoader.load(path: root.appendingPathComponent("plans/\(name).yaml").path)
        return try #require(result.plan, "\(result.findings)")
    }

    /// Runs statements as `bellows render` groups them: consecutive transaction statements in one
    /// transaction (committed, or rolled back when `commit` is false), standalone ones alone.
    static func run(_ statements: [PhaseStatement], on connection: Connection, commit: Bool = true,
                    sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        var inTransaction = false
        func end() throws {
            if inTransaction { try connection.execute(commit ? "COMMIT" : "ROLLBACK") }
            inTransaction = false
        }
        for statement in statements {
            if statement.mode == .standalone { try end() } else if !inTransaction {
                try connection.execute("BEGIN")
                try connection.execute("SET LOCAL lock_timeout = '2s'")
                inTransaction = true
            }
            do {
                try connection.execute(statement.sql)
            } catch {
                if inTransaction { _ = try? connection.execute("ROLLBACK") }
                Issue.record("PostgreSQL refused \"\(statement.purpose)\": \(error.message)\n\(statement.sql)", sourceLocation: sourceLocation)
                throw error
            }
        }
        try end()
    }

    @Test(arguments: planNames)
    func everyRenderedStatementRuns(_ name: String) throws {
        let (db, connection) = try Self.takumi("render")
        defer { connection.close(); db.drop() }
        let plan = try Self.plan(name)
        let compiled = TransitionCompiler.compile(plan, table: try Self.offlineCatalog.table(plan.table.value))
        var transition = try #require(compiled.transition, "\(compiled.findings)")
        // What expand would run on this server (PostgreSQL 18: NOT VALID NOT NULL constraints).
        transition.notNullShape = NotNullShape.preferred(serverVersion: connection.serverVersion)
        let sql = PhaseSQL(transition)
        let before = try CatalogSnapshot.take(connection, table: plan.table.value)

        // expand, for real.
        try Self.run(sql.expand, on: connection)

        // backfill: the first batch, then batches from the cursor until the table is done.
        if sql.needsBackfill {
            var cursor: [String]?
            var batches = 0
            let upper: [(any PostgresBindable)?] = try #require(try connection.query(sql.backfillUpperBound).first).stringArray("max_key").map { $0 }
            repeat {
                let batch = sql.backfillBatch(first: cursor == nil)
                let after: [(any PostgresBindable)?] = (cursor ?? []).map { $0 }
                cursor = try connection.withTransaction {
                    try connection.execute("SET LOCAL bellows.backfill = 'on'")
                    guard let row = try connection.query(batch.bound, after + [100] + upper).first else { return nil }
                    let lastKey = try row.stringArray("last_key")
                    try connection.execute(batch.update, after + lastKey.map { $0 })
                    return lastKey
                }
                batches += 1
            } while cursor != nil && batches < 1_000
            #expect(batches > 1, "the seed data should take several batches of 100")
        } else {
            #expect(sql.statements(for: .backfill).isEmpty)
        }

        // verify: the scan finds no disagreeing row, constraints validate, checks hold.
        if let scan = sql.verifyScan {
            let row = try #require(try connection.query(scan).first)
            for (group, _) in sql.mismatchConditions {
                #expect(try row.int("change_\(group.changeIndex + 1)") == 0, "change \(group.changeIndex + 1) disagrees with up")
            }
            for (_, condition) in sql.mismatchConditions {
                _ = try connection.query(sql.verifySample(condition: condition))
            }
        }
        try Self.run(sql.verifyValidations, on: connection)
        for check in plan.checks {
            try connection.execute("PREPARE bellows_check AS \(check.sql.text)")
            try connection.execute("DEALLOCATE bellows_check")
            let value = try connection.query(check.sql.text).first?.values.first ?? nil
            #expect(check.expectation.matches(value), "check \(check.name.value)")
        }

        // contract: every statement runs, in a transaction rolled back so rollback can run next.
        try Self.run(sql.contract, on: connection, commit: false)

        // rollback, for real: the table is back to its shape before expand.
        try Self.run(sql.rollback, on: connection)
        let after = try CatalogSnapshot.take(connection, table: plan.table.value)
        #expect(after.shape() == before.shape(), "\(before.difference(to: after))")
    }

    @Test(arguments: planNames)
    func contractRunsForRealAfterExpandAndBackfill(_ name: String) throws {
        let (db, connection) = try Self.takumi("contract", seedRows: 50)
        defer { connection.close(); db.drop() }
        let plan = try Self.plan(name)
        var transition = try #require(TransitionCompiler.compile(plan, table: try Self.offlineCatalog.table(plan.table.value)).transition)
        transition.notNullShape = NotNullShape.preferred(serverVersion: connection.serverVersion)
        let sql = PhaseSQL(transition)
        try Self.run(sql.expand, on: connection)
        if sql.needsBackfill {
            try connection.withTransaction {
                try connection.execute("SET LOCAL bellows.backfill = 'on'")
                let batch = sql.backfillBatch(first: true)
                let upper: [(any PostgresBindable)?] = try #require(try connection.query(sql.backfillUpperBound).first).stringArray("max_key").map { $0 }
                let lastKey = try #require(try connection.query(batch.bound, [1_000_000] + upper).first).stringArray("last_key")
                try connection.execute(batch.update, lastKey.map { $0 })
            }
        }
        try Self.run(sql.verifyValidations, on: connection)
        try Self.run(sql.contract, on: connection)
        // The final shape has the plan's column names.
        let columns = Set(try connection.query("""
            SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
            """, [plan.table.value.quoted]).map { try $0.string("attname") })
        let finals = Set(transition.allTargets.map(\.final))
        #expect(finals.isSubset(of: columns))
        #expect(columns.isDisjoint(with: Set(transition.droppedColumns).subtracting(finals)))
        #expect(!columns.contains { $0.hasPrefix(TransitionNames.reservedPrefix) })
    }

    // MARK: The offline catalog is the live one

    @Test func offlineCatalogEqualsPgCatalog() throws {
        let (db, connection) = try Self.takumi("catalog", seedRows: 10)
        defer { connection.close(); db.drop() }
        let offline = try Self.offlineCatalog
        #expect(!offline.tables.isEmpty)
        for table in offline.tables {
            let name = TableName(schema: table.schema, name: table.name)
            let live = try #require(try CatalogReader.table(connection, name), "\(name) missing in the database")
            #expect(table.columns == live.columns, "\(name): columns")
            #expect(table.primaryKey == live.primaryKey, "\(name): primary key")
            func indexes(_ t: TableInfo) -> [IndexInfo] { t.indexes.sorted { $0.name < $1.name } }
            #expect(indexes(table) == indexes(live), "\(name): indexes")
            // CHECK definitions are normalised by PostgreSQL (parentheses, casts): compare names and columns.
            func constraints(_ t: TableInfo) -> [String] {
                t.constraints.map { "\($0.kind) \($0.name) \($0.columns) \($0.kind == "c" ? "" : $0.definition)" }.sorted()
            }
            #expect(constraints(table) == constraints(live), "\(name): constraints")
        }
    }

    @Test(arguments: planNames)
    func offlineRenderIsWhatTheEngineRuns(_ name: String) throws {
        let (db, connection) = try Self.takumi("parity", seedRows: 10)
        defer { connection.close(); db.drop() }
        let plan = try Self.plan(name)
        let offline = try #require(TransitionCompiler.compile(plan, table: try Self.offlineCatalog.table(plan.table.value)).transition)
        let live = try #require(TransitionCompiler.compile(plan, table: try CatalogReader.table(connection, plan.table.value)).transition)
        for phase in PhaseCommand.allCases {
            var rendered = PhaseSQL(offline).statements(for: phase), run = PhaseSQL(live).statements(for: phase)
            if plan.renameTableTo != nil {
                // A table rename: offline, migrations/ do not show an identity's sequence, which
                // contract renames too (render says so in the statement's purpose; render -d shows it).
                run = run.filter { !$0.sql.hasPrefix("ALTER SEQUENCE") }
                let purposes = Dictionary(run.map { ($0.sql, $0.purpose) }, uniquingKeysWith: { first, _ in first })
                rendered = rendered.map { PhaseStatement($0.mode, purposes[$0.sql] ?? $0.purpose, $0.sql) }
            }
            #expect(rendered == run, "\(phase.rawValue): offline\n\(rendered.map(\.sql).joined(separator: "\n"))\nlive\n\(run.map(\.sql).joined(separator: "\n"))")
        }
    }
}
