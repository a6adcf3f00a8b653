import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 17: every key a plan accepts does what it says on the database: a type change
/// converts the default it carries, an in-place `unique: false` drops the column's unique
/// index, `comment: null` removes the comment; a default that does not fit is refused at
/// expand before any change.
@Suite(needsDatabase)
struct PlanKeyEffectTests {
    static let id = "001_rating_to_integer"

    /// `reviews.rating text NOT NULL DEFAULT '0'` with `rows` rows, and the plan that retypes it
    /// to integer; `extra` adds keys to the change.
    static func ratingToInteger(_ fixture: EngineFixture, rows: Int, extra: String = "") throws {
        try fixture.exec("""
            CREATE TABLE reviews (id bigint PRIMARY KEY, rating text NOT NULL DEFAULT '0');
            INSERT INTO reviews SELECT g, (g % 5)::text FROM generate_series(1, \(rows)) g;
            """)
        try fixture.writePlan(id, """
            table: reviews
            changes:
              - alter: rating
                type: integer
                up: "CAST(rating AS integer)"
                down: "rating::text"
            \(extra)
            """)
    }

    /// `rating text NOT NULL DEFAULT '0'` to integer: the carried default went over as
    /// `'0'::text`, and contract failed with 42804 after expand, backfill and verify had passed.
    @Test func aTypeChangeConvertsTheDefaultItCarries() throws {
        let fixture = try EngineFixture("defaultconv")
        defer { fixture.close() }
        let id = Self.id
        try Self.ratingToInteger(fixture, rows: 50)
        for command: PhaseCommand in [.expand, .backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.state(id)?.phase == .contracted)
        try fixture.exec("INSERT INTO reviews (id) VALUES (1000)")
        #expect(try fixture.rows("SELECT rating::text, pg_typeof(rating)::text FROM reviews WHERE id = 1000") == [["0", "integer"]])
    }

    /// hostile-d 02: `cents` → `euros` with `up: cents / 100` (same type) and an in-place `up`
    /// that rescales: before, after contract a default insert stored the old unit (500.00 and
    /// 250.00); the default goes through `up` as the trigger's value did during the transition.
    @Test func anUpThatChangesValuesConvertsTheDefaultWithoutATypeChange() throws {
        let fixture = try EngineFixture("defaultunit")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE prices (id bigint PRIMARY KEY, cents numeric(12,2) NOT NULL DEFAULT 500, fee numeric(12,2) NOT NULL DEFAULT 250);
            INSERT INTO prices SELECT g, g * 100, 100 FROM generate_series(1, 10) g;
            """)
        try fixture.writePlan("001_cents_to_euros", """
            table: prices
            changes:
              - alter: cents
                rename_to: euros
                up: "cents / 100"
                down: "euros * 100"
            """)
        try fixture.writePlan("002_fee_in_place", """
            table: prices
            changes:
              - alter: fee
                up: "CASE WHEN fee >= 100 THEN fee / 100 ELSE fee END"
            """)
        for id in ["001_cents_to_euros", "002_fee_in_place"] {
            try fixture.run(.expand, id)
        }
        try fixture.exec("INSERT INTO prices (id) VALUES (100)")
        for id in ["001_cents_to_euros", "002_fee_in_place"] {
            for command: PhaseCommand in [.backfill, .verify, .contract] { try fixture.run(command, id) }
        }
        try fixture.exec("INSERT INTO prices (id) VALUES (101)")
        let rows = try fixture.rows("SELECT euros::text, fee::text FROM prices WHERE id IN (1, 100, 101) ORDER BY id")
        #expect(rows == [["1.00", "1.00"], ["5.00", "2.50"], ["5.00", "2.50"]], "\(rows)")
    }

    /// A default `check` cannot judge (an expression, not a constant) that does not fit the
    /// new type: expand sets it in its transaction and refuses, changing nothing.
    @Test func expandRefusesADefaultThatDoesNotFitBeforeAnyChange() throws {
        let fixture = try EngineFixture("defaultprobe")
        defer { fixture.close() }
        let id = Self.id
        try Self.ratingToInteger(fixture, rows: 20, extra: """
                default: "'0'::text || ''"
            """)
        let before = try fixture.snapshot("reviews")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == ["expression"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("42804") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("plans/\(id).yaml:7:15") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("reviews")
        #expect(before == after, "\(before.difference(to: after))")
        #expect(try fixture.state(id)?.phase != .expanded)
    }

    /// `unique: false` on an in-place alter was accepted and did nothing.
    @Test func uniqueFalseInPlaceDropsTheUniqueIndexAtContract() throws {
        let fixture = try EngineFixture("uniquefalse")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text UNIQUE, handle text);
            CREATE UNIQUE INDEX accounts_handle_idx ON accounts (handle);
            INSERT INTO accounts SELECT g, 'e' || g, 'h' || g FROM generate_series(1, 20) g;
            """)
        let id = "001_not_unique"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                unique: false
              - alter: handle
                unique: false
            """)
        for command: PhaseCommand in [.expand, .backfill, .verify] { try fixture.run(command, id) }
        // Old code may rely on the uniqueness until contract.
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO accounts VALUES (100, 'e1', 'x')") }
        try fixture.run(.contract, id)
        #expect(try fixture.int("SELECT count(*) FROM pg_index WHERE indrelid = 'accounts'::regclass AND indisunique AND NOT indisprimary") == 0)
        try fixture.exec("INSERT INTO accounts VALUES (101, 'e1', 'h1')")
    }

    /// `comment: null` was a type error; it removes the column's comment (and a replaced
    /// column's comment is not carried to its replacement).
    @Test func commentNullRemovesTheComment() throws {
        let fixture = try EngineFixture("commentnull")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE notes (id bigint PRIMARY KEY, body text, title text);
            COMMENT ON COLUMN notes.body IS 'old body';
            COMMENT ON COLUMN notes.title IS 'old title';
            INSERT INTO notes SELECT g, 'b' || g, 't' || g FROM generate_series(1, 20) g;
            """)
        let id = "001_uncomment"
        try fixture.writePlan(id, """
            table: notes
            changes:
              - alter: body
                comment: null
              - alter: title
                rename_to: heading
                comment: null
            """)
        for command: PhaseCommand in [.expand, .backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.rows("SELECT col_description('notes'::regclass, attnum) FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attname IN ('body', 'heading') ORDER BY attname")
            == [[nil], [nil]])
    }
}
