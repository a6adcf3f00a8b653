import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Expand's probe must evaluate each `up`, `backfill` and `down` exactly as the dual-write
/// trigger does, over the written row (`FROM (SELECT NEW.*) AS bellows_row`), not with the table
/// in scope: `lower(users.email)` and `to_jsonb(users)` passed `SELECT … FROM users LIMIT 0` and
/// failed every write once the trigger existed (hostile-d 27). Whatever `check` does not catch,
/// the probe refuses before the trigger exists.
@Suite(needsDatabase)
struct ExpressionProbeFormTests {
    @Test func whatTheTriggerCannotEvaluateTheProbeRefuses() throws {
        let fixture = try EngineFixture("probeform")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
            INSERT INTO users SELECT g, 'u' || g, 'n' || g FROM generate_series(1, 3) g;
            """)
        let plan = try #require(PlanLoader.load(file: "plans/001_email.yaml", source: """
            table: users
            changes:
              - alter: email
                rename_to: email_lower
                up: "lower(email)"
                down: "email_lower"
            """).plan)
        let compiled = TransitionCompiler.compile(plan, table: try CatalogReader.table(fixture.sql, TableName(schema: nil, name: "users")))
        let transition = try #require(compiled.transition, "\(compiled.findings)")
        // The new column, as expand adds it before probing.
        try fixture.exec(#"ALTER TABLE users ADD COLUMN "_bellows_email" text"#)
        func probes(up: String) -> [String] {
            var changed = transition
            changed.groups[0].targets[0].up = up
            return PhaseSQL(changed).expressionProbes.filter { $0.key == "up" }.map(\.sql)
        }
        func runs(_ sql: String) -> Bool { (try? fixture.sql.query(sql)) != nil }
        // The trigger's own form, for reference.
        func triggerRuns(_ expression: String) throws -> Bool {
            try fixture.exec("""
                CREATE OR REPLACE FUNCTION pg_temp.probe_form() RETURNS trigger LANGUAGE plpgsql AS $f$
                DECLARE v text; BEGIN SELECT (\(expression))::text INTO v FROM (SELECT NEW.*) AS bellows_row; RETURN NEW; END $f$;
                DROP TRIGGER IF EXISTS probe_form ON users;
                CREATE TRIGGER probe_form BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION pg_temp.probe_form();
                """)
            defer { _ = try? fixture.sql.executeScript("DROP TRIGGER IF EXISTS probe_form ON users") }
            return runs("UPDATE users SET name = name WHERE id = 1 RETURNING id")
        }
        for expression in ["lower(email)", "lower(users.email)", "to_jsonb(users)::text", "tableoid::regclass::text", "lower(public.users.email)"] {
            let sql = try #require(probes(up: expression).first)
            #expect(runs(sql) == (try triggerRuns(expression)), "\(expression): \(sql)")
        }
        #expect(runs(try #require(probes(up: "lower(email)").first)))
        #expect(!runs(try #require(probes(up: "lower(users.email)").first)))
        #expect(!runs(try #require(probes(up: "to_jsonb(users)::text").first)))
    }
}
