import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Schemas on which a phase could see, write or compare fewer rows or other values than the
/// table holds: row-level security, writes around the trigger, the writer's search_path,
/// types without `=`, and the user's own triggers.
@Suite(needsDatabase)
struct DataSafetyTests {
    /// A login role unique to this test, dropped (with what it owns in the fixture's database)
    /// by the returned closure, which must run before the fixture closes.
    static func role(_ fixture: EngineFixture, _ label: String, attributes: String = "") throws -> (name: String, drop: () -> Void) {
        let name = "bellows_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        try fixture.exec("CREATE ROLE \(name) LOGIN \(attributes); GRANT CREATE ON DATABASE \(fixture.db.name) TO \(name);")
        return (name, {
            _ = try? fixture.sql.executeScript("DROP OWNED BY \(name) CASCADE")
            _ = try? fixture.sql.executeScript("REVOKE ALL ON DATABASE \(fixture.db.name) FROM \(name)")
            _ = try? fixture.sql.executeScript("DROP ROLE \(name)")
        })
    }

    // MARK: 1. Row-level security

    /// The owner under FORCE ROW LEVEL SECURITY with a restrictive policy sees no row: the
    /// backfill used to update none, verify to pass over none and contract to drop every value.
    @Test func rowSecurityIsRefusedNeverFiltered() throws {
        let fixture = try EngineFixture("rls")
        defer { fixture.close() }
        let owner = try Self.role(fixture, "rls_owner")
        defer { owner.drop() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, tenant text NOT NULL, email text NOT NULL);
            INSERT INTO accounts SELECT g, 't' || (g % 3), 'user' || g || '@example.com' FROM generate_series(1, 600) AS g;
            ALTER TABLE accounts OWNER TO \(owner.name);
            ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
            ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
            CREATE POLICY everyone ON accounts USING (true);
            CREATE POLICY tenant_only ON accounts AS RESTRICTIVE USING (tenant = current_setting('app.tenant', true));
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        let original = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.expand, id, asOwner) }
        #expect(refusal?.gates == ["row-security"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("tenant_only (restrictive)") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("NO FORCE ROW LEVEL SECURITY") == true)
        #expect(try fixture.snapshot("accounts") == original)

        // Without FORCE the owner sees every row: the plan runs and keeps every value.
        try fixture.exec("ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
        try fixture.forward(id, through: .verify, asOwner)
        // FORCE again before contract: refused, nothing dropped.
        try fixture.exec("ALTER TABLE accounts FORCE ROW LEVEL SECURITY")
        let late = expectRefusal { try fixture.run(.contract, id, asOwner) }
        #expect(late?.gates == ["row-security"], "\(late?.text ?? "")")
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email IS NOT NULL") == 600)
        try fixture.exec("ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
        try fixture.run(.contract, id, asOwner)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address = 'user' || id || '@example.com'") == 600)
    }

    /// Every phase session runs with row_security off, so a policy that would filter a
    /// statement makes it fail instead, and the failure says what to do.
    @Test func phaseSessionsNeverFilterRows() throws {
        let fixture = try EngineFixture("rlsoff")
        defer { fixture.close() }
        let engine = fixture.engine()
        let connection = try engine.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT current_setting('row_security') AS v").first?.string("v") == "off")
    }

    // MARK: 2. Writes around the trigger

    static let renameEmail = """
        table: accounts
        changes:
          - alter: email
            rename_to: email_address
            type: varchar(200)
            up: lower(email)
            down: email_address
        """

    static func accounts(_ fixture: EngineFixture, rows: Int = 500) throws {
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO accounts SELECT g, 'User' || g || '@example.com' FROM generate_series(1, \(rows)) AS g;
            """)
    }

    /// Writers in `session_replication_role = replica` (replication tools, bulk loaders) go
    /// through the trigger too; a trigger disabled and enabled again after verify makes
    /// contract refuse until verify has run again.
    @Test func writesAroundTheTriggerAreNeverDropped() throws {
        let fixture = try EngineFixture("bypass")
        defer { fixture.close() }
        try Self.accounts(fixture)
        let id = "001_email"
        try fixture.writePlan(id, Self.renameEmail)
        try fixture.forward(id, through: .verify)
        try fixture.exec("""
            SET session_replication_role = replica;
            INSERT INTO accounts (id, email) VALUES (1001, 'Replica@Example.com');
            UPDATE accounts SET email = 'Changed@Example.com' WHERE id = 7;
            RESET session_replication_role;
            """)
        #expect(try fixture.rows("SELECT email_address FROM accounts WHERE id IN (7, 1001) ORDER BY id")
                == [["changed@example.com"], ["replica@example.com"]])

        // Disabled, written around, enabled again: contract refuses, nothing dropped.
        let trigger = "_bellows_sync_\(id)"
        try fixture.exec("""
            ALTER TABLE accounts DISABLE TRIGGER \(trigger);
            UPDATE accounts SET email = 'Around@Example.com' WHERE id = 9;
            ALTER TABLE accounts ENABLE ALWAYS TRIGGER \(trigger);
            """)
        let before = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.contract, id) }
        #expect(refusal?.gates == ["trigger-since-verify"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("bellows verify \(id)") == true)
        #expect(try fixture.snapshot("accounts") == before)
        #expect(try fixture.state(id)?.phase == .verified)
        // Verify sees the write made around the trigger.
        let mismatch = expectRefusal { try fixture.run(.verify, id) }
        #expect(mismatch?.gates == ["mismatch:change_1"], "\(mismatch?.text ?? "")")
        try fixture.exec("UPDATE accounts SET email_address = lower(email) WHERE id = 9")
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT email_address FROM accounts WHERE id IN (7, 9, 1001) ORDER BY id")
                == [["changed@example.com"], ["around@example.com"], ["replica@example.com"]])
    }

    /// A table with `INHERITS` children, or one that inherits: refused before expand.
    @Test func inheritanceIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("inherit")
        defer { fixture.close() }
        try Self.accounts(fixture, rows: 10)
        try fixture.exec("""
            CREATE TABLE archived_accounts (archived_at timestamptz) INHERITS (accounts);
            INSERT INTO archived_accounts (id, email) VALUES (5000, 'Old@Example.com');
            """)
        try fixture.writePlan("001_email", Self.renameEmail)
        let original = try fixture.snapshot("accounts")
        let refusal = expectRefusal { try fixture.run(.expand, "001_email") }
        #expect(refusal?.gates == ["inheritance"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("archived_accounts") == true, "\(refusal?.text ?? "")")
        #expect(try fixture.snapshot("accounts") == original)

        try fixture.writePlan("002_child", Self.renameEmail.replacingOccurrences(of: "table: accounts", with: "table: archived_accounts"))
        let child = expectRefusal { try fixture.run(.expand, "002_child") }
        #expect(child?.gates.contains("inheritance") == true, "\(child?.text ?? "")")
    }
}
