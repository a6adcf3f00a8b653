import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// PostgreSQL 18's own kinds of constraints on a replaced column (hostile-d 11, 03, 12, 29):
/// carried as they are, or refused before expand changes anything. Each test is skipped on
/// older servers.
@Suite(needsDatabase)
struct PostgreSQL18CarryTests {
    func major(_ fixture: EngineFixture) -> Int { fixture.sql.serverVersion / 10_000 }

    /// The infos expand reports.
    static func expandNotes(_ fixture: EngineFixture, _ id: String) throws -> [String] {
        let notes = Shared<[String]>([])
        try fixture.engine(reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: id)
        return notes.current
    }

    /// A user's `NOT NULL … NOT VALID` on a renamed column (new writes may not be NULL) is
    /// carried NOT VALID under its renamed name and never validated (hostile-d 11: it read as
    /// "nullable" and went with the old column, so NULLs were accepted after contract, without
    /// a word). `not_null: false` drops it on purpose.
    @Test func aNotValidNotNullConstraintIsCarriedNotValid() throws {
        let fixture = try EngineFixture("pg18-nn-notvalid")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE guests (id bigint PRIMARY KEY, nick text, note text);
            INSERT INTO guests SELECT g, 'n' || g, 'x' FROM generate_series(1, 50) AS g;
            ALTER TABLE guests ADD CONSTRAINT guests_nick_required NOT NULL nick NOT VALID;
            ALTER TABLE guests ADD CONSTRAINT note_present NOT NULL note NOT VALID;
            """)
        let id = "001_rename_nick"
        try fixture.writePlan(id, """
            table: guests
            changes:
              - alter: nick
                rename_to: nickname
              - alter: note
                rename_to: remark
                not_null: false
            """)
        let notes = try Self.expandNotes(fixture, id)
        #expect(notes.contains { $0.contains("NOT VALID NOT NULL constraint guests_nick_required of nick: recreated — as guests_nickname_required on nickname, NOT VALID as it was") },
                "\(notes)")
        #expect(notes.contains { $0.contains("NOT VALID NOT NULL constraint note_present of note: dropped — the plan says not_null: false") }, "\(notes)")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.rows("""
            SELECT k.conname, pg_get_constraintdef(k.oid), k.convalidated::text FROM pg_constraint k
            WHERE k.conrelid = 'guests'::regclass AND k.contype = 'n' ORDER BY 1
            """) == [
                ["guests_id_not_null", "NOT NULL id", "true"],
                ["guests_nickname_required", "NOT NULL nickname NOT VALID", "false"],
            ])
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO guests (id, nickname, remark) VALUES (1000, NULL, 'r')") }
        try fixture.exec("INSERT INTO guests (id, nickname, remark) VALUES (1001, 'n', NULL)")
    }

    /// Legacy NULLs under a NOT VALID NOT NULL constraint: PostgreSQL refuses every new version
    /// of such a row, so the backfill would fail on them. Refused before expand changes
    /// anything, naming the constraint (hostile-d 11's reproduction).
    @Test func aNotValidNotNullConstraintOverLegacyNullsIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("pg18-nn-nulls")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE guests (id bigint PRIMARY KEY, nick text);
            INSERT INTO guests SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 50) AS g;
            ALTER TABLE guests ADD CONSTRAINT guests_nick_required NOT NULL nick NOT VALID;
            """)
        try CarryoverTests.expectRefusedBeforeExpand(fixture, table: "guests", column: "nick", to: "nickname",
                                                     mentioning: "violate its NOT VALID constraint guests_nick_required (NOT NULL nick)")
    }

    /// A `NOT ENFORCED` CHECK and foreign key on renamed columns (rules the legacy rows do not
    /// follow) are carried NOT ENFORCED and never validated (hostile-d 03: verify ran
    /// `VALIDATE` on their copies, which PostgreSQL refuses, so the plan could never verify),
    /// and their rows do not refuse the backfill (they check nothing).
    @Test func notEnforcedConstraintsAreCarriedAndNeverValidated() throws {
        let fixture = try EngineFixture("pg18-not-enforced")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE parents (id bigint PRIMARY KEY);
            CREATE TABLE items (id bigint PRIMARY KEY, qty int, parent_id bigint, code text);
            INSERT INTO parents SELECT g FROM generate_series(1, 5) AS g;
            INSERT INTO items SELECT g, CASE WHEN g % 10 = 0 THEN -1 ELSE g END, CASE WHEN g % 10 = 0 THEN 999 ELSE 1 END, 'c' || g
            FROM generate_series(1, 100) AS g;
            ALTER TABLE items ADD CONSTRAINT items_qty_positive CHECK (qty > 0) NOT ENFORCED;
            ALTER TABLE items ADD CONSTRAINT items_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id) NOT ENFORCED;
            """)
        let id = "001_rename_qty"
        try fixture.writePlan(id, """
            table: items
            changes:
              - alter: qty
                rename_to: quantity
              - alter: parent_id
                rename_to: parent
            """)
        let notes = try Self.expandNotes(fixture, id)
        #expect(notes.contains { $0.contains("CHECK items_qty_positive: recreated — as items_quantity_positive, NOT ENFORCED as it was") }, "\(notes)")
        #expect(notes.contains { $0.contains("foreign key items_parent_fk: recreated — as items_parent_fk, NOT ENFORCED as it was") }, "\(notes)")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.rows("""
            SELECT conname, pg_get_constraintdef(oid), conenforced::text FROM pg_constraint
            WHERE conrelid = 'items'::regclass AND contype IN ('c', 'f') ORDER BY 1
            """) == [
                ["items_parent_fk", "FOREIGN KEY (parent) REFERENCES parents(id) NOT ENFORCED", "false"],
                ["items_quantity_positive", "CHECK ((quantity > 0)) NOT ENFORCED", "false"],
            ])
        try fixture.exec("INSERT INTO items (id, quantity, parent, code) VALUES (1000, -5, 999, 'x')")
    }

    /// A temporal `UNIQUE (…, during WITHOUT OVERLAPS)` over a renamed column is refused before
    /// expand changes anything (hostile-d 12: rebuilt as `CREATE UNIQUE INDEX … USING gist`,
    /// which PostgreSQL refuses, after expand had committed the column and the trigger; every
    /// retry failed the same way).
    @Test func aTemporalUniqueConstraintIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("pg18-without-overlaps")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE bookings (id bigint PRIMARY KEY, room int4range NOT NULL, during tstzrange NOT NULL, guest text,
              CONSTRAINT bookings_no_overlap UNIQUE (room, during WITHOUT OVERLAPS));
            INSERT INTO bookings SELECT g, int4range(g % 5, g % 5 + 1),
              tstzrange(timestamptz '2026-01-01' + g * interval '1 day', timestamptz '2026-01-01' + (g + 1) * interval '1 day'), 'g' || g
            FROM generate_series(1, 50) AS g;
            """)
        try CarryoverTests.expectRefusedBeforeExpand(fixture, table: "bookings", column: "room", to: "room_span",
                                                     mentioning: "temporal UNIQUE constraint bookings_no_overlap (WITHOUT OVERLAPS): uses room")
    }

    /// `drop_constraint` takes a NOT NULL constraint's own name (`b_required`), a NOT VALID one's
    /// too, and the alias `<table>_<column>_not_null` still (hostile-d 29: the real name was
    /// refused, even by the live gate, and the suggestion listed `t_b_not_null`, which does not
    /// exist).
    @Test func aNotNullConstraintIsDroppedByItsOwnName() throws {
        let fixture = try EngineFixture("pg18-drop-named-nn")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, b text CONSTRAINT b_required NOT NULL, c text NOT NULL, d text, e text NOT NULL);
            INSERT INTO t SELECT g, 'b', 'c', 'd', 'e' FROM generate_series(1, 10) AS g;
            ALTER TABLE t ADD CONSTRAINT d_present NOT NULL d NOT VALID;
            """)
        try fixture.writePlan("001_typo", """
            table: t
            changes:
              - drop_constraint: zzz
            """)
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "001_typo") })
        #expect(refusal.text.contains("(it has: b_required, d_present, t_c_not_null, t_e_not_null)"), "\(refusal.text)")
        try fixture.writePlan("001_typo", """
            table: t
            changes:
              - drop_constraint: b_required
              - drop_constraint: d_present
              - drop_constraint: t_e_not_null
            """)
        try fixture.forward("001_typo", through: .contract)
        #expect(try fixture.rows("SELECT conname FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'n' ORDER BY 1")
                == [["t_c_not_null"], ["t_id_not_null"]])
        try fixture.exec("INSERT INTO t VALUES (100, NULL, 'c', NULL, NULL)")
    }
}
