import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 17: an `up`/`backfill` that does not repeat (`now()`, `gen_random_uuid()`, a
/// user-defined VOLATILE function) gives another value on verify's second evaluation. Verify
/// and the rehearsal check presence (the new column filled wherever `up` gives a value) and the
/// constraints instead of equality. Before, verify refused every such row forever and the
/// rehearsal reported them as holding the wrong value.
@Suite(needsDatabase)
struct VolatileExpressionTests {
    static let table = """
        CREATE TABLE visits (
            site_id int NOT NULL,
            visit_no int NOT NULL,
            seen_on text,
            colour text,
            PRIMARY KEY (site_id, visit_no)
        );
        """

    @Test func verifyChecksPresenceForNowRandomAndUuids() throws {
        let fixture = try EngineFixture("volatile")
        defer { fixture.close() }
        try fixture.exec(Self.table + """
            INSERT INTO visits SELECT g % 4, g, CASE WHEN g % 3 = 0 THEN NULL ELSE '2026-01-' || lpad((1 + g % 28)::text, 2, '0') END,
                                      CASE WHEN g % 5 = 0 THEN NULL ELSE 'grey' END
            FROM generate_series(1, 600) AS g;
            """)
        let id = "001_visits"
        try fixture.writePlan(id, """
            table: visits
            changes:
              - alter: seen_on
                rename_to: seen_at
                type: timestamptz
                not_null: true
                up: "coalesce(seen_on::timestamptz, now())"
                down: "seen_at::date::text"
              - alter: colour
                rename_to: color
                up: "coalesce(colour, (ARRAY['red', 'green', 'blue'])[1 + floor(random() * 3)::int])"
                down: "color"
              - add: token
                type: uuid
                not_null: true
                unique: true
                backfill: "gen_random_uuid()"
            """)
        try fixture.forward(id, through: .backfill)
        let verified = try fixture.run(.verify, id)
        #expect(try fixture.state(id)?.phase == .verified, "\(verified.details)")
        try fixture.run(.contract, id)
        #expect(try fixture.int("SELECT count(*) FROM visits WHERE seen_at IS NULL OR color IS NULL OR token IS NULL") == 0)
        #expect(try fixture.int("SELECT count(DISTINCT token) FROM visits") == 600)
    }

    /// Presence still fails a row whose new column is NULL where `up` gives a value (a write
    /// around the trigger).
    /// hostile-h 11: the batch's condition evaluated a `nextval()` backfill a second time
    /// (`… IS NOT NULL`), so every row drew two values (1, 3, 5…), and estimate's "rolled back"
    /// sample drew from the sequence. Now one value per row, and estimate takes no sample.
    @Test func aNextvalBackfillDrawsOneValuePerRowAndEstimateDrawsNone() throws {
        let fixture = try EngineFixture("volatile-nextval")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SEQUENCE ticket_seq;
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g;
            """)
        try fixture.writePlan("001_ticket", """
            table: t
            changes:
              - add: ticket
                type: bigint
                backfill: "nextval('ticket_seq')"
            """)
        let report = try fixture.engine().estimate(plan: "001_ticket")
        #expect(report.backfill.sample == nil)
        #expect(report.backfill.sampleSkipped?.contains("nextval()") == true)
        #expect(try fixture.int("SELECT count(*) FROM pg_sequences WHERE sequencename = 'ticket_seq' AND last_value IS NULL") == 1,
                "estimate drew nothing from the sequence")
        try fixture.run(.expand, "001_ticket")
        try fixture.run(.backfill, "001_ticket")
        #expect(try fixture.int("SELECT count(DISTINCT ticket) FROM t") == 500)
        let drawn = try fixture.int("SELECT max(ticket) - min(ticket) FROM t")
        #expect(drawn == 499, "one value per row, drawn: \(drawn)")
        try fixture.run(.verify, "001_ticket")
    }

    @Test func verifyStillRefusesAMissingValue() throws {
        let fixture = try EngineFixture("volatilemissing")
        defer { fixture.close() }
        try fixture.exec(Self.table + "INSERT INTO visits SELECT 1, g, NULL, NULL FROM generate_series(1, 50) AS g;")
        let id = "001_visits"
        try fixture.writePlan(id, """
            table: visits
            changes:
              - alter: colour
                rename_to: color
                up: "coalesce(colour, (ARRAY['red', 'green', 'blue'])[1 + floor(random() * 3)::int])"
                down: "color"
            """)
        try fixture.forward(id, through: .backfill)
        try fixture.exec("""
            ALTER TABLE visits DISABLE TRIGGER "~bellows_sync_\(id)";
            UPDATE visits SET color = NULL WHERE visit_no = 7;
            ALTER TABLE visits ENABLE ALWAYS TRIGGER "~bellows_sync_\(id)";
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["mismatch:change_1"], "\(refusal?.text ?? "")")
    }

    /// The rehearsal compares such columns by presence too, under traffic.
    @Test func theRehearsalPassesVolatilePlans() throws {
        let fixture = try EngineFixture("volatilerehearse")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try ("-- Migration: 001_visits\n-- Description: visits\n-- Dependencies: none\n" + Self.table)
            .write(toFile: fixture.root + "/migrations/001_visits.sql", atomically: true, encoding: .utf8)
        try fixture.writePlan("001_visits", """
            table: visits
            changes:
              - alter: seen_on
                rename_to: seen_at
                type: timestamptz
                up: "coalesce(seen_on::timestamptz, now())"
                down: "seen_at::date::text"
              - add: token
                type: uuid
                not_null: true
                backfill: "gen_random_uuid()"
            rehearse:
              values:
                seen_on: ["2026-01-02", "2026-03-04"]
            """)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 400
        options.batchSize = 100
        let report = try Rehearsal(project: fixture.project, options: options).run()
        #expect(report.passed, "\(report.violations)")
    }
}
