import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A user trigger whose PL/pgSQL body reads a replaced column has no catalog dependency on it
/// (hostile finding 2026-12-02b/03): expand warns, naming it, and contract proves the table is
/// still writable before it commits, refusing (nothing changed) when it is not.
@Suite(needsDatabase)
struct TriggerBodyTests {
    @Test func aTriggerReadingTheOldColumnIsNamedAtExpandAndRefusesContract() throws {
        let fixture = try EngineFixture("trigger-body")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, updated_at timestamptz);
            CREATE FUNCTION users_norm() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.email LIKE '% %' THEN RAISE EXCEPTION 'no spaces'; END IF; NEW.updated_at := now(); RETURN NEW; END $$;
            CREATE TRIGGER users_norm BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_norm();
            INSERT INTO users SELECT g, 'u' || g || '@x' FROM generate_series(1, 10) g;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            """)
        let notes = Shared<[String]>([])
        try fixture.engine(reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: id)
        #expect(notes.current.contains { $0.contains("users_norm") && $0.contains("email") && $0.contains("before contract") }, "\(notes.current)")
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        let before = try fixture.snapshot("users")
        let refusal = expectRefusal { try fixture.run(.contract, id) }
        #expect(refusal?.gates == ["writable"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("an INSERT of a copy of one row") == true && refusal?.text.contains("an UPDATE of one row") == true,
                "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("record \"new\" has no field \"email\"") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("users_norm") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("users")
        #expect(before == after, "\(before.difference(to: after))")
        #expect(try fixture.state(id)?.phase == .verified)
        // Writes still work while the plan waits; with the function fixed, contract goes through.
        try fixture.exec("""
            INSERT INTO users (id, email) VALUES (200, 'a@b');
            CREATE OR REPLACE FUNCTION users_norm() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
            """)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO users (id, email_address) VALUES (201, 'c@d'); UPDATE users SET email_address = 'z@z' WHERE id = 2")
        #expect(try fixture.state(id)?.phase == .contracted)
    }
}
