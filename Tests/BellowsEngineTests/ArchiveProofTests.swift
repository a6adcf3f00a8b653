import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Contract's proof of its archive against what hostile-o found (docs/findings/2026-12-04-hostile-o):
/// archives that were right refused, and values lost that the proof let through.
extension ArchiveTests {
    /// Runs contract of `plan`, running `write` once (on the fixture's own session) after the
    /// archive's batches and before the proof: an application write in the archive's window.
    static func contractWritingBeforeTheProof(_ fixture: EngineFixture, _ plan: String, _ write: String) throws -> PhaseOutcome {
        let written = Shared(false)
        let outcome = try fixture.engine(reporter: { event in
            guard case .info(let text) = event, text.hasPrefix("archived "), !written.current else { return }
            written.update { $0 = true }
            do { try fixture.exec(write) } catch { Issue.record("the write failed: \(error)") }
        }).run(.contract, plan: plan)
        #expect(written.current, "contract reported no archive batches")
        return outcome
    }

    /// hostile-o 01, 02: a composite kept as text, written meanwhile by a session with its own
    /// TimeZone, bytea_output and search_path: the trigger's text (`… -04`, escaped bytes,
    /// `public.audits`) differs from the proof's and every such row was refused. Read back into
    /// the type, they are the same values.
    @Test func valuesKeptAsTextWrittenUnderTheWritersOwnSettingsPassTheProof() throws {
        let fixture = try EngineFixture("archive_proof_settings")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TYPE stamp AS (at timestamptz, body bytea, rel regclass);
            CREATE TABLE audits (id bigint PRIMARY KEY, tag stamp, what text);
            INSERT INTO audits SELECT g, ROW(timestamptz '2026-07-13 10:00:00+00' + g * interval '1 minute', decode(md5(g::text), 'hex'), 'audits'::regclass)::stamp, 'w' || g
            FROM generate_series(1, 300) AS g;
            """)
        try fixture.writePlan("001_drop_tag", "table: audits\nchanges:\n  - drop: tag\n")
        try fixture.forward("001_drop_tag", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_tag", """
            SET TimeZone = 'America/New_York'; SET bytea_output = 'escape'; SET search_path = pg_catalog;
            UPDATE public.audits SET tag = ROW((tag).at + interval '1 second', (tag).body || '\\x00'::bytea, 'public.audits'::regclass)::public.stamp WHERE id <= 5;
            RESET TimeZone; RESET bytea_output; RESET search_path;
            """)
        #expect(try fixture.state("001_drop_tag")?.phase == .contracted)
        #expect(try fixture.int("""
            SELECT count(*) FROM bellows_archive."001_drop_tag_audits"
            WHERE (tag::stamp).at = timestamptz '2026-07-13 10:00:01+00' + id * interval '1 minute' AND (tag::stamp).body = decode(md5(id::text), 'hex') || '\\x00'::bytea
            """) == 5)
    }

    /// hostile-o 04: a migration widened a column contract drops after expand; the archive kept
    /// expand's `numeric(10,2)` and rounded 7.1234 to 7.12, and the proof, comparing under that
    /// type too, passed. The archive keeps the column's type at contract.
    @Test func aColumnWidenedSinceExpandIsArchivedWhole() throws {
        let fixture = try EngineFixture("archive_proof_widened")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE prices (id bigint PRIMARY KEY, amount numeric(10,2), label varchar(20));
            INSERT INTO prices SELECT g, g + 0.25, 'l' || g FROM generate_series(1, 100) AS g;
            """)
        try fixture.writePlan("001_drop_amount", "table: prices\nchanges:\n  - drop: amount\n  - drop: label\n")
        try fixture.forward("001_drop_amount", through: .verify)
        try fixture.exec("""
            ALTER TABLE prices ALTER COLUMN amount TYPE numeric(12,4), ALTER COLUMN label TYPE varchar(100);
            UPDATE prices SET amount = 7.1234, label = repeat('x', 60) WHERE id = 1;
            """)
        try fixture.run(.contract, "001_drop_amount")
        #expect(try fixture.rows("SELECT amount::text, length(label)::text FROM bellows_archive.\"001_drop_amount_prices\" WHERE id = 1") == [["7.1234", "60"]])
        #expect(try fixture.rows("SELECT column_types::text FROM bellows.archives") == [["{\"numeric(12,4)\",\"character varying(100)\"}"]])
    }

    /// hostile-o 05: a user AFTER trigger sorting before the archive's that updates the row again
    /// (`"Normalize"` upper-cases it): its nested write was archived, then overwritten by the
    /// outer, older write's. The archive's trigger now fires first (`!` in its name); a user
    /// trigger still sorting before it refuses contract, naming it.
    @Test func aUserAfterTriggerRewritingTheRowLeavesTheArchiveWithItsLastValue() throws {
        let fixture = try EngineFixture("archive_proof_nested")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_note text, balance int);
            INSERT INTO accounts SELECT g, 'N' || g, 0 FROM generate_series(1, 300) AS g;
            -- Every text column upper-cased, whatever the table's shape (contract's writes prove it still works).
            CREATE FUNCTION normalize_text() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE col name;
            BEGIN
              IF pg_trigger_depth() = 1 THEN
                FOR col IN SELECT attname FROM pg_attribute WHERE attrelid = TG_RELID AND atttypid = 'text'::regtype AND attnum > 0 AND NOT attisdropped LOOP
                  EXECUTE format('UPDATE %s SET %I = upper(%I) WHERE id = $1 AND %I IS DISTINCT FROM upper(%I)', TG_RELID::regclass, col, col, col, col) USING NEW.id;
                END LOOP;
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER "Normalize" AFTER INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION normalize_text();
            """)
        try fixture.writePlan("001_drop_note", "table: accounts\nchanges:\n  - drop: legacy_note\n")
        try fixture.forward("001_drop_note", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_note", "UPDATE accounts SET legacy_note = 'changed ' || id WHERE id <= 5")
        #expect(try fixture.rows("SELECT legacy_note FROM bellows_archive.\"001_drop_note_accounts\" WHERE id <= 5 ORDER BY id")
                == (1...5).map { ["CHANGED \($0)"] })
    }

    /// hostile-q 01, 03: user AFTER triggers sorting before the archive's (so firing first)
    /// that write another row of the same statement, or re-insert a deleted row: with NEW's
    /// values, the older event overwrote the newer write, and a tombstone hid the re-inserted
    /// row. Each event now archives the row as the table holds it when it fires.
    @Test func userAfterTriggersWritingOtherRowsOrReinsertingLeaveTheArchiveAsTheTable() throws {
        let fixture = try EngineFixture("archive_proof_order")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_note text, partner bigint);
            INSERT INTO accounts SELECT g, 'n' || g, CASE WHEN g % 2 = 1 THEN g + 1 END FROM generate_series(1, 300) AS g;
            -- An update of an odd row marks its partner (the next, even row), which the same statement also updates.
            CREATE FUNCTION mark_partner() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE note name := (SELECT attname FROM pg_attribute WHERE attrelid = TG_RELID AND attname LIKE '%note' AND NOT attisdropped);
            BEGIN
              IF pg_trigger_depth() = 1 AND NEW.partner IS NOT NULL AND note IS NOT NULL THEN
                EXECUTE format('UPDATE accounts SET %I = ''marked'' WHERE id = $1', note) USING NEW.partner;
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER " mark" AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION mark_partner();
            -- A deleted row comes back (a soft-delete guard).
            CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.id = 100 THEN INSERT INTO accounts (id, partner) VALUES (OLD.id, OLD.partner); END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER " keep" AFTER DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION keep_row();
            """)
        try fixture.writePlan("001_drop_note", "table: accounts\nchanges:\n  - drop: legacy_note\n")
        try fixture.forward("001_drop_note", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_note", """
            UPDATE accounts SET legacy_note = 'changed ' || id WHERE id IN (1, 2);
            DELETE FROM accounts WHERE id = 100;
            """)
        #expect(try fixture.state("001_drop_note")?.phase == .contracted)
        let archived = try fixture.rows("SELECT id::text, legacy_note FROM bellows_archive.\"001_drop_note_accounts\" WHERE id IN (1, 2, 100) ORDER BY id")
        #expect(archived
                == [["1", "changed 1"], ["100", nil], ["2", "marked"]], "\(archived)")
    }

    /// hostile-r 01, 02, 04: the archive's trigger found a `citext` key's `=` under `pg_catalog`
    /// alone (text's: a scan per event, and a row a lower-casing trigger re-keyed lost), and under
    /// a deferrable key a new version inserted before the old one's delete failed the upsert.
    @Test func extensionKeysAndDeferrableKeysAreArchivedByTheirOwnEquality() throws {
        let fixture = try EngineFixture("archive_proof_key_equality")
        defer { fixture.close() }
        do { try fixture.exec("CREATE EXTENSION IF NOT EXISTS citext") } catch { return }   // a server built without contrib
        try fixture.exec("""
            CREATE TABLE tags (name citext PRIMARY KEY, note text);
            INSERT INTO tags SELECT 'Tag' || g, 'n' || g FROM generate_series(1, 300) AS g;
            CREATE TABLE slots (id int, note text, CONSTRAINT slots_pkey PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED);
            INSERT INTO slots SELECT g, 'n' || g FROM generate_series(1, 300) AS g;
            """)
        try fixture.writePlan("001_drop_tag_note", "table: tags\nchanges:\n  - drop: note\n")
        try fixture.writePlan("002_drop_slot_note", "table: slots\nchanges:\n  - drop: note\n")
        try fixture.forward("001_drop_tag_note", through: .verify)
        try fixture.forward("002_drop_slot_note", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_tag_note", "UPDATE tags SET name = 'TAG7', note = 'renamed' WHERE name = 'tag7'")
        #expect(try fixture.rows("SELECT name::text, note FROM bellows_archive.\"001_drop_tag_note_tags\" WHERE name = 'tag7'") == [["Tag7", "renamed"]], "one row, its key as first archived, equal under citext")
        try Self.contractWritingBeforeTheProof(fixture, "002_drop_slot_note", """
            BEGIN; INSERT INTO slots VALUES (5, 'new version'); DELETE FROM slots WHERE id = 5 AND note = 'n5'; COMMIT;
            """)
        #expect(try fixture.rows("SELECT note FROM bellows_archive.\"002_drop_slot_note_slots\" WHERE id = 5") == [["new version"]])
    }

    /// hostile-p 01–03: values kept as text that read back with other bytes (a NaN made by
    /// `'inf' - 'inf'`, a composite written before `ALTER TYPE … ADD ATTRIBUTE`) or not at all
    /// (a domain whose CHECK was added NOT VALID) made the proof refuse or fail a right archive.
    @Test func valuesKeptAsTextThatDoNotReadBackIdenticallyPassTheProof() throws {
        let fixture = try EngineFixture("archive_proof_readback")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN measure AS double precision;
            CREATE TYPE pair AS (a int, b text);
            CREATE DOMAIN code AS text;
            CREATE TABLE things (id bigint PRIMARY KEY, m measure, p pair, c code, keep text);
            INSERT INTO things SELECT g, CASE WHEN g % 2 = 0 THEN (float8 'inf' - float8 'inf') ELSE g END, ROW(g, 'b' || g)::pair, 'c' || g, 'k'
            FROM generate_series(1, 200) AS g;
            ALTER TYPE pair ADD ATTRIBUTE c date;
            ALTER DOMAIN code ADD CONSTRAINT code_upper CHECK (VALUE = upper(VALUE)) NOT VALID;
            """)
        try fixture.writePlan("001_drop", "table: things\nchanges:\n  - drop: m\n  - drop: p\n  - drop: c\n")
        try fixture.forward("001_drop", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop", "SET TimeZone = 'America/New_York'; UPDATE things SET c = 'C1', m = 'NaN' WHERE id = 1; RESET TimeZone")
        #expect(try fixture.state("001_drop")?.phase == .contracted)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_drop_things\" WHERE m = 'NaN'") == 101)
    }

    /// hostile-q 06: a value a domain's NOT VALID CHECK exempts, written again during the
    /// archive's window by a session in another TimeZone, printed other text than the proof's
    /// and, read back into the domain for the comparison, failed its CHECK: contract failed. It
    /// reads back into the domain's base type, whose text is the same.
    @Test func anExemptDomainValueRewrittenUnderAnotherTimeZonePassesTheProof() throws {
        let fixture = try EngineFixture("archive_proof_exempt")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN moment AS timestamptz;
            CREATE TABLE slots (id bigint PRIMARY KEY, at moment, ats moment[], keep text);
            INSERT INTO slots SELECT g, timestamptz '2020-01-01 10:00+00' + g * interval '1 day', ARRAY[timestamptz '2020-01-01 10:00+00']::moment[], 'k'
            FROM generate_series(1, 100) AS g;
            ALTER DOMAIN moment ADD CONSTRAINT moment_recent CHECK (VALUE > '2025-01-01') NOT VALID;
            """)
        try fixture.writePlan("001_drop_at", "table: slots\nchanges:\n  - drop: at\n  - drop: ats\n")
        try fixture.forward("001_drop_at", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_at", "SET TimeZone = 'America/New_York'; UPDATE slots SET keep = 'x' WHERE id <= 3; RESET TimeZone")
        #expect(try fixture.state("001_drop_at")?.phase == .contracted)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_drop_at_slots\" WHERE at::timestamptz = timestamptz '2020-01-01 10:00+00' + id * interval '1 day'") == 100)
    }

    /// hostile-o 03: under a case-insensitive key, a write changing `k119` to `K119` upserted a
    /// second archive row beside the stale one; the archive's key keeps the key's collation.
    /// (Nondeterministic collations need ICU, which CI's PostgreSQL 16 build lacks: skipped there.)
    @Test func aCaseOnlyKeyChangeUnderACaseInsensitiveKeyUpdatesItsArchiveRow() throws {
        let fixture = try EngineFixture("archive_proof_ci_key")
        defer { fixture.close() }
        do {
            try fixture.exec("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        } catch let error as PostgresError where error.sqlState == SQLState("0A000") {
            return   // "ICU is not supported in this build"
        }
        try fixture.exec("""
            CREATE TABLE items (code text COLLATE ci PRIMARY KEY, note text);
            INSERT INTO items SELECT 'k' || g, 'n' || g FROM generate_series(1, 300) AS g;
            """)
        try fixture.writePlan("001_drop_note", "table: items\nchanges:\n  - drop: note\n")
        try fixture.forward("001_drop_note", through: .verify)
        try Self.contractWritingBeforeTheProof(fixture, "001_drop_note", "UPDATE items SET code = 'K119', note = 'changed' WHERE code = 'k119'")
        #expect(try fixture.rows("SELECT code, note FROM bellows_archive.\"001_drop_note_items\" WHERE code = 'k119'") == [["k119", "changed"]])
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_drop_note_items\"") == 300)
    }
}
