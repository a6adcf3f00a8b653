import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// What expand needs of Bellows' role is checked before it changes anything (docs/operations.md,
/// "Privileges").
@Suite(needsDatabase)
struct ExpandPrivilegeTests {
    /// A role owning the table but without CREATE on its schema (the schema an admin's, granting
    /// USAGE only) is refused before expand changes anything, naming the GRANT (hostile-d 16:
    /// the column and trigger were committed, then every index build failed 42501, `planned*`
    /// "run expand again" for ever). With the GRANT, expand runs.
    @Test func aTableOwnerWithoutCreateOnItsSchemaIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("owner-no-create")
        defer { fixture.close() }
        let role = "bellows_owner_" + String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        try StateStore.ensure(fixture.sql)
        try fixture.exec("""
            DROP ROLE IF EXISTS \(role); CREATE ROLE \(role) LOGIN NOSUPERUSER PASSWORD 'owner';
            CREATE SCHEMA core; GRANT USAGE ON SCHEMA core TO \(role);
            CREATE TABLE core.users (id bigint PRIMARY KEY, email text, nick text);
            INSERT INTO core.users SELECT g, 'u' || g, 'n' || g FROM generate_series(1, 100) AS g;
            ALTER TABLE core.users OWNER TO \(role);
            GRANT USAGE, CREATE ON SCHEMA bellows TO \(role);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(role); GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(role);
            """)
        defer { _ = try? fixture.sql.executeScript("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)") }
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: core.users
            changes:
              - alter: email
                rename_to: email_address
                unique: true
            """)
        let owner = fixture.engine { $0.conninfo = fixture.db.conninfo + " user=\(role) password=owner" }
        let before = try fixture.snapshot("core.users")
        let refusal = try #require(expectRefusal { try owner.run(.expand, plan: id) })
        #expect(refusal.gates == ["privilege"], "\(refusal.text)")
        #expect(refusal.text.contains("may not create in schema core"), "\(refusal.text)")
        #expect(refusal.failures.first?.remedy?.contains("GRANT CREATE ON SCHEMA \"core\" TO \"\(role)\"") == true, "\(refusal.text)")
        #expect(try fixture.snapshot("core.users") == before)
        #expect(try fixture.state(id)?.phase ?? .planned == .planned)
        // (Expand may create a schema of its own too: CREATE on the database.)
        try fixture.exec("GRANT CREATE ON SCHEMA core TO \(role); GRANT CREATE ON DATABASE \"\(fixture.db.name)\" TO \(role)")
        try owner.run(.expand, plan: id)
        #expect(try fixture.state(id)?.phase == .expanded)
        try owner.run(.rollback, plan: id)
    }

    /// hostile-g 03: a table owner with every other privilege but without CREATE on the
    /// database expanded a plan with versioned schemas up to a bare 42501 at the end of expand's
    /// transaction; the privilege gate now says it first, naming the GRANT.
    @Test func versionedSchemasNeedCreateOnTheDatabaseAndTheGateSaysSo() throws {
        let fixture = try EngineFixture("owner-no-dbcreate")
        defer { fixture.close() }
        let role = "bellows_vs_" + String(fixture.db.name.suffix(8)).filter { $0.isLetter || $0.isNumber }
        try StateStore.ensure(fixture.sql)
        try fixture.exec("""
            DROP ROLE IF EXISTS \(role); CREATE ROLE \(role) LOGIN NOSUPERUSER PASSWORD 'owner';
            CREATE TABLE users (id bigint PRIMARY KEY, email text, nick text);
            ALTER TABLE users OWNER TO \(role);
            GRANT USAGE, CREATE ON SCHEMA bellows, public TO \(role);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(role); GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(role);
            """)
        defer { _ = try? fixture.sql.executeScript("DROP OWNED BY \(role); DROP ROLE IF EXISTS \(role)") }
        let id = "001_rename_email"
        try fixture.writePlan(id, "table: users\nversioned_schemas: true\nchanges:\n  - alter: email\n    rename_to: email_address\n")
        let owner = fixture.engine { $0.conninfo = fixture.db.conninfo + " user=\(role) password=owner" }
        let before = try fixture.snapshot("users")
        let refusal = try #require(expectRefusal { try owner.run(.expand, plan: id) })
        #expect(refusal.gates == ["privilege"], "\(refusal.text)")
        #expect(refusal.failures.first?.remedy?.contains("GRANT CREATE ON DATABASE") == true, "\(refusal.text)")
        #expect(try fixture.snapshot("users") == before)
        try fixture.exec("GRANT CREATE ON DATABASE \"\(fixture.db.name)\" TO \(role)")
        try owner.run(.expand, plan: id)
        #expect(try fixture.state(id)?.phase == .expanded)
        try owner.run(.rollback, plan: id)
    }
}
