import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing
@testable import BellowsEngine

/// A throwaway project directory with `migrations/`, `migrations/rollback/` and `plans/`.
private struct MigrationProject {
    let root: String

    init() throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-migrations-\(UUID().uuidString)")
        for directory in ["migrations/rollback", "plans"] {
            try FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent(directory),
                                                    withIntermediateDirectories: true)
        }
    }

    var project: Project { Project(root: root) }

    func path(_ name: String) -> String { (root as NSString).appendingPathComponent("migrations/\(name).sql") }

    func write(_ name: String, _ sql: String) throws {
        try sql.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    func writeRollback(_ name: String, _ sql: String) throws {
        try sql.write(toFile: (root as NSString).appendingPathComponent("migrations/rollback/\(name).sql"), atomically: true, encoding: .utf8)
    }

    func writePlan(_ name: String) throws {
        try "id: \(name)\n".write(toFile: (root as NSString).appendingPathComponent("plans/\(name).yaml"), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Collects what the runner reports, from any thread.
private final class Notes: @unchecked Sendable {
    private let lock = NSLock()
    private var notes: [EngineNote] = []

    func add(_ note: EngineNote) {
        lock.lock(); defer { lock.unlock() }
        notes.append(note)
    }

    var reporter: Reporter {
        let box = self
        return { note in box.add(note) }
    }

    var infos: [String] {
        lock.lock(); defer { lock.unlock() }
        return notes.compactMap { if case .info(let text) = $0 { return text } else { return nil } }
    }

    var lockWaits: [[Blocker]] {
        lock.lock(); defer { lock.unlock() }
        return notes.compactMap { if case .lockWait(_, _, _, let blockers) = $0 { return blockers } else { return nil } }
    }
}

private func runner(_ files: MigrationProject, _ db: ScratchDatabase, notes: Notes? = nil,
                    configure: (inout MigrationOptions) -> Void = { _ in }) -> MigrationRunner {
    var options = MigrationOptions(conninfo: db.conninfo, actor: "tester")
    options.retryDelayMilliseconds = 10
    configure(&options)
    let silent: Reporter = { _ in }
    return MigrationRunner(project: files.project, options: options, reporter: notes?.reporter ?? silent)
}

private func ledger(_ connection: Connection) throws -> [String] {
    try connection.query("SELECT name FROM bellows.migrations ORDER BY name").map { try $0.string("name") }
}

private func exists(_ connection: Connection, _ relation: String) throws -> Bool {
    try connection.query("SELECT to_regclass($1) IS NOT NULL AS e", [relation]).first?.bool("e") == true
}

private func indexValid(_ connection: Connection, _ index: String) throws -> Bool? {
    try connection.query("SELECT indisvalid AS v FROM pg_index WHERE indexrelid = to_regclass($1)", [index]).first?.bool("v")
}

@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrationRunnerTests {
    @Test func applyingTwiceIsANoOp() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_create_accounts", "-- Migration: 001_create_accounts\n-- Description: accounts\nCREATE TABLE accounts (id int PRIMARY KEY, name text);\n")
        try files.write("002_seed_accounts", "-- Dependencies: 001_create_accounts\nINSERT INTO accounts VALUES (1, 'a'), (2, 'b');\n")

        let first = try runner(files, db).apply()
        #expect(first.map(\.name) == ["001_create_accounts", "002_seed_accounts"])
        #expect(first.allSatisfy { $0.transactional && !$0.dryRun })
        let second = try runner(files, db).apply()
        #expect(second.isEmpty)

        let connection = try db.connect()
        #expect(try connection.query("SELECT count(*) AS n FROM accounts").first?.int("n") == 2)
        let rows = try connection.query("SELECT name, checksum, applied_by, duration_ms, transactional, description FROM bellows.migrations ORDER BY name")
        #expect(rows.count == 2)
        let expected = SHA256.hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: files.path("001_create_accounts")))))
        #expect(try rows[0].string("checksum") == expected)
        #expect(try rows[0].string("applied_by") == "tester")
        #expect(try rows[0].int("duration_ms") >= 0)
        #expect(try rows[0].bool("transactional"))
        #expect(try rows[0].optionalString("description") == "accounts")
        let events = try connection.query("SELECT count(*) AS n FROM bellows.events WHERE command = 'migrate' AND outcome = 'succeeded'")
        #expect(try events.first?.int("n") == 2)
    }

    @Test func aFailingStatementLeavesNoTraceOfItsFile() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_first", "CREATE TABLE first_table (id int);\n")
        try files.write("002_broken", """
            -- Migration: 002_broken
            BEGIN;
            CREATE TABLE second_table (id int);
            INSERT INTO second_table VALUES (1);
            SELECT id
              FROM missing_table;
            CREATE TABLE third_table (id int);
            COMMIT;

            """)
        try files.write("003_after", "CREATE TABLE after_table (id int);\n")

        do {
            try runner(files, db).apply()
            Issue.record("expected the migration to fail")
        } catch let error as MigrationError {
            #expect(error.migration == "002_broken")
            #expect(error.file.hasSuffix("migrations/002_broken.sql"))
            #expect(error.sqlState == "42P01")
            #expect(error.line == 5 && error.column == 1)           // the statement
            #expect(error.errorLine == 6 && error.errorColumn == 8)  // PostgreSQL's position: missing_table
            #expect(error.statementIndex == 2)
            #expect(error.transactional)
            #expect(error.description.hasPrefix("\(error.file):6:8: ERROR 42P01: relation \"missing_table\" does not exist"))
            #expect(error.description.contains("nothing of 002_broken was applied"))
        }
        let connection = try db.connect()
        #expect(try ledger(connection) == ["001_first"])
        #expect(try exists(connection, "first_table"))
        #expect(try !exists(connection, "second_table"))
        #expect(try !exists(connection, "after_table"))
        let failed = try connection.query("SELECT details->>'sqlstate' AS s FROM bellows.events WHERE plan_id = 'migration:002_broken' AND outcome = 'failed'")
        #expect(try failed.first?.string("s") == "42P01")
        #expect(try runner(files, db).status().map(\.state) == [.applied, .pending, .pending])
    }

    @Test func driftIsRefusedUnlessAccepted() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_create", "CREATE TABLE t (id int);\n")
        try runner(files, db).apply()

        try files.write("001_create", "-- reformatted\nCREATE TABLE t (id int);\n")
        try files.write("002_next", "CREATE TABLE u (id int);\n")
        do {
            try runner(files, db).apply()
            Issue.record("expected drift to be refused")
        } catch let refusal as MigrationRefusal {
            #expect(refusal.problems.map(\.gate) == ["drift"])
            #expect(refusal.problems.first?.migration == "001_create")
        }
        let connection = try db.connect()
        #expect(try !exists(connection, "u"))
        #expect(try runner(files, db).status().map(\.state) == [.drifted, .pending])

        let applied = try runner(files, db).apply(acceptDrift: ["001"])
        #expect(applied.map(\.name) == ["002_next"])
        let newChecksum = SHA256.hex("-- reformatted\nCREATE TABLE t (id int);\n")
        #expect(try connection.query("SELECT checksum FROM bellows.migrations WHERE name = '001_create'").first?.string("checksum") == newChecksum)
        let accepted = try connection.query("SELECT details->>'to_checksum' AS c FROM bellows.events WHERE plan_id = 'migration:001_create' AND command = 'accept-drift'")
        #expect(try accepted.first?.string("c") == newChecksum)
        #expect(try runner(files, db).status().map(\.state) == [.applied, .applied])
    }

    @Test func concurrentRunnersApplyEachFileExactlyOnce() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_one", "CREATE TABLE one (id int);\n")
        try files.write("002_slow", "SELECT pg_sleep(0.5);\nCREATE TABLE two (id int);\n")
        try files.write("003_three", "CREATE TABLE three (id int);\n")

        // Hold the runners' lock so that both start waiting, then let them race for it.
        let holder = try db.connect()
        try StateStore.ensure(holder)
        try holder.execute("SELECT pg_advisory_lock(hashtext('bellows'), hashtext($1))", [MigrationRunner.lockKey])
        let notes = [Notes(), Notes()]
        let results = ResultBox()
        let group = DispatchGroup()
        for index in 0..<2 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                do {
                    results.set(index, .success(try runner(files, db, notes: notes[index]).apply().map(\.name)))
                } catch {
                    results.set(index, .failure(error))
                }
            }
        }
        // Release only once both runners wait for the lock (they poll it, outside a transaction).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !notes.allSatisfy({ $0.infos.contains { $0.contains("holds the migration lock") } }) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        try holder.execute("SELECT pg_advisory_unlock(hashtext('bellows'), hashtext($1))", [MigrationRunner.lockKey])
        #expect(group.wait(timeout: .now() + 60) == .success)

        let runs = try (0..<2).map { try results.get($0) }
        #expect(runs.map(\.count).sorted() == [0, 3])
        #expect(notes.allSatisfy { $0.infos.contains { $0.contains("holds the migration lock") } })
        #expect(try ledger(holder) == ["001_one", "002_slow", "003_three"])
        let events = try holder.query("SELECT plan_id, count(*) AS n FROM bellows.events WHERE outcome = 'succeeded' GROUP BY plan_id")
        #expect(events.count == 3)
        #expect(try events.allSatisfy { try $0.int("n") == 1 })
    }

    @Test func aRunnerThatWaitsTooLongIsRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_one", "CREATE TABLE one (id int);\n")
        let holder = try db.connect()
        try holder.execute("SELECT pg_advisory_lock(hashtext('bellows'), hashtext($1))", [MigrationRunner.lockKey])
        do {
            try runner(files, db) { $0.runnerLockWaitMilliseconds = 200 }.apply()
            Issue.record("expected the lock wait to time out")
        } catch let refusal as MigrationRefusal {
            #expect(refusal.problems.first?.gate == "lock")
            #expect(refusal.description.contains("pid \(holder.backendPID)"))
        }
        #expect(try !exists(holder, "one"))
    }

    @Test func nonTransactionalFilesRunOutsideATransaction() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_table", "CREATE TABLE t (id int, v int);\nINSERT INTO t SELECT g, g FROM generate_series(1, 100) g;\n")
        // The migration guide's pattern: CONCURRENTLY wrapped in BEGIN/COMMIT.
        try files.write("002_index", "-- Migration: 002_index\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_v_idx ON t (v);\n")
        try files.write("003_vacuum", "-- bellows:no-transaction\nSET lock_timeout = '1s';\nVACUUM t;\n")

        let plan = try runner(files, db).plan()
        #expect(plan.pending.map(\.transactional) == [true, false, false])
        #expect(plan.pending[1].statements.map(\.sql) == ["CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v_idx ON t (v)"])

        let applied = try runner(files, db).apply()
        #expect(applied.map(\.transactional) == [true, false, false])
        let connection = try db.connect()
        #expect(try indexValid(connection, "t_v_idx") == true)
        #expect(try connection.query("SELECT transactional FROM bellows.migrations WHERE name = '002_index'").first?.bool("transactional") == false)
        #expect(try connection.query("SELECT count(*) AS n FROM bellows.migration_progress").first?.int("n") == 0)
    }

    @Test func aFailedConcurrentIndexBuildIsCleanedUpAndResumed() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_table", "CREATE TABLE t (id int, a int, v int);\nINSERT INTO t VALUES (1, 1, 7), (2, 2, 7);\n")
        // No IF NOT EXISTS on the first index: re-running it would fail, so the resume must skip it.
        try files.write("002_indexes", """
            CREATE INDEX CONCURRENTLY t_a_idx ON t (a);
            CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v);
            CREATE INDEX CONCURRENTLY t_id_v_idx ON t (id, v);

            """)
        do {
            try runner(files, db).apply()
            Issue.record("expected the unique index build to fail")
        } catch let error as MigrationError {
            #expect(error.sqlState == "23505")
            #expect(error.line == 2 && error.column == 1)
            #expect(!error.transactional)
            #expect(error.completedStatements == 1 && error.totalStatements == 3)
            #expect(error.description.contains("resume at statement 2"))
        }
        let connection = try db.connect()
        #expect(try indexValid(connection, "t_a_idx") == true)
        #expect(try indexValid(connection, "t_v_key") == nil)  // the INVALID leftover was dropped
        #expect(try ledger(connection) == ["001_table"])
        let partial = try runner(files, db).status().first { $0.name == "002_indexes" }
        #expect(partial?.state == .partial && partial?.completedStatements == 1 && partial?.totalStatements == 3)

        try connection.execute("UPDATE t SET v = 8 WHERE id = 2")
        let applied = try runner(files, db).apply()
        #expect(applied.first?.statementsResumed == 1 && applied.first?.statementsRun == 2)
        #expect(try indexValid(connection, "t_v_key") == true)
        #expect(try indexValid(connection, "t_id_v_idx") == true)
        #expect(try ledger(connection) == ["001_table", "002_indexes"])
        #expect(try connection.query("SELECT count(*) AS n FROM bellows.migration_progress").first?.int("n") == 0)
    }

    /// hostile-d 15: `SELECT pg_catalog.set_config('search_path', 'app', false)` (pg_dump's
    /// form of SET) and a SET inside a committed BEGIN … COMMIT block were not re-run on
    /// resume, so the remaining index builds landed on `public.widgets`.
    @Test func aResumeSetsAgainTheSearchPathSetConfigAndBlockSetsOfTheAppliedPart() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_schema", """
            CREATE SCHEMA app;
            CREATE SCHEMA other;
            CREATE TABLE app.widgets (id int PRIMARY KEY, name text);
            CREATE TABLE public.widgets (id int PRIMARY KEY, name text);
            CREATE TABLE other.gadgets (id int PRIMARY KEY, name text);
            CREATE TABLE public.gadgets (id int PRIMARY KEY, name text);
            INSERT INTO app.widgets VALUES (1, 'a'), (2, 'a');
            INSERT INTO public.widgets VALUES (1, 'a'), (2, 'b');

            """)
        try files.write("002_unique_names", """
            SELECT pg_catalog.set_config('search_path', 'app', false);
            BEGIN;
            SET statement_timeout = '1min';
            COMMIT;
            CREATE UNIQUE INDEX CONCURRENTLY widgets_name_uq ON widgets (name);
            CREATE INDEX CONCURRENTLY widgets_id_name ON widgets (id, name);
            SELECT set_config('search_path', 'other', false) AS path, set_config('work_mem', '8MB', true);
            CREATE INDEX CONCURRENTLY gadgets_name ON gadgets (name);

            """)
        #expect(throws: MigrationError.self) { try runner(files, db).apply() }
        let connection = try db.connect()
        try connection.execute("UPDATE app.widgets SET name = 'b' WHERE id = 2")
        let applied = try runner(files, db).apply()
        #expect((applied.first?.statementsResumed ?? 0) >= 2)
        let indexes = try connection.query("""
            SELECT indexrelid::regclass::text AS index, indrelid::regclass::text AS table FROM pg_index
            WHERE indrelid IN ('app.widgets'::regclass, 'public.widgets'::regclass, 'other.gadgets'::regclass, 'public.gadgets'::regclass)
              AND NOT indisprimary ORDER BY 1
            """).map { "\(try $0.string("index")) on \(try $0.string("table"))" }
        #expect(indexes == ["app.widgets_id_name on app.widgets", "app.widgets_name_uq on app.widgets",
                            "other.gadgets_name on other.gadgets"])
    }

    @Test func setConfigOfTheSessionIsASessionSetting() {
        func setting(_ sql: String) -> Bool { StatementSplitter.split(sql).first.map(MigrationStatements.isSessionSetting) == true }
        #expect(setting("SELECT pg_catalog.set_config('search_path', '', false)"))
        #expect(setting("select set_config('search_path', 'app', false) as p, set_config('a.b', 'c', true)"))
        #expect(setting("SET search_path = app"))
        #expect(!setting("SELECT set_config('search_path', 'app', true)"))
        #expect(!setting("SELECT set_config('search_path', 'app', false), count(*) FROM t"))
        #expect(!setting("SELECT set_config('search_path', 'app', false) FROM t"))
        #expect(!setting("SELECT now()"))
        #expect(!setting("SET LOCAL search_path = app"))
    }

    @Test func anInvalidIndexLeftBehindIsRebuilt() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_table", "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 7), (2, 7);\n")
        try runner(files, db).apply()
        // A build that failed (or was killed) outside Bellows leaves an INVALID index behind;
        // `IF NOT EXISTS` alone would then skip it silently.
        let connection = try db.connect()
        #expect(throws: PostgresError.self) { try connection.execute("CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v)") }
        #expect(try indexValid(connection, "t_v_key") == false)
        try connection.execute("UPDATE t SET v = 8 WHERE id = 2")

        try files.write("002_unique", "SET lock_timeout = '2s';\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_key ON t (v);\n")
        let notes = Notes()
        try runner(files, db, notes: notes).apply()
        #expect(try indexValid(connection, "t_v_key") == true)
        #expect(notes.infos.contains { $0.contains("t_v_key") && $0.contains("INVALID") })
    }

    @Test func lockTimeoutsAreRetriedThenReported() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_table", "CREATE TABLE t (id int);\n")
        try runner(files, db).apply()
        try files.write("002_alter", "ALTER TABLE t ADD COLUMN note text;\n")

        let blocker = try db.connect()
        try blocker.execute("BEGIN")
        try blocker.execute("LOCK TABLE t IN ACCESS SHARE MODE")
        let notes = Notes()
        do {
            try runner(files, db, notes: notes) { $0.lockTimeoutMilliseconds = 100; $0.lockRetries = 2 }.apply()
            Issue.record("expected a lock timeout")
        } catch let error as MigrationError {
            #expect(error.sqlState == "55P03")
            #expect(error.migration == "002_alter")
        }
        #expect(notes.lockWaits.count == 2)
        #expect(notes.lockWaits.first?.contains { $0.pid == Int(blocker.backendPID) } == true)
        try blocker.execute("ROLLBACK")
        #expect(try runner(files, db).apply().map(\.name) == ["002_alter"])
    }

    @Test func dependenciesAreCheckedBeforeAnythingRuns() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_base", "CREATE TABLE base (id int);\n")
        try files.write("002_needs_missing", "-- Dependencies: 001_base, 007_nowhere\nCREATE TABLE two (id int);\n")
        do {
            try runner(files, db).apply()
            Issue.record("expected a missing dependency to be refused")
        } catch let refusal as MigrationRefusal {
            #expect(refusal.problems.map(\.gate) == ["dependency"])
            #expect(refusal.problems.first?.message.contains("007_nowhere") == true)
        }
        let connection = try db.connect()
        #expect(try !exists(connection, "base"))  // refused before anything ran

        try files.write("002_needs_missing", "-- Dependencies: 003_later\nCREATE TABLE two (id int);\n")
        try files.write("003_later", "CREATE TABLE three (id int);\n")
        let order = try runner(files, db).plan().problems
        #expect(order.map(\.gate) == ["order"])

        try files.write("002_needs_missing", "-- Dependencies: 1, plan:002_widen_profiles_bio\nCREATE TABLE two (id int);\n")
        try files.writePlan("002_widen_profiles_bio")
        // hostile-d 20: a plan not contracted yet (on a fresh database, never run) refused every
        // file, also 001 that creates what the plan needs. The files before the one waiting
        // for the plan are applied and the run stops there.
        #expect(try runner(files, db).plan().waitingForPlan == PlanWait(migration: "002_needs_missing", plan: "002_widen_profiles_bio", phase: "planned"))
        do {
            try runner(files, db).apply()
            Issue.record("expected the run to stop before the file waiting for the plan")
        } catch let waiting as MigrationWaitingForPlan {
            #expect(waiting.applied.map(\.name) == ["001_base"])
            #expect(waiting.wait.plan == "002_widen_profiles_bio" && waiting.wait.phase == "planned")
            #expect(waiting.description.contains("bellows advance 002_widen_profiles_bio --through contract"))
        }
        #expect(try ledger(connection) == ["001_base"])
        #expect(try !exists(connection, "two"))
        try connection.execute("""
            INSERT INTO bellows.plans (id, checksum, table_name, phase) VALUES ('002_widen_profiles_bio', 'x', 'profiles', 'contracted')
            """)
        #expect(try runner(files, db).apply().count == 2)
    }

    @Test func rollbackRemovesTheObjectsAndTheLedgerRowAtomically() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_people", "CREATE TABLE people (id int PRIMARY KEY);\nINSERT INTO people SELECT generate_series(1, 3);\n")
        try files.write("002_extras", "-- Dependencies: 001_people\nALTER TABLE people ADD COLUMN note text;\nUPDATE people SET note = 'n' WHERE id < 3;\nCREATE TABLE extras (id int);\n")
        try files.writeRollback("001_people", "DROP TABLE people;\n")
        try files.writeRollback("002_extras", "ALTER TABLE people DROP COLUMN note;\nDROP TABLE extras;\nSELECT 1/0;\n")
        try runner(files, db).apply()
        let connection = try db.connect()

        let preview = try runner(files, db).rollbackPreview("002")
        #expect(preview.migration == "002_extras")
        #expect(preview.transactional)
        #expect(preview.losses.map(\.kind) == [.column, .table])
        #expect(preview.losses.map(\.object) == ["people.note", "extras"])
        #expect(preview.losses.map(\.rows) == [2, 0])
        #expect(preview.losses.allSatisfy { $0.exists == true })

        // A failing rollback file changes nothing: the column, the table and the ledger row stay.
        do {
            try runner(files, db).rollback("002")
            Issue.record("expected the rollback to fail")
        } catch let error as MigrationError {
            #expect(error.isRollback && error.sqlState == "22012")
            #expect(error.file.hasSuffix("migrations/rollback/002_extras.sql") && error.line == 3)
        }
        #expect(try exists(connection, "extras"))
        #expect(try ledger(connection) == ["001_people", "002_extras"])

        // An applied migration depends on 001: refused unless forced.
        #expect(throws: MigrationRefusal.self) { try runner(files, db).rollback("001") }

        try files.writeRollback("002_extras", "ALTER TABLE people DROP COLUMN note;\nDROP TABLE extras;\n")
        try runner(files, db).rollback("002_extras")
        #expect(try !exists(connection, "extras"))
        #expect(try connection.query("SELECT count(*) AS n FROM pg_attribute WHERE attrelid = 'people'::regclass AND attname = 'note'").first?.int("n") == 0)
        #expect(try ledger(connection) == ["001_people"])
        #expect(try runner(files, db).status().map(\.state) == [.applied, .pending])
        try runner(files, db).rollback("1")
        #expect(try ledger(connection).isEmpty)
    }

    @Test func dryRunChangesNothing() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_a", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n")
        try files.write("002_b", "CREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n")

        let dry = try runner(files, db).apply(dryRun: true)
        #expect(dry.map(\.name) == ["001_a", "002_b"])
        #expect(dry.allSatisfy { $0.dryRun })
        let plan = try runner(files, db).plan()
        #expect(plan.pending.map { $0.statements.count } == [1, 1])
        #expect(plan.pending[1].nonTransactionalReason?.contains("CREATE INDEX CONCURRENTLY") == true)
        let connection = try db.connect()
        #expect(try !exists(connection, "a"))
        #expect(try connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'bellows'").first?.int("n") == 0)
    }

    @Test func statusShowsAppliedPendingDriftedAndMissingFiles() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_a", "CREATE TABLE a (id int);\n")
        try files.write("002_b", "CREATE TABLE b (id int);\n")
        try files.write("003_c", "CREATE TABLE c (id int);\n")
        try files.write("004_d", "CREATE TABLE d (id int);\n")
        #expect(try runner(files, db).apply(to: 3).map(\.name) == ["001_a", "002_b", "003_c"])

        try files.write("002_b", "CREATE TABLE b (id bigint);\n")
        try FileManager.default.removeItem(atPath: files.path("003_c"))
        let status = try runner(files, db).status()
        #expect(status.map(\.name) == ["001_a", "002_b", "003_c", "004_d"])
        #expect(status.map(\.state) == [.applied, .drifted, .missingFile, .pending])
        #expect(status[0].appliedBy == "tester" && status[0].appliedAt != nil && status[0].durationMilliseconds != nil)
        #expect(status[1].appliedChecksum != status[1].fileChecksum)
    }

    @Test func theProjectsOwnMigrationsApplyAndRollBack() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let runner = MigrationRunner(project: Project(root: root), options: MigrationOptions(conninfo: db.conninfo, actor: "tester"))

        let applied = try runner.apply()
        #expect(applied.map(\.name) == ["001_initial_schema", "002_claims_by_status_index"])
        #expect(applied.map(\.transactional) == [true, false])
        let connection = try db.connect()
        #expect(try exists(connection, "skill_claims"))
        #expect(try indexValid(connection, "skill_claims_status_idx") == true)
        #expect(try runner.apply().isEmpty)

        try runner.rollback("002")
        #expect(try indexValid(connection, "skill_claims_status_idx") == nil)
        let preview = try runner.rollbackPreview("001")
        #expect(preview.losses.filter { $0.kind == .table }.count == 8)
        try runner.rollback("001")
        #expect(try !exists(connection, "skill_claims"))
        #expect(try ledger(connection).isEmpty)
    }
}

/// Results of the concurrent runs, written from two threads.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<[String], Error>] = [:]

    func set(_ index: Int, _ result: Result<[String], Error>) {
        lock.lock(); defer { lock.unlock() }
        results[index] = result
    }

    func get(_ index: Int) throws -> [String] {
        lock.lock(); defer { lock.unlock() }
        guard let result = results[index] else { throw PostgresError(kind: .client, message: "run \(index) did not finish") }
        return try result.get()
    }
}

/// The parts that need no database.
@Suite struct MigrationRunnerOfflineTests {
    @Test func errorsReadFileLineColumnSQLStateDetailHint() {
        let error = MigrationError(
            migration: "004_x", file: "migrations/004_x.sql", line: 3, column: 1, errorLine: 4, errorColumn: 9,
            statementIndex: 1, statement: "SELECT *\n  FROM nope", sqlState: "42P01", message: "relation \"nope\" does not exist",
            detail: "some detail", hint: "some hint", context: nil, transactional: true, isRollback: false,
            completedStatements: 0, totalStatements: 2, underlying: nil)
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(lines[0] == "migrations/004_x.sql:4:9: ERROR 42P01: relation \"nope\" does not exist")
        #expect(lines[1] == "DETAIL: some detail")
        #expect(lines[2] == "HINT: some hint")
        #expect(error.description.contains("in statement 2 of 2 (migrations/004_x.sql:3:1)"))
    }

    @Test func positionsInsideAStatementMapToTheFile() {
        #expect(MigrationError.filePosition(of: 1, in: "SELECT x", line: 5, column: 3) == (5, 3))
        #expect(MigrationError.filePosition(of: 8, in: "SELECT x", line: 5, column: 3) == (5, 10))
        #expect(MigrationError.filePosition(of: 13, in: "SELECT *\n  FROM t", line: 5, column: 3) == (6, 4))
        #expect(MigrationError.filePosition(of: 4, in: "é é x", line: 1, column: 1) == (1, 4))
    }

    @Test func rollbackScanFindsWhatIsDestroyed() {
        let sql = """
            DROP TABLE IF EXISTS a, s.b CASCADE;
            ALTER TABLE ONLY c DROP COLUMN IF EXISTS x, DROP y, ALTER COLUMN z DROP NOT NULL, DROP CONSTRAINT c_ck;
            DROP INDEX CONCURRENTLY IF EXISTS "Idx";
            DROP TYPE claim_status;
            TRUNCATE TABLE d;
            DROP FUNCTION f();
            CREATE TABLE keep (id int);
            """
        let statements = MigrationRunner.statements(of: MigrationFile.analyze(sql))
        let losses = MigrationStatements.losses(in: statements)
        #expect(losses.map(\.kind) == [.table, .table, .column, .column, .other, .index, .type, .rows, .other])
        #expect(losses.map(\.object).prefix(8) == ["a", "s.b", "c.x", "c.y", "constraint c_ck on c", "Idx", "claim_status", "d"])
        #expect(losses.last?.line == 6)
    }

    @Test func concurrentIndexBuildsAreRecognised() {
        func build(_ sql: String) -> ConcurrentIndexBuild? {
            StatementSplitter.split(sql).first.flatMap(MigrationStatements.concurrentIndexBuild)
        }
        #expect(build("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY s.t (x)")
                == ConcurrentIndexBuild(indexName: "i", table: SQLName(schema: "s", name: "t"), ifNotExists: true))
        #expect(build("create index concurrently on \"T\" using btree (x)")
                == ConcurrentIndexBuild(indexName: nil, table: SQLName(schema: nil, name: "T"), ifNotExists: false))
        #expect(build("CREATE INDEX i ON t (x)") == nil)
    }

    /// What a `REINDEX … CONCURRENTLY` rebuilds, for dropping what a killed one left (finding 04).
    @Test func concurrentReindexesAreRecognised() {
        func reindex(_ sql: String) -> ConcurrentReindex? {
            StatementSplitter.split(sql).first.flatMap(MigrationStatements.concurrentReindex)
        }
        #expect(reindex("REINDEX INDEX CONCURRENTLY s.t_v") == ConcurrentReindex(scope: .index, name: SQLName(schema: "s", name: "t_v")))
        #expect(reindex("reindex (verbose, concurrently) table \"T\"") == ConcurrentReindex(scope: .table, name: SQLName(schema: nil, name: "T")))
        #expect(reindex("REINDEX (CONCURRENTLY true, TABLESPACE x) SCHEMA app") == ConcurrentReindex(scope: .schema, name: SQLName(schema: nil, name: "app")))
        #expect(reindex("REINDEX DATABASE CONCURRENTLY") == ConcurrentReindex(scope: .database, name: nil))
        #expect(reindex("REINDEX INDEX t_v") == nil)
        #expect(reindex("REINDEX (CONCURRENTLY false) INDEX t_v") == nil)
    }
}

/// The refusal `body` throws, or nil (recorded as an issue) when it does not refuse.
private func refusal(_ body: () throws -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> MigrationRefusal? {
    do {
        try body()
        Issue.record("expected a refusal", sourceLocation: sourceLocation)
    } catch let refusal as MigrationRefusal {
        return refusal
    } catch {
        Issue.record("expected a refusal, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

private func count(_ connection: Connection, _ sql: String) throws -> Int {
    try connection.query(sql).first?.int("n") ?? -1
}

/// Issue 16: files the runner must refuse or run exactly as written.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrationSafetyTests {
    @Test func aNulByteIsRefusedBeforeAnythingRuns() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 5);\n")
        try runner(files, db).apply()
        try files.write("002_delete_one", "-- one row only\nDELETE FROM t \u{0}WHERE id = 5;\n")

        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.gate } == ["file"])
        #expect(refused?.problems.first?.message.contains("migrations/002_delete_one.sql:2:15: a NUL byte") == true)
        #expect(throws: MigrationRefusal.self) { try runner(files, db).apply(dryRun: true) }
        let connection = try db.connect()
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 5)
        #expect(try ledger(connection) == ["001_t"])
    }

    @Test func aFileThatRollsItselfBackIsRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 5);\n")
        try runner(files, db).apply()
        try files.write("002_try", "BEGIN;\nDELETE FROM t;\nROLLBACK;\n")

        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.first?.message.contains("migrations/002_try.sql:3:1: the file's own `ROLLBACK`") == true)
        let connection = try db.connect()
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 5)
        #expect(try ledger(connection) == ["001_t"])

        // A COMMIT in the middle cannot keep its meaning inside the runner's transaction either.
        try files.write("002_try", "BEGIN;\nDELETE FROM t WHERE id = 1;\nCOMMIT;\nDELETE FROM t WHERE id = 2;\n")
        #expect(refusal { try runner(files, db).apply() }?.problems.first?.message.contains("002_try.sql:3:1: `COMMIT` that does not close") == true)
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 5)
    }

    @Test func theFilesOwnBeginKeepsItsOptionsAndSavepointsKeepTheirMeaning() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int, note text);\n")
        try files.write("002_serializable", """
            BEGIN ISOLATION LEVEL SERIALIZABLE;
            INSERT INTO t VALUES (1, current_setting('transaction_isolation'));
            SAVEPOINT maybe;
            INSERT INTO t VALUES (2, 'undone');
            ROLLBACK TO SAVEPOINT maybe;
            INSERT INTO t VALUES (3, 'kept');
            COMMIT;

            """)
        try runner(files, db).apply()
        let connection = try db.connect()
        let rows = try connection.query("SELECT id, note FROM t ORDER BY id").map { "\(try $0.int("id")):\(try $0.string("note"))" }
        #expect(rows == ["1:serializable", "3:kept"])
    }

    @Test func blocksOfANonTransactionalFileRunAsOneTransaction() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int PRIMARY KEY);\n")
        try files.write("002_mixed", """
            CREATE INDEX CONCURRENTLY t_id_idx ON t (id);
            BEGIN;
            INSERT INTO t VALUES (1);
            INSERT INTO t VALUES (1);
            COMMIT;

            """)
        do {
            try runner(files, db).apply()
            Issue.record("expected the duplicate key to fail")
        } catch let error as MigrationError {
            #expect(error.sqlState == "23505")
            #expect(error.completedStatements == 1)
        }
        let connection = try db.connect()
        // psql would have rolled the whole block back: so does the runner.
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 0)
        #expect(try count(connection, "SELECT count(*) AS n FROM bellows.migration_progress") == 1)

        // The guide's BEGIN; CREATE INDEX CONCURRENTLY; COMMIT; fails in psql: refused.
        try files.write("003_guide", "BEGIN;\nCREATE INDEX CONCURRENTLY t2_idx ON t (id);\nCOMMIT;\n")
        #expect(refusal { try runner(files, db).apply() }?.problems.first?.message.contains("003_guide.sql:2:1: `CREATE INDEX CONCURRENTLY` inside the file's BEGIN") == true)
    }

    @Test func aFileThatSetsARoleIsRecordedAsTheRunner() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        let role = "bellows_owner_" + String(db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        let connection = try db.connect()
        try connection.executeScript("DROP ROLE IF EXISTS \(role); CREATE ROLE \(role); GRANT CREATE ON SCHEMA public TO \(role)")
        defer { _ = try? connection.executeScript("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)") }
        try files.write("001_owned", "SET ROLE \(role);\nCREATE TABLE owned (id int);\n")
        try files.write("002_owned_index", "SET ROLE \(role);\nCREATE INDEX CONCURRENTLY owned_idx ON owned (id);\nINSERT INTO owned VALUES (1);\n")

        try runner(files, db).apply()
        #expect(try ledger(connection) == ["001_owned", "002_owned_index"])
        #expect(try connection.query("SELECT tableowner FROM pg_tables WHERE tablename = 'owned'").first?.string("tableowner") == role)
    }

    @Test func copyFromStdinIsRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\nCOPY t FROM stdin;\n1\n2\n\\.\n")
        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.migration } == ["001_t"])
        #expect(refused?.problems.first?.message.contains("001_t.sql:2:1: `COPY … FROM STDIN`") == true)
        let connection = try db.connect()
        #expect(try !exists(connection, "t"))
    }

    /// A file with no statement (only its header, say) is refused, never recorded as applied.
    @Test func anEmptyFileIsRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try files.write("002_empty", "-- Migration: 002_empty\n-- to be written\n")
        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.migration } == ["002_empty"])
        #expect(refused?.problems.first?.message.contains("no SQL statement") == true)
        let connection = try db.connect()
        #expect(try !exists(connection, "t"))
        #expect(try ledger(connection).isEmpty)
    }

    @Test func aRenamedAppliedFileIsRecognisedOrRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try files.write("002_seed", "INSERT INTO t VALUES (1), (2), (3);\n")
        try runner(files, db).apply()
        let connection = try db.connect()

        // A pure rename: same number, same checksum: the ledger takes the new name.
        try FileManager.default.moveItem(atPath: files.path("002_seed"), toPath: files.path("002_seed_rows"))
        #expect(try runner(files, db).status().map(\.state) == [.applied, .renamed])
        let notes = Notes()
        #expect(try runner(files, db, notes: notes).apply().isEmpty)
        #expect(notes.infos.contains { $0.contains("002_seed_rows: the file of 002_seed was renamed") })
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 3)
        #expect(try ledger(connection) == ["001_t", "002_seed_rows"])

        // Renamed and edited: refused, never applied a second time.
        try FileManager.default.removeItem(atPath: files.path("002_seed_rows"))
        try files.write("002_seed_more", "INSERT INTO t VALUES (1), (2), (3);\n-- and more\n")
        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.gate } == ["rename"])
        #expect(refused?.problems.first?.message.contains("has the number of 002_seed_rows") == true)
        // Renumbered with the same content: refused too.
        try FileManager.default.removeItem(atPath: files.path("002_seed_more"))
        try files.write("003_seed", "INSERT INTO t VALUES (1), (2), (3);\n")
        #expect(refusal { try runner(files, db).apply() }?.problems.first?.message.contains("exactly the content of 002_seed_rows") == true)
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 3)
    }

    @Test func twoFilesWithOneNumberAreRefused() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try files.write("002_a", "INSERT INTO t VALUES (1);\n")
        try files.write("002_b", "INSERT INTO t VALUES (2);\n")
        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.migration } == ["002_a", "002_b"])
        #expect(refused?.problems.first?.message.contains("shares its number 002 with 002_b") == true)
    }

    @Test func toNeedsAnExistingNumber() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        for (name, sql) in [("001_t", "CREATE TABLE t (id int);\n"), ("005_u", "CREATE TABLE u (id int);\n"), ("010_v", "CREATE TABLE v (id int);\n")] {
            try files.write(name, sql)
        }
        for target in [15, 0] {
            do {
                try runner(files, db).apply(to: target)
                Issue.record("--to \(target) should be refused")
            } catch BellowsError.usage(let message) {
                #expect(message.contains("no migration is numbered \(String(format: "%03d", target)) (the files are numbered 001–010)"))
            }
        }
        #expect(try runner(files, db).apply(to: 5).map(\.name) == ["001_t", "005_u"])
    }

    @Test func dependenciesMayNameTheFileAndUpperCaseExtensionsCount() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try "-- Dependencies: 001_t.sql\nINSERT INTO t VALUES (1);\n".write(toFile: files.root + "/migrations/002_x.SQL", atomically: true, encoding: .utf8)
        #expect(try runner(files, db).apply().map(\.name) == ["001_t", "002_x"])
        let connection = try db.connect()
        #expect(try count(connection, "SELECT count(*) AS n FROM t") == 1)
    }

    @Test func statusShowsAnInvalidFileWithoutFailing() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try Data([0x2D, 0x2D, 0x20, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: files.path("002_latin1")))
        let lines = try runner(files, db).status()
        #expect(lines.map(\.state) == [.pending, .invalid])
        #expect(lines.last?.problem?.contains("not UTF-8") == true)
        #expect(refusal { try runner(files, db).apply() }?.problems.map { $0.gate } == ["file"])
    }


    /// Starts `apply()` of `count` runners on other threads.
    private func applyInBackground(_ count: Int, _ files: MigrationProject, _ db: ScratchDatabase,
                                   notes: Notes? = nil, configure: @escaping @Sendable (inout MigrationOptions) -> Void = { _ in })
        -> (ResultBox, DispatchGroup) {
        let results = ResultBox()
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                do {
                    results.set(index, .success(try runner(files, db, notes: notes, configure: configure).apply().map(\.name)))
                } catch {
                    results.set(index, .failure(error))
                }
            }
        }
        return (results, group)
    }

    /// Two or three runners waiting together when the lock comes free, on files that build
    /// indexes concurrently: a waiting runner holds no snapshot, so no build waits for it (no
    /// 40P01), and every file is applied once — by the server's own audit, not the ledger.
    @Test(arguments: [2, 3]) func runnersStartedTogetherOnConcurrentIndexBuildsAllSucceed(runners: Int) throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        let holder = try db.connect()
        try holder.execute("CREATE TABLE t (id int, a int, b int)")
        try StatementAudit.install(holder, tables: ["t"])
        try files.write("001_t", "INSERT INTO t SELECT g, g % 97, g % 89 FROM generate_series(1, 200000) g;\n")
        try files.write("002_a_idx", "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n")
        try files.write("003_b_idx", "CREATE INDEX CONCURRENTLY t_b_idx ON t (b);\nINSERT INTO t VALUES (0, 0, 0);\n")
        try files.write("004_ab_idx", "CREATE UNIQUE INDEX CONCURRENTLY t_id_idx ON t (id);\n")
        // The test holds the runners' lock until every runner has tried it and waits: then
        // they all start at once, and the losers wait while the winner builds its indexes.
        try StateStore.ensure(holder)
        try holder.execute("SELECT pg_advisory_lock(hashtext('bellows'), hashtext($1))", [MigrationRunner.lockKey])
        let notes = Notes()
        let (results, group) = applyInBackground(runners, files, db, notes: notes)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, notes.infos.filter({ $0.contains("holds the migration lock") }).count < runners {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(notes.infos.filter { $0.contains("holds the migration lock") }.count == runners)
        #expect(try count(holder, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows migrate (lock)'") == runners)
        try holder.execute("SELECT pg_advisory_unlock(hashtext('bellows'), hashtext($1))", [MigrationRunner.lockKey])
        #expect(group.wait(timeout: .now() + 120) == .success)

        let outcomes = (0..<runners).map { index in Result { try results.get(index) } }
        for case .failure(let error) in outcomes { Issue.record("a runner failed: \(error)") }
        let applied = outcomes.compactMap { try? $0.get() }
        #expect(applied.flatMap { $0 }.sorted() == ["001_t", "002_a_idx", "003_b_idx", "004_ab_idx"])
        #expect(applied.filter { !$0.isEmpty }.count == 1)
        #expect(try StatementAudit.entries(holder) == [
            "CREATE INDEX public.t_a_idx", "CREATE INDEX public.t_b_idx", "CREATE INDEX public.t_id_idx", "INSERT 1", "INSERT 200000",
        ])
        for index in ["t_a_idx", "t_b_idx", "t_id_idx"] { #expect(try indexValid(holder, index) == true) }
    }

    @Test func discardAllInAFileDoesNotReleaseTheRunnersLock() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\n")
        try runner(files, db).apply()
        try files.write("002_discard", "DISCARD ALL;\nINSERT INTO t SELECT 1 FROM pg_sleep(0.5);\nRESET ALL;\nINSERT INTO t VALUES (2);\n")
        let observer = try db.connect()
        let (first, group) = applyInBackground(1, files, db)
        // Start the second runner while the first one's INSERT runs, after its DISCARD ALL.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, try count(observer, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'INSERT INTO t SELECT 1 FROM pg_sleep%' AND state = 'active'") == 0 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let second = try runner(files, db).apply()
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(try first.get(0) == ["002_discard"])
        #expect(second.isEmpty)
        #expect(try count(observer, "SELECT count(*) AS n FROM t") == 2)
        #expect(try count(observer, "SELECT count(*) AS n FROM bellows.events WHERE outcome = 'succeeded'") == 2)
    }

    /// Hostile finding 07 (2026-12-02b): with `idle_session_timeout` set on the database, the
    /// server ended the idle session holding the runners' lock 200 ms into the run, and
    /// the rest of the run went on without it. The lock's session now sets it to 0 for itself.
    @Test func idleSessionTimeoutDoesNotEndTheRunnersLock() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let admin = try db.connect()
        try admin.execute("ALTER DATABASE \(SQLQuote.identifier(db.name)) SET idle_session_timeout = '200ms'")
        let files = try MigrationProject()
        defer { files.remove() }
        // The runners' lock, held in this database (other tests' runners hold theirs meanwhile).
        try files.write("001_slow", """
            CREATE TABLE log (locks int);
            SELECT pg_sleep(2);
            INSERT INTO log SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database());
            """)
        let applied = try runner(files, db).apply()
        #expect(applied.map(\.name) == ["001_slow"])
        #expect(try count(admin, "SELECT locks AS n FROM log") == 1)
    }

    /// Finding 07's second half: a runner whose lock session is ended under it (here
    /// `pg_terminate_backend`) stops with an error naming the lost lock, before recording the
    /// file (a transactional file is rolled back) or running its next statement (a
    /// no-transaction file); before, it went on and reported success.
    @Test(arguments: [true, false])
    func aLostLockSessionStopsTheRun(transactional: Bool) throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let admin = try db.connect()
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_slow", (transactional ? "" : "-- bellows:no-transaction\n") + "SELECT pg_sleep(3);\nCREATE TABLE t (id int);\n")
        let killer = DispatchGroup()
        killer.enter()
        DispatchQueue.global().async {
            defer { killer.leave() }
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let n = (try? admin.query("""
                    SELECT count(pg_terminate_backend(l.pid)) AS n
                    FROM pg_stat_activity l, pg_stat_activity w
                    WHERE l.datname = current_database() AND l.application_name = 'bellows migrate (lock)'
                      AND w.datname = current_database() AND w.query LIKE '%pg_sleep(3)%' AND w.state = 'active'
                      AND w.pid <> pg_backend_pid()
                    """).first?.int("n")) ?? 0
                if n > 0 { return }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        let error = #expect(throws: MigrationError.self) { try runner(files, db).apply() }
        #expect(killer.wait(timeout: .now() + 30) == .success)
        #expect(error?.message.contains("the session holding the migration lock") == true, "\(String(describing: error))")
        #expect(try exists(admin, "t") == false)
        #expect(try ledger(admin).isEmpty)
    }

    @Test func anIndexBuildBehindAnOldSnapshotWaitsAndSaysForWhom() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int, v int);\nINSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;\nCREATE TABLE other (id int);\n")
        try runner(files, db).apply()
        try files.write("002_t_v_idx", "CREATE INDEX CONCURRENTLY t_v_idx ON t (v);\n")
        // A long transaction on another table, as a pg_dump would be.
        let dump = try db.connect()
        try dump.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try dump.execute("SELECT count(*) FROM other")
        let notes = Notes()
        let (result, group) = applyInBackground(1, files, db, notes: notes) { $0.lockTimeoutMilliseconds = 200; $0.lockRetries = 1 }
        // The build waits for the old snapshot, and the runner says so while it waits.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !notes.infos.contains(where: { $0.contains("waits for pid \(dump.backendPID)") }) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let report = notes.infos.first { $0.contains("waits for pid \(dump.backendPID)") }
        #expect(report?.contains("a snapshot older than the build") == true)
        #expect(report?.contains("SELECT count(*) FROM other") == true)
        try dump.execute("COMMIT")
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(try result.get(0) == ["002_t_v_idx"])
        #expect(try indexValid(dump, "t_v_idx") == true)
        #expect(!notes.infos.contains { $0.contains("INVALID") })
        #expect(notes.lockWaits.isEmpty)
    }

    @Test func theLossPreviewFollowsCascadesAndNullingUpdates() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_all", """
            CREATE SCHEMA s;
            CREATE TABLE s.a (id int);
            INSERT INTO s.a SELECT generate_series(1, 3);
            CREATE TABLE p (id int PRIMARY KEY);
            INSERT INTO p SELECT generate_series(1, 5);
            CREATE TABLE c (p_id int REFERENCES p);
            INSERT INTO c SELECT generate_series(1, 5);
            CREATE TABLE gc (c_id int);
            CREATE TYPE mood AS ENUM ('ok', 'sad');
            CREATE TABLE t (id int, m mood);
            INSERT INTO t VALUES (1, 'ok'), (2, 'sad'), (3, NULL);
            CREATE TABLE u (id int, x text, y text);
            INSERT INTO u VALUES (1, 'a', 'b'), (2, 'c', NULL), (3, NULL, NULL), (4, 'd', 'e');

            """)
        try files.writeRollback("001_all", """
            DROP SCHEMA s CASCADE;
            TRUNCATE p CASCADE;
            DROP TYPE mood CASCADE;
            UPDATE u SET x = NULL, y = upper(y);
            UPDATE ONLY u SET y = NULL WHERE id > 1;

            """)
        try runner(files, db).apply()
        let preview = try runner(files, db).rollbackPreview("001")
        let shown = preview.losses.map { "\($0.kind.rawValue) \($0.object) \($0.rows.map(String.init) ?? "-")" + ($0.via.map { " via \($0)" } ?? "") }
        #expect(shown == [
            "schema s -", "table s.a 3 via DROP SCHEMA s CASCADE",
            "rows p 5", "rows public.c 5 via TRUNCATE p CASCADE",
            "type mood -", "column public.t.m 2 via DROP TYPE mood CASCADE",
            "values u.x 3", "values u.y 2",
        ])
        #expect(preview.losses.last?.statement != nil)
    }

    @Test func aFailedRollbackOutsideATransactionIsNotShownAsApplied() throws {
        let db = try TestDatabase.create("mig")
        defer { db.drop() }
        let files = try MigrationProject()
        defer { files.remove() }
        try files.write("001_t", "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n")
        try files.writeRollback("001_t", "DROP INDEX CONCURRENTLY t_id_idx;\nDROP TABLE t_misspelt;\n")
        try runner(files, db).apply()
        #expect(throws: MigrationError.self) { try runner(files, db).rollback("001") }
        #expect(try runner(files, db).status().map(\.state) == [.rollbackPartial])
        let refused = refusal { try runner(files, db).apply() }
        #expect(refused?.problems.map { $0.gate } == ["rollback"])
        // Fixed and run again, the rollback finishes and the marker goes.
        try files.writeRollback("001_t", "DROP INDEX CONCURRENTLY IF EXISTS t_id_idx;\nDROP TABLE t;\n")
        try runner(files, db).rollback("001")
        #expect(try runner(files, db).status().map(\.state) == [.pending])
        let connection = try db.connect()
        #expect(try count(connection, "SELECT count(*) AS n FROM bellows.migration_progress") == 0)
    }
}
