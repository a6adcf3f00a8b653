import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Versioned schemas (docs/versions.md): after expand, each application version sets its
/// `search_path` and uses its own names and types through updatable views of the table.
@Suite(needsDatabase)
struct VersionSchemaEngineTests {
    static let plan = """
        table: counters
        versioned_schemas: true
        changes:
          - alter: n
            type: bigint
            up: n::bigint
            down: n::integer
        """

    func setUp(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE counters (id bigint PRIMARY KEY, n integer NOT NULL DEFAULT 0, label text);
            INSERT INTO counters (id, n, label) SELECT g, g, 'row ' || g FROM generate_series(1, 20) g;
            """)
        try fixture.writePlan("001_widen", Self.plan)
    }

    /// A session of one version: its own connection with the version's `search_path`.
    func session(_ fixture: EngineFixture, _ version: SchemaVersion) throws -> Connection {
        let path = try #require(try fixture.engine().searchPath(plan: "001_widen", version: version).searchPath)
        let connection = try fixture.db.connect()
        try connection.execute("SET search_path TO \(path)")
        return connection
    }

    /// The SQLSTATE `body` fails with, nil when it succeeds.
    func sqlState(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? PostgresError)?.sqlState?.rawValue ?? "not a PostgresError: \(error)"
        }
    }

    func value(_ connection: Connection, _ query: String) throws -> [String?] {
        try #require(try connection.query(query).first).values
    }

    @Test func eachVersionReadsAndWritesItsOwnTypeUnderTheFinalNameThroughContract() throws {
        let fixture = try EngineFixture("versions")
        defer { fixture.close() }
        try setUp(fixture)
        try fixture.run(.expand, "001_widen")
        let new = try session(fixture, .new), old = try session(fixture, .old)
        defer { new.close(); old.close() }

        // The new version writes and reads `n` as bigint (the shadow column under its final
        // name); the old version sees the same value as integer.
        try new.execute("INSERT INTO counters (id, n, label) VALUES (100, 2000000000, 'new')")
        #expect(try value(new, "SELECT n::text, pg_typeof(n)::text FROM counters WHERE id = 100") == ["2000000000", "bigint"])
        #expect(try value(old, "SELECT n::text, pg_typeof(n)::text FROM counters WHERE id = 100") == ["2000000000", "integer"])
        // The old version's writes reach the new version's column (the dual-write trigger), and
        // the table's defaults apply to a column an INSERT leaves out.
        try old.execute("UPDATE counters SET n = 7 WHERE id = 100")
        try old.execute("INSERT INTO counters (id, label) VALUES (101, 'old')")
        #expect(try value(new, "SELECT n::text FROM counters WHERE id = 100") == ["7"])
        #expect(try value(new, "SELECT n::text FROM counters WHERE id = 101") == ["0"])
        // Each version sees only its own columns: no shadow column in either.
        // (The new version's columns in the order contract leaves them: a replaced one last.)
        #expect(try new.query("SELECT * FROM counters WHERE id = 1").first?.columnNames == ["id", "label", "n"])
        #expect(try old.query("SELECT * FROM counters WHERE id = 1").first?.columnNames == ["id", "n", "label"])
        // Until contract, a value beyond the old type fails the new version's write with the
        // down's error (the old column must keep every row): 22003, integer out of range.
        #expect(sqlState { try new.execute("UPDATE counters SET n = 3000000000 WHERE id = 100") } == "22003")
        // The status board shows both search paths.
        let line = try #require(try fixture.engine().status().first { $0.id == "001_widen" })
        #expect(line.searchPaths[.old] == "\"_bellows_001_widen_old\", \"public\"")
        #expect(line.searchPaths[.new] == "\"_bellows_001_widen_new\", \"public\"")

        try fixture.run(.backfill, "001_widen")
        try fixture.run(.verify, "001_widen")
        #expect(try value(new, "SELECT n::text FROM counters WHERE id = 5") == ["5"], "backfilled rows read through the new version")
        try fixture.run(.contract, "001_widen")

        // After contract the new version's session keeps working, unchanged: its view followed
        // the shadow column across its rename, and the value beyond integer now fits.
        try new.execute("UPDATE counters SET n = 3000000000 WHERE id = 100")
        #expect(try value(new, "SELECT n::text, pg_typeof(n)::text FROM counters WHERE id = 100") == ["3000000000", "bigint"])
        #expect(try fixture.int("SELECT count(*) FROM counters WHERE n = 3000000000") == 1)
        #expect(try fixture.engine().searchPath(plan: "001_widen", version: .old).searchPath == nil, "contract dropped the old version's schema")
        #expect(try fixture.engine().searchPath(plan: "001_widen", version: .new).searchPath != nil)

        // The next plan on the table is not refused by the view left behind, and its expand
        // drops that schema in its transaction.
        try fixture.writePlan("002_note", """
            table: counters
            versioned_schemas: true
            changes:
              - alter: label
                rename_to: note
            """)
        try fixture.run(.expand, "002_note")
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname = '_bellows_001_widen_new'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_bellows\\_002\\_note\\_%'") == 2)
    }

    /// hostile-g 04: the trigger took a NULL the new version wrote into a renamed column for a
    /// column old code left out, and stored the old column's default instead (kept through
    /// contract; a NOT NULL column's default instead of 23502). The trigger now knows the new
    /// version's writes (its `search_path`), and the new version's view carries the default
    /// the column gets at contract for an insert that leaves it out.
    @Test func aNullTheNewVersionWritesIsKeptAndALeftOutColumnGetsItsDefault() throws {
        let fixture = try EngineFixture("versions-null")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t1 (id bigint PRIMARY KEY, a text DEFAULT 'anon', b int);
            INSERT INTO t1 SELECT g, 'x' || g, g FROM generate_series(1, 20) g;
            CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL DEFAULT 'queued', owner text);
            INSERT INTO jobs SELECT g, 'done', 'o' || g FROM generate_series(1, 20) g;
            """)
        try fixture.writePlan("001_widen", """
            table: t1
            versioned_schemas: true
            changes:
              - alter: a
                rename_to: label
            """)
        try fixture.writePlan("002_jobs", """
            table: jobs
            versioned_schemas: true
            changes:
              - alter: state
                rename_to: status
            """)
        try fixture.run(.expand, "001_widen")
        try fixture.run(.expand, "002_jobs")
        let new = try session(fixture, .new), old = try session(fixture, .old)
        defer { new.close(); old.close() }
        try new.execute("INSERT INTO t1 (id, label, b) VALUES (100, NULL, 1)")
        try new.execute("INSERT INTO t1 (id, b) VALUES (101, 1)")
        try old.execute("INSERT INTO t1 (id, a) VALUES (102, 'x')")
        try old.execute("INSERT INTO t1 (id) VALUES (103)")
        try old.execute("INSERT INTO t1 (id, a) VALUES (104, NULL)")
        try fixture.exec("INSERT INTO t1 (id, a) VALUES (105, 'direct')")
        let expected: [String] = ["100:<null>", "101:anon", "102:x", "103:anon", "104:<null>", "105:direct"]
        func rows(_ column: String) throws -> [String] {
            try fixture.rows("SELECT id || ':' || coalesce(\(column), '<null>') FROM t1 WHERE id >= 100 ORDER BY id").map { $0[0] ?? "" }
        }
        #expect(try rows("label") == expected)
        #expect(try rows("a") == expected, "the old version reads what the new one wrote")

