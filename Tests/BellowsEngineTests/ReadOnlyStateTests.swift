@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// hostile-d 42: `status` and `wait` upgraded a state schema an older Bellows made (creating
/// `bellows.controls`): read commands wrote DDL, and a read-only monitoring role got exit 3.
/// They now read whatever schema they find: no controls table is no controls, a column an
/// upgrade adds is read as absent.
@Suite(needsDatabase)
struct ReadOnlyStateTests {
    /// hostile-m 06: a role whose transactions are read-only by default got a bare `25006` from
    /// expand; the error now says why and what to change, and nothing was written.
    @Test func aRoleReadOnlyByDefaultIsToldWhyItsCommandFailed() throws {
        let fixture = try EngineFixture("read-only-role")
        defer { fixture.close() }
        let role = try DataSafetyTests.role(fixture, "ro")
        defer { role.drop() }
        try fixture.exec("""
            CREATE TABLE small (id bigint PRIMARY KEY, email text);
            INSERT INTO small SELECT g, 'u' || g FROM generate_series(1, 10) g;
            ALTER TABLE small OWNER TO \(role.name);
            ALTER ROLE \(role.name) SET default_transaction_read_only = on;
            """)
        try fixture.writePlan("001_rename", "table: small\nchanges:\n  - alter: email\n    rename_to: email_address\n")
        let engine = Engine(project: fixture.project, options: fixture.options { $0.conninfo = fixture.db.conninfo + " user=\(role.name)" })
        #expect { try engine.run(.expand, plan: "001_rename") } throws: { error in
            let text = "\(error)"
            return text.contains("25006") && text.contains("read-only by default") && text.contains("ALTER ROLE \"\(role.name)\" RESET default_transaction_read_only")
        }
        // Set by the connection instead (hostile-p 07: the hint named the role): leave it out.
        try fixture.exec("ALTER ROLE \(role.name) RESET default_transaction_read_only")
        let client = Engine(project: fixture.project, options: fixture.options {
            $0.conninfo = fixture.db.conninfo + " user=\(role.name) options='-c default_transaction_read_only=on'"
        })
        #expect { try client.run(.expand, plan: "001_rename") } throws: { error in
            "\(error)".contains("set by the connection") && !"\(error)".contains("ALTER ROLE")
        }
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'small'::regclass AND attname = 'email_address'") == 0)
    }

    @Test func statusHistoryAndWaitReadAnOlderStateSchemaAsAReadOnlyRole() throws {
        let fixture = try EngineFixture("read-only-state")
        defer { fixture.close() }
        let id = "001_small_rename"
        try fixture.exec("""
            CREATE TABLE small (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO small SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 100) AS g;
            """)
        try fixture.writePlan(id, """
            table: small
            changes:
              - alter: email
                rename_to: email_address
            """)
        try fixture.run(.expand, id)
        // The schema as a Bellows before controls (and the stored plan text) left it.
        try fixture.exec("DROP TABLE bellows.controls; ALTER TABLE bellows.plans DROP COLUMN plan_text, DROP COLUMN plan_path")
        let role = "bellows_watcher_" + String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        try fixture.exec("""
            DROP ROLE IF EXISTS \(role); CREATE ROLE \(role) LOGIN NOSUPERUSER PASSWORD 'watcher';
            GRANT USAGE ON SCHEMA bellows TO \(role); GRANT SELECT ON ALL TABLES IN SCHEMA bellows TO \(role);
            """)
        defer { _ = try? fixture.sql.executeScript("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)") }
        let watcher = fixture.engine { $0.conninfo = fixture.db.conninfo + " user=\(role) password=watcher" }

        let board = try watcher.status()
        let line = try #require(board.first { $0.id == id })
        #expect(line.phase == .expanded && line.control == nil)
        #expect(try watcher.history(plan: id).map(\.command) == ["expand"])
        let waited = try watcher.wait(plan: id, for: .expanded, timeoutSeconds: 5, pollSeconds: 0.1)
        #expect(waited.result == .reached && waited.phase == .expanded)
        // Nothing was created or added.
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('bellows.controls')") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'bellows.plans'::regclass AND attname = 'plan_text' AND NOT attisdropped") == 0)
    }
}
