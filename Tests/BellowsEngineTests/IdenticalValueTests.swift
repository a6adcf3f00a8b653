import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Values that are equal by their type's `=` but not the same value (hostile finding 19): a
/// case-only change under a nondeterministic collation, `2.5` and `2.500`, `-0` and `0`,
/// `'1 day'` and `'24 hours'`. The trigger decides "did the writer change this column" and
/// "does the write agree with up", and verify "do old and new agree", by identity: such a
/// write is copied to the other side, and a row whose sides differ only that way fails verify.
@Suite(needsDatabase)
struct IdenticalValueTests {
    static let ledger = """
        CREATE TABLE ledger (id bigint PRIMARY KEY, amount numeric NOT NULL, ratio float8 NOT NULL, span interval NOT NULL);
        INSERT INTO ledger SELECT g, 2.5, 0, '1 day' FROM generate_series(1, 300) AS g;
        """

    static let renameLedger = """
        table: ledger
        changes:
          - alter: amount
            rename_to: amt
          - alter: ratio
            rename_to: rate
          - alter: span
            rename_to: period
        """

    static let ledgerPlan = "001_ledger"

    /// The ledger with its rename plan moved forward through `last`.
    static func ledgerFixture(_ label: String, through last: PhaseCommand) throws -> EngineFixture {
        let fixture = try EngineFixture(label)
        do {
            try fixture.exec(ledger)
            try fixture.writePlan(ledgerPlan, renameLedger)
            try fixture.forward(ledgerPlan, through: last)
        } catch {
            fixture.close()
            throw error
        }
        return fixture
    }

    /// Each value's text form, which tells the equal-but-different values apart.
    static func ledgerRow(_ fixture: EngineFixture, _ id: Int, _ columns: String) throws -> [String?] {
        try #require(try fixture.rows("SELECT \(columns) FROM ledger WHERE id = $1", [id]).first)
    }

    /// New code writes values equal to the old column's but not the same: the old column
    /// takes them (it kept 2.5, 0 and 1 day, and rollback lost the write); old code's such
    /// writes reach the new column.
    @Test func equalButDifferentWritesAreCopiedBothWays() throws {
        let fixture = try Self.ledgerFixture("identical", through: .verify)
        defer { fixture.close() }
        let id = Self.ledgerPlan
        try fixture.exec("""
            UPDATE ledger SET amt = 2.500, rate = '-0', period = '24 hours' WHERE id = 1;
            UPDATE ledger SET amount = 2.50, ratio = '-0', span = '24 hours' WHERE id = 2;
            UPDATE ledger SET amt = 2.500 WHERE id = 3;
            INSERT INTO ledger (id, amount, ratio, span) VALUES (1001, 2.50, '-0', '24 hours');
            """)
        let identical = ["2.500", "-0", "24:00:00"]
        #expect(try Self.ledgerRow(fixture, 1, "amount::text, ratio::text, span::text") == identical)
        #expect(try Self.ledgerRow(fixture, 2, "amt::text, rate::text, period::text") == ["2.50", "-0", "24:00:00"])
        #expect(try Self.ledgerRow(fixture, 3, "amount::text, ratio::text, span::text") == ["2.500", "0", "1 day"])
        #expect(try Self.ledgerRow(fixture, 1001, "amt::text, rate::text, period::text") == ["2.50", "-0", "24:00:00"])
        try fixture.run(.verify, id)
        try fixture.run(.rollback, id)
        #expect(try Self.ledgerRow(fixture, 1, "amount::text, ratio::text, span::text") == identical)
        #expect(try Self.ledgerRow(fixture, 3, "amount::text") == ["2.500"])
    }