        let jobsNew = try fixture.db.connect()
        defer { jobsNew.close() }
        let jobsPath = try #require(try fixture.engine().searchPath(plan: "002_jobs", version: .new).searchPath)
        try jobsNew.execute("SET search_path TO \(jobsPath)")
        #expect(sqlState { try jobsNew.execute("INSERT INTO jobs (id, status) VALUES (100, NULL)") } == "23502",
                "the new version's NULL in a NOT NULL column is refused as on the table")
        try jobsNew.execute("INSERT INTO jobs (id, owner) VALUES (101, 'ann')")
        try fixture.exec("INSERT INTO jobs (id, owner) VALUES (102, 'bob')")
        #expect(try fixture.rows("SELECT id || ':' || status || ':' || state FROM jobs WHERE id > 100 ORDER BY id").map { $0[0] ?? "" }
                == ["101:queued:queued", "102:queued:queued"])

        for plan in ["001_widen", "002_jobs"] {
            try fixture.run(.backfill, plan)
            try fixture.run(.verify, plan)
            try fixture.run(.contract, plan)
        }
        #expect(try fixture.rows("SELECT id || ':' || coalesce(label, '<null>') FROM t1 WHERE id >= 100 ORDER BY id").map { $0[0] ?? "" } == expected)
        #expect(try fixture.rows("SELECT id || ':' || status FROM jobs WHERE id > 100 ORDER BY id").map { $0[0] ?? "" } == ["101:queued", "102:queued"])
    }

    /// Two plans in flight on one table: the one contracted first drops a column the other's
    /// views read, so its contract drops them and makes them again over the columns it leaves;
    /// the other plan's sessions keep working, and see the first plan's final names.
    /// hostile-g 07: widening a GENERATED ALWAYS identity, the new version's view let an
    /// explicit value into the identity column (through `down`) past its sequence, and later
    /// ordinary inserts failed 23505. The explicit value is refused as on the table (428C9);
    /// an insert that leaves it out is numbered by the sequence in both columns.
    @Test func anExplicitValueForAGeneratedAlwaysIdentityIsRefusedThroughTheNewVersion() throws {
        let fixture = try EngineFixture("versions-identity")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE tickets (id bigint PRIMARY KEY, seq integer GENERATED ALWAYS AS IDENTITY UNIQUE, title text);
            INSERT INTO tickets (id, title) SELECT g, 't' || g FROM generate_series(1, 20) g;
            """)
        try fixture.writePlan("001_widen", """
            table: tickets
            versioned_schemas: true
            changes:
              - alter: seq
                type: bigint
                up: seq::bigint
                down: seq::integer
            """)
        try fixture.run(.expand, "001_widen")
        let new = try session(fixture, .new)
        defer { new.close() }
        #expect(sqlState { try new.execute("INSERT INTO tickets (id, seq, title) VALUES (100, 500, 'explicit')") } == "428C9")
        try new.execute("INSERT INTO tickets (id, title) VALUES (101, 'numbered')")
        #expect(try value(new, "SELECT (seq > 20 AND seq < 100)::text FROM tickets WHERE id = 101") == ["true"])
        #expect(try fixture.int("SELECT count(*) FROM tickets WHERE seq >= 100") == 0)
        #expect(try fixture.int("SELECT count(*) FROM tickets WHERE id > 20 AND seq IS DISTINCT FROM _bellows_seq") == 0)
        try fixture.run(.rollback, "001_widen")
    }

    @Test func anotherPlansContractRemakesTheViewsItsDropWouldTake() throws {
        let fixture = try EngineFixture("versioncompose")
        defer { fixture.close() }
        try setUp(fixture)
        try fixture.writePlan("002_note", """
            table: counters
            versioned_schemas: true
            changes:
              - alter: label
                rename_to: note
            """)
        try fixture.run(.expand, "001_widen")
        try fixture.run(.expand, "002_note")
        let new = try session(fixture, .new), old = try session(fixture, .old)
        defer { new.close(); old.close() }
        // Neither version of 001 sees 002's columns nor 002's of 001's (their own names only).
        #expect(try new.query("SELECT * FROM counters WHERE id = 1").first?.columnNames == ["id", "label", "n"])
        for command: PhaseCommand in [.backfill, .verify, .contract] { try fixture.run(command, "002_note") }
        #expect(try fixture.events("002_note").contains { $0.command == "contract" && $0.details.contains("_bellows_001_widen_old") })
        #expect(try new.query("SELECT * FROM counters WHERE id = 1").first?.columnNames == ["id", "n", "note"])
        #expect(try old.query("SELECT * FROM counters WHERE id = 1").first?.columnNames == ["id", "n", "note"])
        try new.execute("UPDATE counters SET n = 2000000001, note = 'new' WHERE id = 1")
        #expect(try value(old, "SELECT n::text, pg_typeof(n)::text, note FROM counters WHERE id = 1") == ["2000000001", "integer", "new"])
        for command: PhaseCommand in [.backfill, .verify, .contract] { try fixture.run(command, "001_widen") }
        try new.execute("UPDATE counters SET n = 3000000001 WHERE id = 1")
        #expect(try value(new, "SELECT n::text, note FROM counters WHERE id = 1") == ["3000000001", "new"])
    }

    @Test func theViewsCheckTheTablesPrivilegesAsTheirUser() throws {
        let fixture = try EngineFixture("versionpriv")
        defer { fixture.close() }
        try setUp(fixture)
        try fixture.run(.expand, "001_widen")
        let role = "bellows_version_reader_\(UUID().uuidString.prefix(8).lowercased())"
        try fixture.exec("CREATE ROLE \(role)")
        defer { try? fixture.exec("DROP OWNED BY \(role); DROP ROLE \(role)") }
        let new = try session(fixture, .new)
        defer { new.close() }
        try new.execute("SET ROLE \(role)")
        #expect(sqlState { _ = try new.query("SELECT n FROM counters WHERE id = 1") } == "42501", "no SELECT on the table: none through the view")
        try new.execute("RESET ROLE")
        try fixture.exec("GRANT SELECT ON counters TO \(role)")
        try new.execute("SET ROLE \(role)")
        #expect(try value(new, "SELECT id::text FROM counters WHERE id = 1") == ["1"])
        #expect(sqlState { try new.execute("UPDATE counters SET n = 2 WHERE id = 1") } == "42501", "SELECT only: no UPDATE through the view")
    }

    @Test func rollbackRemovesBothSchemasAndRestoresTheTable() throws {
        let fixture = try EngineFixture("versionroll")
        defer { fixture.close() }
        try setUp(fixture)
        let before = try fixture.snapshot("public.counters")
        try fixture.run(.expand, "001_widen")
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_bellows\\_001\\_widen\\_%'") == 2)
        try fixture.run(.backfill, "001_widen")
        try fixture.run(.rollback, "001_widen")
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_bellows\\_001\\_widen\\_%'") == 0)
        #expect(try fixture.snapshot("public.counters") == before)
        #expect(try fixture.engine().searchPath(plan: "001_widen", version: .new).searchPath == nil)
    }
}
