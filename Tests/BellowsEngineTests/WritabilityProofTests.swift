import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Contract proves the table writable before it commits (hostile-c findings 09 and 01): an
/// UPDATE, an INSERT of a copy of a row and, for DELETE triggers, a DELETE, with deferred
/// triggers made immediate, each rolled back; a trigger the probes cannot reach whose function
/// names a column contract renames or drops refuses contract. Each case: refused, the plan still
/// verified, the table's catalog and rows as before, the refusal in the history; once the
/// function is changed, contract goes through and the table takes writes.
@Suite(needsDatabase)
struct WritabilityProofTests {
    /// Sets the table up, renames `column` to `renamed` and runs the plan up to verified.
    func verifiedRename(_ fixture: EngineFixture, _ schema: String, table: String, column: String, renamed: String) throws -> String {
        try fixture.exec(schema)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: \(table)
            changes:
              - alter: \(column)
                rename_to: \(renamed)
            """)
        try fixture.forward(id, through: .verify)
        return id
    }

    /// Contract is refused (gate `writable`) with every text of `expected` in its message, and
    /// nothing changed: catalog, rows, phase; the refusal is in the history.
    @discardableResult
    func expectRefusedContract(_ fixture: EngineFixture, _ id: String, table: String, _ expected: [String],
                               sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Refusal? {
        let catalog = try fixture.snapshot(table)
        let rows = try fixture.rows("SELECT count(*)::text, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \(table) t")
        let refusal = expectRefusal({ try fixture.run(.contract, id) }, sourceLocation: sourceLocation)
        #expect(refusal?.gates.allSatisfy { $0 == "writable" } == true && refusal?.gates.isEmpty == false,
                "\(refusal?.text ?? "")", sourceLocation: sourceLocation)
        for text in expected {
            #expect(refusal?.text.contains(text) == true, "missing \(text) in: \(refusal?.text ?? "")", sourceLocation: sourceLocation)
        }
        let after = try fixture.snapshot(table)
        #expect(catalog == after, "\(catalog.difference(to: after))", sourceLocation: sourceLocation)
        #expect(try fixture.rows("SELECT count(*)::text, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \(table) t") == rows,
                sourceLocation: sourceLocation)
        #expect(try fixture.state(id)?.phase == .verified, sourceLocation: sourceLocation)
        let last = try fixture.events(id).last
        #expect(last?.command == "contract" && last?.outcome == "refused", "\(String(describing: last))", sourceLocation: sourceLocation)
        return refusal
    }

    /// Finding 09: a plain BEFORE INSERT trigger on a table with a natural key (the copy conflicts,
    /// but BEFORE row triggers fire first).
    @Test func aBeforeInsertTriggerReadingTheOldColumnRefusesContract() throws {
        let fixture = try EngineFixture("writable-before-insert")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE notes (id bigint PRIMARY KEY, body text);
            CREATE FUNCTION notes_ins() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.body := btrim(NEW.body); RETURN NEW; END $$;
            CREATE TRIGGER notes_ins BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION notes_ins();
            INSERT INTO notes SELECT g, 'b' || g FROM generate_series(1, 50) g;
            """, table: "notes", column: "body", renamed: "content")
        try expectRefusedContract(fixture, id, table: "notes",
                                  ["INSERT", "record \"new\" has no field \"body\"", "42703", "trigger notes_ins"])
        // A function that reads whichever shape the row has: the copy's BEFORE trigger runs it
        // after contract's changes and it works, so contract goes through.
        try fixture.exec("""
            CREATE OR REPLACE FUNCTION notes_ins() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF to_jsonb(NEW) ? 'content' THEN NEW.content := btrim(NEW.content); ELSE NEW.body := btrim(NEW.body); END IF;
              RETURN NEW;
            END $$;
            """)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO notes (id, content) VALUES (1000, ' x ')")
        #expect(try fixture.rows("SELECT content FROM notes WHERE id = 1000") == [["x"]])
    }

    /// Finding 09: a BEFORE INSERT OR UPDATE trigger reading the column only when TG_OP = 'INSERT'.
    @Test func aTriggerReadingTheOldColumnOnlyOnInsertRefusesContract() throws {
        let fixture = try EngineFixture("writable-tg-op")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, balance int NOT NULL DEFAULT 0);
            CREATE FUNCTION accounts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN NEW.email := lower(NEW.email); END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER accounts_on_insert BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_on_insert();
            INSERT INTO accounts SELECT g, 'u' || g || '@x' FROM generate_series(1, 50) g;
            """, table: "accounts", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["INSERT", "record \"new\" has no field \"email\"", "42703", "trigger accounts_on_insert"])
        try fixture.exec("""
            CREATE OR REPLACE FUNCTION accounts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RETURN NEW; END $$;
            """)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO accounts (id, email_address) VALUES (1000, 'A@B'); UPDATE accounts SET balance = 1 WHERE id = 1")
    }

    /// Finding 01: a DEFERRABLE INITIALLY DEFERRED constraint trigger fires only at commit;
    /// the proof makes it fire inside its savepoint.
    @Test func aDeferredConstraintTriggerReadingTheOldColumnRefusesContract() throws {
        let fixture = try EngineFixture("writable-deferred")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, balance int NOT NULL DEFAULT 0);
            CREATE FUNCTION accounts_email_sane() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.email NOT LIKE '%@%' THEN RAISE EXCEPTION 'bad email %', NEW.email; END IF;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER accounts_email_sane AFTER INSERT OR UPDATE ON accounts
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION accounts_email_sane();
            INSERT INTO accounts SELECT g, 'u' || g || '@x' FROM generate_series(1, 50) g;
            """, table: "accounts", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["UPDATE", "record \"new\" has no field \"email\"", "42703", "trigger accounts_email_sane"])
        // Writes still commit while the plan waits.
        try fixture.exec("INSERT INTO accounts (id, email) VALUES (1000, 'a@b')")
        try fixture.exec("""
            CREATE OR REPLACE FUNCTION accounts_email_sane() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF to_jsonb(NEW) ->> 'email_address' NOT LIKE '%@%' THEN RAISE EXCEPTION 'bad email'; END IF;
              RETURN NULL;
            END $$;
            """)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO accounts (id, email_address) VALUES (1001, 'a@b'); UPDATE accounts SET balance = 5 WHERE id = 1")
    }

    /// An AFTER INSERT trigger on a table whose every row copy conflicts on its natural key: no
    /// probe reaches it, and its function names the old column, so contract refuses, naming it.
    @Test func anAfterInsertTriggerTheProbeCannotReachRefusesContractBySource() throws {
        let fixture = try EngineFixture("writable-after-insert")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE audit (account bigint, email text);
            CREATE TABLE accounts (code text PRIMARY KEY, email text NOT NULL);
            CREATE FUNCTION accounts_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO audit VALUES (length(NEW.code), NEW.email); RETURN NULL; END $$;
            CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_audit();
            INSERT INTO accounts SELECT 'c' || g, 'u' || g || '@x' FROM generate_series(1, 20) g;
            """, table: "accounts", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["trigger accounts_audit", "accounts_audit()", "names email", "AFTER INSERT", "23505"])
        #expect(try fixture.int("SELECT count(*) FROM audit") == 20)
        try fixture.exec("""
            CREATE OR REPLACE FUNCTION accounts_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO audit VALUES (length(NEW.code), to_jsonb(NEW) ->> 'email_address'); RETURN NULL; END $$;
            """)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO accounts (code, email_address) VALUES ('fresh-code', 'a@b')")
        #expect(try fixture.rows("SELECT email FROM audit WHERE account = 10") == [["a@b"]])
    }

    /// An AFTER INSERT trigger on a table with a generated key: the copy takes a new key, is
    /// inserted, and the trigger fails in the proof.
    @Test func anAfterInsertTriggerOnAGeneratedKeyIsReachedByTheCopy() throws {
        let fixture = try EngineFixture("writable-after-insert-serial")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE audit (account bigint, email text);
            CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ref uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
                                   email text NOT NULL);
            CREATE FUNCTION accounts_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO audit VALUES (NEW.id, NEW.email); RETURN NULL; END $$;
            CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_audit();
            INSERT INTO accounts (email) SELECT 'u' || g || '@x' FROM generate_series(1, 20) g;
            """, table: "accounts", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["INSERT", "record \"new\" has no field \"email\"", "42703", "trigger accounts_audit"])
        #expect(try fixture.int("SELECT count(*) FROM audit") == 20)
    }

    /// A DELETE trigger reading the old column: the copy (a generated key) is deleted in the proof
    /// and the trigger fails; with another table's foreign key referencing the table contract
    /// deletes nothing and the trigger is judged by its source.
    @Test func aDeleteTriggerReadingTheOldColumnRefusesContract() throws {
        let fixture = try EngineFixture("writable-delete")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE gone (email text);
            CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL);
            CREATE FUNCTION accounts_gone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO gone VALUES (OLD.email); RETURN OLD; END $$;
            CREATE TRIGGER accounts_gone BEFORE DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_gone();
            INSERT INTO accounts (email) SELECT 'u' || g || '@x' FROM generate_series(1, 20) g;
            """, table: "accounts", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["a DELETE of one row", "record \"old\" has no field \"email\"", "42703", "trigger accounts_gone"])
        try fixture.exec("CREATE TABLE orders (account bigint REFERENCES accounts)")
        try expectRefusedContract(fixture, id, table: "accounts",
                                  ["trigger accounts_gone (BEFORE DELETE)", "names email", "foreign keys reference (orders)"])
        #expect(try fixture.int("SELECT count(*) FROM gone") == 0)
    }

    /// An empty table (hostile-d 43): contract writes a made-up row (each column's default, or a
    /// plain value of its type), so the trigger reading the old column fails in the proof and the
    /// refusal names PostgreSQL's error (it used to be judged by its source alone).
    @Test func anEmptyTableRefusesContractByTheTriggersSource() throws {
        let fixture = try EngineFixture("writable-empty")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, updated_at timestamptz);
            CREATE FUNCTION users_norm() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.email := lower(NEW.email); NEW.updated_at := now(); RETURN NEW; END $$;
            CREATE TRIGGER users_norm BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_norm();
            """, table: "users", column: "email", renamed: "email_address")
        try expectRefusedContract(fixture, id, table: "users",
                                  ["after contract's changes", "made-up row", "record \"new\" has no field \"email\"", "42703", "trigger users_norm"])
        try fixture.exec("""
            CREATE OR REPLACE FUNCTION users_norm() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
            """)
        try fixture.run(.contract, id)
        try fixture.exec("INSERT INTO users (id, email_address) VALUES (1, 'a@b')")
    }

    /// Hostile-d 43: a job queue, empty between bursts or not, with an `UPDATE OF note` trigger
    /// and an archive `AFTER DELETE` trigger reading the renamed column. The proof's UPDATE sets
    /// every column (so `UPDATE OF` triggers fire) and its DELETE fires the archive trigger, on a
    /// made-up row when the table is empty: both errors refuse contract, nothing changed.
    @Test(arguments: [false, true])
    func updateOfAnotherColumnAndDeleteTriggersReadingTheOldColumnRefuseContract(_ empty: Bool) throws {
        let fixture = try EngineFixture("writable-jobs-\(empty)")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL DEFAULT 'queued', note text);
            CREATE TABLE jobs_done (id bigint, state text);
            CREATE FUNCTION jobs_note_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.state = 'done' THEN RAISE EXCEPTION 'done jobs keep their note'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER jobs_note_audit BEFORE UPDATE OF note ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_note_audit();
            CREATE FUNCTION jobs_archive() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO jobs_done (id, state) VALUES (OLD.id, OLD.state); RETURN OLD; END $$;
            CREATE TRIGGER jobs_archive AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_archive();
            """ + (empty ? "" : "INSERT INTO jobs (id, note) SELECT g, 'n' || g FROM generate_series(1, 10) g;"),
            table: "jobs", column: "state", renamed: "status")
        try expectRefusedContract(fixture, id, table: "jobs", [
            "record \"new\" has no field \"state\"", "trigger jobs_note_audit (BEFORE UPDATE)",
            "record \"old\" has no field \"state\"", "trigger jobs_archive (AFTER DELETE)",
        ])
        #expect(try fixture.int("SELECT count(*) FROM jobs_done") == 0)
    }

    /// Hostile-d 43: on an empty table, a trigger whose source still names the old column in a
    /// branch that reads the other shape works after contract; the made-up row shows it, so
    /// contract goes through (judged by its source alone, it was refused).
    @Test func anEmptyTableWithATriggerReadingBothShapesContracts() throws {
        let fixture = try EngineFixture("writable-empty-both")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL DEFAULT 'queued', note text);
            CREATE FUNCTION jobs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF to_jsonb(NEW) ? 'status' THEN RETURN NEW; END IF;
              IF NEW.state = 'done' AND OLD.state <> 'running' THEN RAISE EXCEPTION 'bad transition'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER jobs_guard BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_guard();
            """, table: "jobs", column: "state", renamed: "status")
        try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted)
        try fixture.exec("INSERT INTO jobs (id) VALUES (1); UPDATE jobs SET note = 'x' WHERE id = 1")
    }

    /// Hostile-d 32: the classic audit trigger `INSERT INTO users_history SELECT NEW.*` (history
    /// table `LIKE users`) failed every INSERT and UPDATE from expand on, the row one column wider.
    /// Expand makes the proof's writes before and after its DDL and is refused, naming the trigger,
    /// the function and the error, nothing changed — on an empty table too, with a made-up row
    /// (hostile-d 43's empty table). Once the function names its columns, expand goes through and
    /// the table takes writes.
    @Test(arguments: [false, true])
    func expandIsRefusedWhenItsNewColumnBreaksAStarAuditTrigger(_ empty: Bool) throws {
        let fixture = try EngineFixture("writable-expand-star-\(empty)")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
            CREATE TABLE users_history (LIKE users);
            CREATE FUNCTION users_history_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO users_history SELECT NEW.*; RETURN NEW; END $$;
            CREATE TRIGGER users_history AFTER INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_history_row();
            """)
        if !empty { try fixture.exec("INSERT INTO users SELECT g, 'u' || g, 'n' || g FROM generate_series(1, 20) g") }
        let id = "001_add_nick"
        try fixture.writePlan(id, """
            table: users
            changes:
              - add: nickname
                type: text
                backfill: "name"
            """)
        let catalog = try fixture.snapshot("users")
        let history = try fixture.int("SELECT count(*) FROM users_history")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.failures.map(\.gate) == ["writable"], "\(refusal?.text ?? "")")
        for text in ["after expand's changes", "INSERT has more expressions than target columns", "trigger users_history", "users_history_row()"] {
            #expect(refusal?.text.contains(text) == true, "missing \(text) in: \(refusal?.text ?? "")")
        }
        #expect(try fixture.snapshot("users") == catalog)
        #expect(try fixture.int("SELECT count(*) FROM users_history") == history)
        #expect(try fixture.state(id)?.phase ?? .planned == .planned)
        try fixture.exec("INSERT INTO users VALUES (1000, 'x', 'y'); UPDATE users SET name = 'z' WHERE id = 1000")

        try fixture.exec("""
            CREATE OR REPLACE FUNCTION users_history_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO users_history (id, email, name) VALUES (NEW.id, NEW.email, NEW.name); RETURN NEW; END $$;
            """)
        try fixture.run(.expand, id)
        try fixture.exec("INSERT INTO users VALUES (1001, 'x', 'y'); UPDATE users SET name = 'z' WHERE id = 1001")
        #expect(try fixture.int("SELECT count(*) FROM users_history WHERE id = 1001") == 2)
    }

    /// A table whose own triggers refuse UPDATE and DELETE (an append-only ledger) is no reason to
    /// refuse contract: the same probes fail before contract's changes, so they prove nothing
    /// either way, and no trigger names the renamed column.
    @Test func aTableThatRefusesUpdatesAndDeletesStillContracts() throws {
        let fixture = try EngineFixture("writable-append-only")
        defer { fixture.close() }
        let id = try verifiedRename(fixture, """
            CREATE TABLE ledger (id bigint PRIMARY KEY, memo text, amount int NOT NULL);
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'ledger is append-only (%)', TG_OP; END $$;
            INSERT INTO ledger SELECT g, 'm' || g, g FROM generate_series(1, 20) g;
            """, table: "ledger", column: "memo", renamed: "note")
        try fixture.exec("""
            CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
            """)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.state(id)?.phase == .contracted)
        try fixture.exec("INSERT INTO ledger (id, note, amount) VALUES (100, 'x', 1)")
    }
}