    /// Old and new columns that differ only in representation fail verify: written with the
    /// trigger disabled, so nothing copied them (verify counted them as agreeing).
    @Test func verifyFailsOnEqualButDifferentValues() throws {
        let fixture = try Self.ledgerFixture("identverify", through: .backfill)
        defer { fixture.close() }
        let id = Self.ledgerPlan
        let trigger = "~bellows_sync_\(id)"
        try fixture.exec("""
            ALTER TABLE ledger DISABLE TRIGGER "\(trigger)";
            UPDATE ledger SET amt = 2.500 WHERE id = 3;
            UPDATE ledger SET rate = '-0' WHERE id = 4;
            UPDATE ledger SET period = '24 hours' WHERE id = 5;
            ALTER TABLE ledger ENABLE ALWAYS TRIGGER "\(trigger)";
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["mismatch:change_1", "mismatch:change_2", "mismatch:change_3"], "\(refusal?.text ?? "")")
        for (gate, key) in zip(["mismatch:change_1", "mismatch:change_2", "mismatch:change_3"], ["3", "4", "5"]) {
            let message = refusal?.failures.first { $0.gate == gate }?.message ?? ""
            #expect(message.contains("1 row(s) disagree") && message.contains("(\(key))"), "\(message)")
        }
    }

    /// Whether the server was built with ICU (PyPI-wheel builds of 16 and 18 may not): initdb then
    /// imports its `*-x-icu` collations. Provider 'i' alone does not say it: 16+ always has the
    /// predefined `unicode` collation, and CREATE COLLATION … provider = icu fails without ICU.
    static func hasICU(_ fixture: EngineFixture) throws -> Bool {
        try fixture.int("SELECT count(*) FROM pg_collation WHERE collprovider = 'i' AND collname LIKE '%-x-icu'") > 0
    }

    /// A case-insensitive (nondeterministic) collation: a case-only write through the new
    /// column reaches the old one, and survives rollback; the new columns have the collation
    /// during the transition (a rename and a retype), so uniqueness means the same throughout.
    @Test func caseOnlyChangesUnderANondeterministicCollation() throws {
        let fixture = try EngineFixture("identci")
        defer { fixture.close() }
        guard try Self.hasICU(fixture) else { return }
        try fixture.exec("""
            CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE cu (id bigint PRIMARY KEY, nick text COLLATE ci NOT NULL UNIQUE, tag text COLLATE ci);
            INSERT INTO cu SELECT g, 'nick' || g, 'tag' || g FROM generate_series(1, 100) AS g;
            """)
        let id = "001_cu"
        try fixture.writePlan(id, """
            table: cu
            changes:
              - alter: nick
                rename_to: handle
                not_null: true
                unique: true
              - alter: tag
                type: varchar(50)
                up: "tag::varchar(50)"
                down: "tag::text"
            """)
        try fixture.forward(id, through: .verify)
        let collations = try fixture.rows("""
            SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
            WHERE a.attrelid = 'cu'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """)
        #expect(collations.map { $0[1] } == ["ci", "ci", "ci", "ci"], "\(collations)")
        try fixture.exec("""
            UPDATE cu SET handle = 'Nick4' WHERE id = 4;
            UPDATE cu SET nick = 'NICK5' WHERE id = 5;
            """)
        #expect(try fixture.rows("SELECT nick, handle FROM cu WHERE id IN (4, 5) ORDER BY id") == [["Nick4", "Nick4"], ["NICK5", "NICK5"]])
        // Unique ignoring case on the new column too.
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO cu (id, handle) VALUES (1001, 'NICK4')") }
        try fixture.run(.verify, id)

        let trigger = "~bellows_sync_\(id)"
        try fixture.exec("""
            ALTER TABLE cu DISABLE TRIGGER "\(trigger)";
            UPDATE cu SET handle = 'NICK6' WHERE id = 6;
            ALTER TABLE cu ENABLE ALWAYS TRIGGER "\(trigger)";
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["mismatch:change_1"], "\(refusal?.text ?? "")")
        try fixture.run(.rollback, id)
        #expect(try fixture.rows("SELECT nick FROM cu WHERE id IN (4, 5) ORDER BY id") == [["Nick4"], ["NICK5"]])
    }

    /// A faithful pair whose round trip is equal but not identical (hostile test b, finding 01):
    /// widening `numeric(10,2)` to `numeric`, new code writes `2.5`, `3` and inserts `7.1`;
    /// `down` keeps `2.50`, `3.00`, `7.10` for old code, whose `up` gives those, not what new
    /// code wrote. Verify accepts such rows (the old side is `down` of the new one) and refused
    /// every one of them; a row written around the trigger still fails.
    @Test func newCodeWritesWhoseRoundTripIsOnlyEqualVerify() throws {
        let fixture = try EngineFixture("identwiden")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE acct (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL);
            INSERT INTO acct SELECT g, g * 1.5 FROM generate_series(1, 100) AS g;
            """)
        let id = "001_acct"
        try fixture.writePlan(id, """
            table: acct
            changes:
              - alter: amount
                rename_to: amount_exact
                type: numeric
                up: "amount::numeric"
                down: "amount_exact::numeric(10,2)"
                not_null: true
            """)
        try fixture.forward(id, through: .backfill)
        try fixture.exec("""
            UPDATE acct SET amount_exact = 2.5 WHERE id = 1;
            UPDATE acct SET amount_exact = 3 WHERE id = 2;
            INSERT INTO acct (id, amount_exact) VALUES (1000, 7.1);
            """)
        #expect(try fixture.rows("SELECT amount::text, amount_exact::text FROM acct WHERE id IN (1, 2, 1000) ORDER BY id")
            == [["2.50", "2.5"], ["3.00", "3"], ["7.10", "7.1"]])
        try fixture.run(.verify, id)

        let trigger = "~bellows_sync_\(id)"
        try fixture.exec("""
            ALTER TABLE acct DISABLE TRIGGER "\(trigger)";
            UPDATE acct SET amount_exact = 9.99 WHERE id = 3;
            ALTER TABLE acct ENABLE ALWAYS TRIGGER "\(trigger)";
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["mismatch:change_1"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.message.contains("(3)") == true, "\(refusal?.text ?? "")")
        try fixture.exec("UPDATE acct SET amount_exact = 4.25 WHERE id = 3")
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT amount_exact::text FROM acct WHERE id IN (1, 2, 3, 1000) ORDER BY id") == [["2.5"], ["3"], ["4.25"], ["7.1"]])
    }

    /// An array slice keeps its source's null bitmap (hostile test b, finding 09): new code's
    /// `tags[3:3]` is equal to, not identical with, `up` of what `down` left for old code.
    @Test func anArraySliceWrittenByNewCodeVerifies() throws {
        let fixture = try EngineFixture("identslice")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE posts (id bigint PRIMARY KEY, tag_ids int[]);
            INSERT INTO posts SELECT g, ARRAY[g, NULL, g + 1] FROM generate_series(1, 10) AS g;
            """)
        let id = "001_posts"
        try fixture.writePlan(id, """
            table: posts
            changes:
              - alter: tag_ids
                rename_to: tags
                type: bigint[]
                up: "tag_ids::bigint[]"
                down: "tags::int[]"
            """)
        try fixture.forward(id, through: .backfill)
        try fixture.exec("UPDATE posts SET tags = tags[3:3] WHERE id = 1")
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT tags::text FROM posts WHERE id = 1") == [["{2}"]])
    }
}
