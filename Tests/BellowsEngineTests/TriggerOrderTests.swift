import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// PostgreSQL fires a table's BEFORE row triggers in name order. A table trigger that changes
/// the old column after Bellows' dual-write trigger copied it left the new column with the raw
/// value on every row written after verify, and contract dropped the right one (hostile-d 22).
/// Bellows' trigger is named to fire last; a table trigger that would still fire after it
/// refuses expand, verify and contract; plans expanded under the old name are found.
@Suite(needsDatabase)
struct TriggerOrderTests {
    static let schema = """
        CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
        CREATE FUNCTION normalize_email() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.email := lower(btrim(NEW.email)); RETURN NEW; END $$;
        CREATE TRIGGER users_normalize_email BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION normalize_email();
        INSERT INTO users SELECT g, 'u' || g || '@x.io' FROM generate_series(1, 100) g;
        """
    /// What expand's warning about the function asks for: it works with either column.
    static let eitherColumn = """
        CREATE OR REPLACE FUNCTION normalize_email() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF to_jsonb(NEW) ? 'email' THEN NEW.email := lower(btrim(NEW.email)); END IF;
          IF to_jsonb(NEW) ? 'email_address' THEN NEW.email_address := lower(btrim(NEW.email_address)); END IF;
          RETURN NEW;
        END $$;
        """
    static let plan = """
        table: users
        changes:
          - alter: email
            rename_to: email_address
        """

    @Test func aTableTriggerNormalisingTheOldColumnAfterVerifyReachesTheNewColumn() throws {
        let fixture = try EngineFixture("trigger-order")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        let id = "001_rename"
        try fixture.writePlan(id, Self.plan)
        try fixture.forward(id, through: .verify)
        // Old code writes after verify; the table's trigger normalises what it wrote.
        try fixture.exec("INSERT INTO users VALUES (1000, '  Ada@X.IO '); UPDATE users SET email = ' B@Y ' WHERE id = 1")
        #expect(try fixture.rows("SELECT email, email_address FROM users WHERE id IN (1, 1000) ORDER BY id")
                == [["b@y", "b@y"], ["ada@x.io", "ada@x.io"]])
        try fixture.exec(Self.eitherColumn)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT email_address FROM users WHERE id IN (1, 1000) ORDER BY id") == [["b@y"], ["ada@x.io"]])
        #expect(try fixture.int("SELECT count(*) FROM users WHERE email_address <> lower(btrim(email_address))") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname LIKE '%bellows%'") == 0)
    }

    @Test func aTableTriggerThatFiresAfterBellowsRefusesExpandVerifyAndContract() throws {
        let fixture = try EngineFixture("trigger-order-gate")
        defer { fixture.close() }
        try fixture.exec(Self.schema + "\n" + Self.eitherColumn + "\nALTER TRIGGER users_normalize_email ON users RENAME TO \"~~normalize\";")
        let id = "001_rename"
        try fixture.writePlan(id, Self.plan)
        let atExpand = expectRefusal { try fixture.run(.expand, id) }
        #expect(atExpand?.gates == ["trigger-order"], "\(atExpand?.text ?? "")")
        #expect(atExpand?.text.contains("~~normalize") == true && atExpand?.failures.first?.remedy?.contains("ALTER TRIGGER \"~~normalize\" ON") == true,
                "\(atExpand?.failures.first.map { "\($0)" } ?? "")")
        #expect(try fixture.state(id)?.phase ?? .planned == .planned)
        // Renamed to fire first, expand goes through; one added since refuses verify, then contract.
        try fixture.exec("ALTER TRIGGER \"~~normalize\" ON users RENAME TO users_normalize_email")
        try fixture.forward(id, through: .backfill)
        try fixture.exec("CREATE TRIGGER \"~~late\" BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION normalize_email()")
        let atVerify = expectRefusal { try fixture.run(.verify, id) }
        #expect(atVerify?.gates == ["trigger-order"], "\(atVerify?.text ?? "")")
        try fixture.exec("ALTER TABLE users DISABLE TRIGGER \"~~late\"")
        try fixture.run(.verify, id)
        try fixture.exec("ALTER TABLE users ENABLE TRIGGER \"~~late\"")
        let atContract = expectRefusal { try fixture.run(.contract, id) }
        #expect(atContract?.gates == ["trigger-order"], "\(atContract?.text ?? "")")
        #expect(try fixture.state(id)?.phase == .verified)
        try fixture.exec("DROP TRIGGER \"~~late\" ON users")
        try fixture.run(.contract, id)
    }

    /// A plan expanded by an earlier Bellows has its trigger under `_bellows_sync_…`: phases
    /// find it, the gate names the rename that makes it fire last, and contract drops it.
    @Test func aPlanExpandedUnderTheOldTriggerNameIsFoundAndToldToRenameIt() throws {
        let fixture = try EngineFixture("trigger-order-legacy")
        defer { fixture.close() }
        try fixture.exec(Self.schema)
        let id = "001_rename"
        try fixture.writePlan(id, Self.plan)
        try fixture.run(.expand, id)
        try fixture.exec("ALTER TRIGGER \"~bellows_sync_\(id)\" ON users RENAME TO \"_bellows_sync_\(id)\"")
        try fixture.run(.backfill, id)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["trigger-order"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("RENAME TO \"~bellows_sync_\(id)\"") == true, "\(refusal?.failures.first.map { "\($0)" } ?? "")")
        // Without a table trigger after it, the old name goes through to contract, which drops it.
        try fixture.exec("DROP TRIGGER users_normalize_email ON users")
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal") == 0)
        #expect(try fixture.int("SELECT count(*) FROM users WHERE email_address IS NULL") == 0)
    }
}
