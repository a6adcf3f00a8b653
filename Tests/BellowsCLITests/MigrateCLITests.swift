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

/// Seconds until no session runs a statement matching `pattern` (polled); nil after 30 s.
private func secondsUntilGone(_ connection: Connection, _ pattern: String) throws -> Double? {
    let started = Date()
    while Date().timeIntervalSince(started) < 30 {
        let n = try connection.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid() AND datname = current_database()", [pattern]).first?.int("n") ?? 0
        if n == 0 { return Date().timeIntervalSince(started) }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
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

    /// The second migration of each kind, and the statement to interrupt in it.
    static let interruptible: [String: (sql: String, running: String)] = [
        "transactional": ("INSERT INTO t SELECT g FROM generate_series(1, 3) g, pg_sleep(3);\nINSERT INTO t VALUES (4);\n",
                          "state = 'active' AND query LIKE 'INSERT INTO t SELECT g%'"),
        "no-transaction": ("-- bellows:no-transaction\nINSERT INTO t SELECT g FROM generate_series(1, 3) g, pg_sleep(3);\nINSERT INTO t VALUES (4);\n",
                           "state = 'active' AND query LIKE 'INSERT INTO t SELECT g%'"),
        "index build": ("INSERT INTO t VALUES (1), (2), (3), (4);\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n",
                        "wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%'"),
    ]

    /// A run killed or stopped in the middle of each kind of statement: no statement of it
    /// runs on for more than about a second, and the next run applies every statement once.
    @Test(arguments: [SIGKILL, SIGTERM, SIGINT], ["transactional", "no-transaction", "index build"])
    func anInterruptedRunLeavesNoOrphanAndTheRerunAppliesEachStatementOnce(signal: Int32, kind: String) throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        guard let migration = Self.interruptible[kind] else { return }
        let root = try project(["001_t.sql": "CREATE TABLE t (id int);\nCREATE TABLE other (id int);\n", "002_x.sql": migration.sql])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]
        #expect(try bellows(["migrate", "--to", "1"] + common).status == 0)
        let oracle = try db.connect()
        // An old snapshot keeps an index build waiting, so that it is interrupted in the middle.
        let snapshot = try db.connect()
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM other")
        let run = try spawn(["migrate"] + common)
        #expect(try waitUntil(oracle, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND \(migration.running)"))
        kill(run.process.processIdentifier, signal)
        run.process.waitUntilExit()
        if signal != SIGKILL {
            let stderr = (try? String(contentsOfFile: run.stderr, encoding: .utf8)) ?? ""
            #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 4, "\(run.process.terminationStatus): \(stderr)")
        }
        // The server ends an orphaned statement within about a second (client_connection_check_interval).
        let gone = try secondsUntilGone(oracle, migration.running.contains("INSERT") ? "INSERT INTO t SELECT g%" : "CREATE INDEX CONCURRENTLY%")
        #expect(gone != nil && gone! < 2, "still running after \(gone ?? -1) s")
        try snapshot.execute("COMMIT")
        let rerun = try bellows(["migrate"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try oracle.query("SELECT count(*) AS n FROM t").first?.int("n") == 4)
        #expect(try oracle.query("SELECT count(*) AS n FROM bellows.migrations WHERE name = '002_x'").first?.int("n") == 1)
        #expect(try oracle.query("SELECT count(*) AS n FROM bellows.migration_progress").first?.int("n") == 0)
        if kind == "index build" {
            #expect(try oracle.query("SELECT indisvalid AS v FROM pg_index WHERE indexrelid = 't_id_idx'::regclass").first?.bool("v") == true)
        }
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
