import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The dual-write trigger runs as each writer: an `up` or `down` calling what an application
/// role may not use made every INSERT and UPDATE by that role fail from expand on (hostile
/// finding 14). Expand refuses, before any change, naming each such role and the GRANT.
@Suite(needsDatabase)
struct WriterPrivilegeTests {
    @Test func expandRefusesWhatAWriterCannotUse() throws {
        let fixture = try EngineFixture("writerpriv")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "wp_owner")
        defer { owner.drop() }
        let app = try DataSafetyTests.role(fixture, "wp_app")
        defer { app.drop() }
        let member = try DataSafetyTests.role(fixture, "wp_member")
        defer { member.drop() }
        let group = try DataSafetyTests.role(fixture, "wp_group")
        defer { group.drop() }
        let reader = try DataSafetyTests.role(fixture, "wp_reader")
        defer { reader.drop() }
        try fixture.exec("""
            GRANT CREATE ON SCHEMA public TO \(owner.name);
            GRANT \(group.name) TO \(member.name);
            SET ROLE \(owner.name);
            CREATE SCHEMA util;
            CREATE FUNCTION util.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) $$;
            CREATE FUNCTION public.secret(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
            REVOKE EXECUTE ON FUNCTION public.secret(text) FROM PUBLIC;
            CREATE TABLE p (id bigint PRIMARY KEY, name text NOT NULL);
            INSERT INTO p SELECT g, 'N' || g FROM generate_series(1, 100) AS g;
            GRANT SELECT, INSERT, UPDATE ON p TO \(app.name);
            GRANT UPDATE (name) ON p TO \(group.name);
            GRANT SELECT ON p TO \(reader.name);
            RESET ROLE;
            """)
        let id = "001_p"
        try fixture.writePlan(id, """
            table: p
            changes:
              - alter: name
                rename_to: name_lc
                up: "util.norm(name)"
                down: "secret(name_lc)"
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        let original = try fixture.snapshot("p")
        let refusal = expectRefusal { try fixture.run(.expand, id, asOwner) }
        #expect(refusal?.gates == ["writer-privileges", "writer-privileges"], "\(refusal?.text ?? "")")
        let up = refusal?.failures.first { $0.message.contains("up expression") }
        let down = refusal?.failures.first { $0.message.contains("down expression") }
        // up: no USAGE on util for the application role, nor for the group (the member inherits it).
        #expect(up?.message.contains("plans/001_p.yaml:5:") == true, "\(up?.message ?? "")")
        for role in [app.name, group.name, member.name] {
            #expect(up?.message.contains("role \(role) lacks USAGE on SCHEMA util (for function util.norm(text))") == true, "\(up?.message ?? "")")
            #expect(up?.remedy?.contains("GRANT USAGE ON SCHEMA util TO \"\(role)\"") == true, "\(up?.remedy ?? "")")
            #expect(down?.message.contains("role \(role) lacks EXECUTE on FUNCTION secret(text)") == true, "\(down?.message ?? "")")
        }
        // A role that may only read is no writer; the owner may use both.
        #expect(refusal?.text.contains(reader.name) == false && refusal?.text.contains(owner.name) == false, "\(refusal?.text ?? "")")
        #expect(try fixture.snapshot("p") == original)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname LIKE '%probe%'") == 0)

        // Granted what they lack, expand passes, and the application role writes through the trigger.
        try fixture.exec("""
            GRANT USAGE ON SCHEMA util TO \(app.name), \(group.name);
            GRANT EXECUTE ON FUNCTION public.secret(text) TO \(app.name), \(group.name);
            """)
        try fixture.run(.expand, id, asOwner)
        let asApp = try Connection(fixture.db.conninfo + " user=\(app.name)")
        defer { asApp.close() }
        try asApp.execute("INSERT INTO p (id, name) VALUES (1001, 'Written')")
        try asApp.execute("UPDATE p SET name_lc = 'new' WHERE id = 1")
        #expect(try fixture.rows("SELECT name, name_lc FROM p WHERE id IN (1, 1001) ORDER BY id") == [["new", "new"], ["Written", "written"]])
    }

    /// The refusal's text, decided without a database: each role once, each GRANT once.
    @Test func theRefusalNamesEachRoleAndGrant() {
        let missing = [
            MissingPrivilege(role: "app", privilege: "USAGE", object: "SCHEMA util", used: "function util.norm(text)"),
            MissingPrivilege(role: "app", privilege: "USAGE", object: "SCHEMA util", used: "function util.trim2(text)"),
            MissingPrivilege(role: "App Two", privilege: "SELECT (\"code\")", object: "TABLE codes", used: "table codes column code"),
        ]
        let location = BellowsSQL.SourceLocation(file: "plans/001.yaml", line: 5, column: 9)
        let failure = WriterPrivileges.failure(missing, expression: "up expression for column c", location: location, table: "public.p")
        #expect(failure?.gate == "writer-privileges")
        #expect(failure?.message == "plans/001.yaml:5:9: the up expression for column c runs in the dual-write trigger as each writer of public.p, "
            + "and role app lacks USAGE on SCHEMA util (for function util.norm(text)), USAGE on SCHEMA util (for function util.trim2(text)); "
            + "role App Two lacks SELECT (\"code\") on TABLE codes (for table codes column code): once the trigger exists, every INSERT and UPDATE by those roles would fail")
        #expect(failure?.remedy == "grant what is missing (GRANT USAGE ON SCHEMA util TO \"app\"; GRANT SELECT (\"code\") ON TABLE codes TO \"App Two\"), "
            + "or revoke the role's INSERT and UPDATE on public.p, or change the expression; nothing was changed")
        #expect(WriterPrivileges.failure([], expression: "x", location: location, table: "t") == nil)
    }
}
