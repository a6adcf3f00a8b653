import BellowsEngine
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Runs the built `bellows` binary (next to the test bundle) with stdin from /dev/null.
private func bellows(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    var binary = directory.appendingPathComponent("bellows")
    if !FileManager.default.fileExists(atPath: binary.path) {
        binary = directory.deletingLastPathComponent().appendingPathComponent("bellows")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["BELLOWS_ACTOR"] = "cli-test"
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// Starts the built `bellows` binary in the background; its output goes to files.
private func spawn(_ arguments: [String]) throws -> (process: Process, stdout: String, stderr: String) {
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    var binary = directory.appendingPathComponent("bellows")
    if !FileManager.default.fileExists(atPath: binary.path) {
        binary = directory.deletingLastPathComponent().appendingPathComponent("bellows")
    }
    let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-out-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["BELLOWS_ACTOR"] = "cli-test"
    process.environment = environment
    process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
    process.standardError = FileHandle(forWritingAtPath: base + ".err")
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return (process, base + ".out", base + ".err")
}

/// Polls `sql` (a count `n`) until it is at least `n`; false after 30 s.
private func waitUntil(_ connection: Connection, _ sql: String, atLeast n: Int = 1) throws -> Bool {
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        if try (connection.query(sql).first?.int("n") ?? 0) >= n { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return false
}

/// The pid of a session of this database matching `condition` on `pg_stat_activity`, once one
/// is seen (polled); nil after 30 s.
private func pidWhen(_ connection: Connection, _ condition: String) throws -> Int? {
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        if let pid = try connection.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND \(condition)").first?.int("pid") {
            return pid
        }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
}

/// Runs `bellows migrate` with `arguments` and kills it (SIGKILL) once a session of this
/// database matching `condition` is seen; returns when it is gone.
private func killMigrate(_ arguments: [String], whenSeen condition: String, _ oracle: Connection,
                         sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let run = try spawn(["migrate"] + arguments)
    #expect(try pidWhen(oracle, condition) != nil, "never seen: \(condition)", sourceLocation: sourceLocation)
    kill(run.process.processIdentifier, SIGKILL)
    run.process.waitUntilExit()
}

/// Seconds until no client session of this database but `connection`'s and `except` holds a
/// lock or runs a statement (polled); nil after 30 s.
private func secondsUntilNoSessionHoldsLocks(_ connection: Connection, except: Int32) throws -> Double? {
    let started = Date()
    while Date().timeIntervalSince(started) < 30 {
        let n = try connection.query("""
            SELECT count(*) AS n FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.backend_type = 'client backend'
              AND a.pid <> pg_backend_pid() AND a.pid <> $1
              AND (a.state <> 'idle' OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid))
            """, [except]).first?.int("n") ?? 0
        if n == 0 { return Date().timeIntervalSince(started) }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
}

/// Where an interrupt test runs: a scratch database on the test server, or — when the test
/// restarts the server — a private cluster of its own (``ScratchCluster``, as the rehearsal
/// starts), so that the restart ends no other test's sessions. It runs wherever the rehearsal
/// tests run (the server binaries are found as `bellows rehearse` finds them).
private struct InterruptServer {
    let database: ScratchDatabase?
    let cluster: ScratchCluster?

    init(restartable: Bool) throws {
        if restartable {
            cluster = try ScratchCluster.start()
            database = nil
        } else {
            database = try TestDatabase.create("cli")
            cluster = nil
        }
    }

    var conninfo: String { cluster?.conninfo() ?? database?.conninfo ?? "" }

    func connect() throws -> Connection { try Connection(conninfo) }

    func destroy() {
        database?.drop()
        cluster?.destroy()
    }
}

private func project(_ files: [String: String]) throws -> String {
    let root = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: root + "/migrations/rollback", withIntermediateDirectories: true)
    for (path, text) in files { try text.write(toFile: root + "/migrations/" + path, atomically: true, encoding: .utf8) }
    return root
}

@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrateCLITests {
    @Test func migrateStatusAndRollbackWithExitCodes() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let root = try project([
            "001_items.sql": "CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n",
            "002_tags.sql": "-- Dependencies: 001_items\nCREATE TABLE tags (id int);\n",
            "rollback/002_tags.sql": "DROP TABLE tags;\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]

        let dry = try bellows(["migrate", "--dry-run", "--format", "json"] + common)
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("\"dry_run\":true") && dry.stdout.contains("CREATE TABLE tags (id int)"))

        let first = try bellows(["migrate", "--to", "1"] + common)
        #expect(first.status == 0)
        #expect(first.stdout.contains("001_items  applied in one transaction"))
        let rest = try bellows(["migrate"] + common)
        #expect(rest.status == 0 && rest.stdout.contains("002_tags"))

        let status = try bellows(["migrations", "status", "--format", "json"] + common)
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"state\":\"applied\"") && status.stdout.contains("\"applied_by\":\"cli-test\""))

        // No terminal and no --yes: refused, nothing changed.
        let unconfirmed = try bellows(["migrate", "rollback", "002"] + common)
        #expect(unconfirmed.status == 1)
        #expect(unconfirmed.stdout.contains("table tags, 0 row(s)"))
        #expect(unconfirmed.stderr.contains("pass --yes"))
        let confirmed = try bellows(["migrate", "rollback", "002", "--yes"] + common)
        #expect(confirmed.status == 0)
        let connection = try db.connect()
        #expect(try connection.query("SELECT to_regclass('tags') IS NULL AS gone").first?.bool("gone") == true)

        // Drift: exit 1; a failing statement: exit 3 with file:line:column and SQLSTATE.
        try "-- edited\nCREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n"
            .write(toFile: root + "/migrations/001_items.sql", atomically: true, encoding: .utf8)
        #expect(try bellows(["migrate"] + common).status == 1)
        try "CREATE TABLE broken (id int);\nSELECT nosuch FROM broken;\n".write(toFile: root + "/migrations/003_broken.sql", atomically: true, encoding: .utf8)
        let failed = try bellows(["migrate", "--accept-drift", "001"] + common)
        #expect(failed.status == 3)
        #expect(failed.stderr.contains("migrations/003_broken.sql:2:8: ERROR 42703: column \"nosuch\" does not exist"))
    }

    /// hostile-i 05: `migrate` holds its lock on a second session of its own. A role allowed
    /// one session was refused with exit 3 ("a statement failed") and libpq's "too many
    /// connections" alone; it is now exit 5 (cannot connect) saying it needs two, nothing applied.
    @Test func migrateWithoutASecondSessionExitsFiveSayingItNeedsTwo() throws {
        let db = try TestDatabase.create("cli2s")
        defer { db.drop() }
        let admin = try db.connect()
        defer { admin.close() }
        let role = "bellows_one_session_\(UInt32.random(in: 0...UInt32.max))"
        // pg_virtualenv's cluster asks for the password in PGPASSWORD: the role gets it too.
        let password = ProcessInfo.processInfo.environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            .map { " PASSWORD '" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? ""
        try admin.execute("CREATE ROLE \(role) LOGIN\(password) CONNECTION LIMIT 1")
        defer { _ = try? admin.executeScript("DROP OWNED BY \(role) CASCADE; DROP ROLE \(role)") }
        try admin.execute("GRANT CREATE ON DATABASE \(db.name) TO \(role)")
        try admin.execute("GRANT CREATE ON SCHEMA public TO \(role)")
        let root = try project(["001_items.sql": "CREATE TABLE items (id int);\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo + " user=\(role)", "--project", root]

        let refused = try bellows(["migrate"] + common)
        #expect(refused.status == 5, "\(refused)")
        #expect(refused.stderr.contains("second session") && refused.stderr.contains("CONNECTION LIMIT must allow it two sessions"), "\(refused.stderr)")
        #expect(try admin.query("SELECT to_regclass('items') IS NULL AS gone").first?.bool("gone") == true)

        try admin.execute("ALTER ROLE \(role) CONNECTION LIMIT 2")
        let applied = try bellows(["migrate"] + common)
        #expect(applied.status == 0, "\(applied)")
        #expect(try admin.query("SELECT to_regclass('items') IS NOT NULL AS made").first?.bool("made") == true)
    }

    /// The migration of each kind, the statement to interrupt in it (a condition on
    /// `pg_stat_activity`), and what the audit holds once every statement of it applied once.
    /// The cut statement is the second: what the first did must be kept exactly once (its
    /// own commit in a no-transaction file) or undone (in a transaction, in a block).
    static let interruptible: [String: (sql: String, running: String, applied: [String])] = [
        "transactional": ("INSERT INTO t VALUES (4);\nINSERT INTO t SELECT g FROM generate_series(1, 3) g, pg_sleep(3);\n",
                          "state = 'active' AND query LIKE 'INSERT INTO t SELECT g%'", ["INSERT 1", "INSERT 3"]),
        "no-transaction": ("-- bellows:no-transaction\nINSERT INTO t VALUES (4);\nINSERT INTO t SELECT g FROM generate_series(1, 3) g, pg_sleep(3);\n",
                           "state = 'active' AND query LIKE 'INSERT INTO t SELECT g%'", ["INSERT 1", "INSERT 3"]),
        "no-transaction block": ("-- bellows:no-transaction\nBEGIN;\nINSERT INTO t VALUES (4);\nINSERT INTO t SELECT g FROM generate_series(1, 3) g, pg_sleep(3);\nCOMMIT;\n",
                                 "state = 'active' AND query LIKE 'INSERT INTO t SELECT g%'", ["INSERT 1", "INSERT 3"]),
        "index build": ("INSERT INTO t VALUES (1), (2), (3), (4);\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n",
                        "wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%'", ["CREATE INDEX public.t_id_idx", "INSERT 4"]),
    ]

    /// A run cut in the middle of each kind of statement — killed, stopped by a signal, its
    /// connection terminated, the server restarted — leaves no session holding locks for more
    /// than about a second after it exits, and the next run applies every statement exactly
    /// once. The proof is the server's own audit (``StatementAudit``), not the runner's ledger.
    @Test(arguments: ["SIGKILL", "SIGTERM", "SIGINT", "terminated connection", "restart -m fast", "restart -m immediate"],
          ["transactional", "no-transaction", "no-transaction block", "index build"])
    func anInterruptedRunLeavesNoOrphanAndTheRerunAppliesEachStatementOnce(cut: String, kind: String) throws {
        guard let migration = Self.interruptible[kind] else { return }
        let restart = cut.hasPrefix("restart -m ") ? String(cut.dropFirst("restart -m ".count)) : nil
        let server = try InterruptServer(restartable: restart != nil)
        defer { server.destroy() }
        let root = try project(["001_x.sql": migration.sql])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", server.conninfo, "--project", root]
        var oracle = try server.connect()
        try oracle.executeScript("CREATE TABLE t (id int); CREATE TABLE other (id int);")
        try StatementAudit.install(oracle, tables: ["t"])
        // An old snapshot keeps an index build waiting, so that it is interrupted in the middle.
        let snapshot = try server.connect()
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM other")
        let run = try spawn(["migrate"] + common)
        let running = try pidWhen(oracle, migration.running)
        #expect(running != nil, "the statement was never seen running")
        switch cut {
        case "SIGKILL": kill(run.process.processIdentifier, SIGKILL)
        case "SIGTERM": kill(run.process.processIdentifier, SIGTERM)
        case "SIGINT": kill(run.process.processIdentifier, SIGINT)
        case "terminated connection":
            #expect(try oracle.query("SELECT pg_terminate_backend($1) AS done", [running ?? 0]).first?.bool("done") == true)
        default:
            try server.cluster?.restart(mode: restart ?? "fast")
        }
        run.process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: run.stderr, encoding: .utf8)) ?? ""
        switch cut {
        case "SIGKILL": #expect(run.process.terminationReason == .uncaughtSignal)
        case "SIGTERM", "SIGINT": #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 4, "\(run.process.terminationStatus): \(stderr)")
        default: #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 3, "\(run.process.terminationStatus): \(stderr)")
        }
        if restart != nil { oracle = try server.connect() }
        // No session of the run is left holding a lock (client_connection_check_interval ends an orphan).
        let held = try secondsUntilNoSessionHoldsLocks(oracle, except: snapshot.backendPID)
        #expect(held != nil && held! < 1.5, "a session of the run held locks for \(held ?? -1) s after it exited")
        if restart == nil { try snapshot.execute("COMMIT") }
        let rerun = try bellows(["migrate"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        // Each statement applied exactly once (a leftover INVALID index may have been dropped first).
        #expect(try StatementAudit.entries(oracle).filter { !$0.hasPrefix("DROP INDEX") } == migration.applied)
        #expect(try oracle.query("SELECT count(*) AS n FROM t").first?.int("n") == 4)
        #expect(try oracle.query("SELECT count(*) AS n FROM bellows.migration_progress").first?.int("n") == 0)
        if kind == "index build" {
            #expect(try oracle.query("SELECT indisvalid AS v FROM pg_index WHERE indexrelid = 't_id_idx'::regclass").first?.bool("v") == true)
        }
    }

    /// Issue 16's case: a run killed during an index build (no IF NOT EXISTS) whose orphaned
    /// session goes on — the snapshot it waited for ends at once — and may finish the index
    /// before the server notices its client is gone. Whether the orphan finished it or was
    /// ended, the next run builds it exactly once and records the file (before, every rerun
    /// failed with 42P07 until the index was dropped by hand).
    @Test func aKilledIndexBuildIsBuiltOnceWhetherOrNotItsOrphanFinishedIt() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let oracle = try db.connect()
        try oracle.executeScript("CREATE TABLE t (id int); CREATE TABLE other (id int); INSERT INTO t VALUES (1), (2);")
        try StatementAudit.install(oracle, tables: ["t"])
        let root = try project(["001_t_id_idx.sql": "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]
        let snapshot = try db.connect()
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM other")
        try killMigrate(common, whenSeen: "wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%'", oracle)
        try snapshot.execute("COMMIT")
        let held = try secondsUntilNoSessionHoldsLocks(oracle, except: snapshot.backendPID)
        #expect(held != nil && held! < 1.5, "a session of the run held locks for \(held ?? -1) s after it exited")
        let rerun = try bellows(["migrate"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try StatementAudit.entries(oracle).filter { !$0.hasPrefix("DROP INDEX") } == ["CREATE INDEX public.t_id_idx"])
        #expect(try oracle.query("SELECT indisvalid AS v FROM pg_index WHERE indexrelid = 't_id_idx'::regclass").first?.bool("v") == true)
        #expect(try bellows(["migrate"] + common).stdout.contains("up to date"))
    }

    /// hostile-i 04: `bellows backfill` killed (SIGKILL) while its VACUUM ran beside the batches
    /// left that VACUUM running on the server, which notices a vanished client only when it
    /// next talks to it: the resumed backfill's VACUUMs were all skipped behind its lock. The
    /// VACUUM session has the server check its client every second, and ends with it.
    @Test func aKilledBackfillLeavesNoVacuumRunning() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let watcher = try db.connect()
        defer { watcher.close() }
        // client_connection_check_interval came with PostgreSQL 14.
        guard watcher.serverVersion >= 140000 else { return }
        try watcher.executeScript("""
            CREATE TABLE notes (id bigint PRIMARY KEY, payload text);
            INSERT INTO notes SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 30000) AS g;
            """)
        try watcher.execute("VACUUM ANALYZE notes")
        let root = try project([:])
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        try "table: notes\nchanges:\n  - alter: payload\n    rename_to: body\nbackfill:\n  vacuum_every_rows: 10000\n  pacing: full\n"
            .write(toFile: root + "/plans/001_notes.yaml", atomically: true, encoding: .utf8)
        let expand = try bellows(["expand", "001_notes", "-d", db.conninfo, "--project", root])
        #expect(expand.status == 0, "\(expand.stderr)")
        // 100 ms of sleep for every page: the VACUUM would run for half a minute.
        let slow = db.conninfo + " options='-c vacuum_cost_delay=100ms -c vacuum_cost_limit=1'"
        let run = try spawn(["backfill", "001_notes", "-d", slow, "--project", root, "--batch-size", "1000"])
        let vacuum = try pidWhen(watcher, "application_name = 'bellows vacuum' AND state = 'active' AND query LIKE 'VACUUM%'")
        kill(run.process.processIdentifier, SIGKILL)
        run.process.waitUntilExit()
        let pid = try #require(vacuum, "the backfill's VACUUM was never seen running")
        let deadline = Date().addingTimeInterval(5)
        var gone = false
        while !gone && Date() < deadline {
            gone = try watcher.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]).isEmpty
            if !gone { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(gone, "the killed backfill's VACUUM (pid \(pid)) still runs 5 s later")
    }

    /// Hostile finding 04 (2026-12-02b): a run killed during `REINDEX INDEX CONCURRENTLY` (while
    /// the rebuild waits for an older snapshot) leaves the build's INVALID `t_v_ccnew`, written on
    /// every insert; the rerun reindexed again and reported success over it. The rerun now drops
    /// what the interrupted reindex left, says so, and leaves only the valid index.
    @Test func aKilledReindexConcurrentlyLeavesNoInvalidIndexBehind() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let oracle = try db.connect()
        try oracle.executeScript("""
            CREATE TABLE t (id int, v text); CREATE INDEX t_v ON t (v); CREATE TABLE other (id int);
            INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
            """)
        let root = try project(["001_reindex.sql": "REINDEX INDEX CONCURRENTLY t_v;\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]
        func indexes() throws -> [String] {
            try oracle.query("""
                SELECT c.relname || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END AS name
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 't'::regclass ORDER BY 1
                """).map { try $0.string("name") }
        }
        let snapshot = try db.connect()
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM other")
        try killMigrate(common, whenSeen: "wait_event_type = 'Lock' AND query LIKE 'REINDEX INDEX CONCURRENTLY%'", oracle)
        #expect(try secondsUntilNoSessionHoldsLocks(oracle, except: snapshot.backendPID) != nil)
        try snapshot.execute("COMMIT")
        #expect(try indexes() == ["t_v", "t_v_ccnew INVALID"])

        let rerun = try bellows(["migrate"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect((rerun.stdout + rerun.stderr).contains("t_v_ccnew"), "\(rerun.stdout)\(rerun.stderr)")
        #expect(try indexes() == ["t_v"])
        #expect(try bellows(["migrate"] + common).stdout.contains("up to date"))
    }

    /// A statement of a no-transaction file that a killed run started and Bellows cannot check
    /// by itself (an index drop without IF EXISTS): the next run refuses, naming the statement
    /// and both ways out; `--started done` records it without running it, `--started rerun`
    /// runs it again. The audit shows what ran.
    @Test(arguments: ["done", "rerun"])
    func aStartedStatementOfUnknownOutcomeIsRefusedUntilResolved(resolution: String) throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let oracle = try db.connect()
        try oracle.executeScript("CREATE TABLE t (id int); CREATE INDEX t_id_idx ON t (id);")
        try StatementAudit.install(oracle, tables: ["t"])
        let root = try project(["001_drop_index.sql": "DROP INDEX CONCURRENTLY t_id_idx;\nINSERT INTO t VALUES (1);\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]
        // A transaction that has read t keeps the drop waiting, so that the run is killed in its middle.
        let reader = try db.connect()
        try reader.execute("BEGIN")
        try reader.execute("SELECT count(*) FROM t")
        try killMigrate(common, whenSeen: "wait_event_type = 'Lock' AND query LIKE 'DROP INDEX CONCURRENTLY%'", oracle)
        // The server ends the orphaned drop before the reader lets it go on.
        #expect(try secondsUntilNoSessionHoldsLocks(oracle, except: reader.backendPID) != nil)
        try reader.execute("COMMIT")

        let refused = try bellows(["migrate"] + common)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("001_drop_index.sql:1: statement 1 was started by a run that was killed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("`DROP INDEX CONCURRENTLY t_id_idx`"))
        #expect(refused.stderr.contains("--started done") && refused.stderr.contains("--started rerun"))
        #expect(try StatementAudit.entries(oracle).isEmpty)

        let resolved = try bellows(["migrate", "--started", resolution] + common)
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let index = try oracle.query("SELECT count(*) AS n FROM pg_class WHERE relname = 't_id_idx'").first?.int("n")
        if resolution == "done" {
            #expect(try StatementAudit.entries(oracle) == ["INSERT 1"])
            #expect(index == 1)
        } else {
            #expect(try StatementAudit.entries(oracle) == ["DROP INDEX public.t_id_idx", "INSERT 1"])
            #expect(index == 0)
        }
        #expect(try bellows(["migrate"] + common).stdout.contains("up to date"))
        #expect(try StatementAudit.entries(oracle).count == (resolution == "done" ? 1 : 2))
    }

    @Test func sigtermCancelsTheRunningStatementAndExitsFour() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let root = try project([
            "001_t.sql": "CREATE TABLE t (id int);\n",
            "002_locks.sql": "LOCK TABLE t IN ACCESS EXCLUSIVE MODE;\nINSERT INTO t VALUES (1);\nSELECT pg_sleep(30);\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]
        #expect(try bellows(["migrate", "--to", "1"] + common).status == 0)
        let oracle = try db.connect()
        let run = try spawn(["migrate"] + common)
        #expect(try waitUntil(oracle, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = 'SELECT pg_sleep(30)'"))
        kill(run.process.processIdentifier, SIGTERM)
        run.process.waitUntilExit()
        #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 4)
        let stderr = (try? String(contentsOfFile: run.stderr, encoding: .utf8)) ?? ""
        #expect(stderr.contains("interrupted during 002_locks") && stderr.contains("run `bellows migrate` again to resume"))
        // Its statement was cancelled and its transaction rolled back before it exited: no lock is left.
        #expect(try oracle.query("SELECT count(*) AS n FROM pg_locks WHERE relation = 't'::regclass").first?.int("n") == 0)
        #expect(try oracle.query("SELECT count(*) AS n FROM t").first?.int("n") == 0)
        #expect(try oracle.query("SELECT count(*) AS n FROM bellows.events WHERE outcome = 'interrupted'").first?.int("n") == 1)
    }

    @Test func statusExitsZeroWithAnInvalidFile() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let root = try project(["001_t.sql": "CREATE TABLE t (id int);\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data([0x2D, 0x2D, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: root + "/migrations/002_bad.sql"))
        let status = try bellows(["migrations", "status", "-d", db.conninfo, "--project", root])
        #expect(status.status == 0)
        #expect(status.stdout.contains("002_bad") && status.stdout.contains("invalid"))
    }
}
