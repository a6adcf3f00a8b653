import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// hostile-d 30: `up: happened_at::date` ran under each writer's `TimeZone`: a writer in
/// Kiritimati (UTC+14) stored another date than the backfill and verify compute (UTC), verify
/// refused, and a row written after verify kept its other date through contract. The trigger's
/// function now keeps the expanding session's settings, and the later phases take them from it.
@Suite(needsDatabase)
struct SessionSettingTests {
    @Test func aWritersTimeZoneDoesNotChangeWhatUpComputes() throws {
        let fixture = try EngineFixture("sessiontz")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE events (id bigint PRIMARY KEY, happened_at timestamptz NOT NULL);
            INSERT INTO events SELECT g, timestamptz '2026-12-01 12:00+00' + g * interval '1 hour' FROM generate_series(1, 100) g;
            """)
        let id = try fixture.writePlan("001_day", """
            table: events
            changes:
              - alter: happened_at
                rename_to: happened_on
                type: date
                up: "happened_at::date"
                down: "happened_on::timestamptz"
            """)
        try fixture.run(.expand, id)
        try fixture.run(.backfill, id)
        try fixture.exec("SET TimeZone = 'Pacific/Kiritimati'; INSERT INTO events VALUES (1000, '2026-12-05 20:00+00'); RESET TimeZone")
        try fixture.run(.verify, id)
        try fixture.exec("SET TimeZone = 'Pacific/Kiritimati'; INSERT INTO events VALUES (1001, '2026-12-05 20:00+00'); RESET TimeZone")
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT id::text, happened_on::text FROM events WHERE id >= 1000 ORDER BY id")
                == [["1000", "2026-12-05"], ["1001", "2026-12-05"]])
    }

}

/// Which settings a plan's trigger pins (pure).
@Suite struct PinnedSettingTests {
    /// The settings pinned follow what the expressions touch: none for a plain text rename.
    @Test func onlyTheSettingsAnExpressionCanDependOnArePinned() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE e (id bigint PRIMARY KEY, at timestamptz, name text, score double precision);"])
        func pinned(_ changes: String) throws -> [String] {
            let plan = try #require(PlanLoader.load(file: "plans/001_p.yaml", source: "table: e\nchanges:\n" + changes).plan)
            let transition = try #require(TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition)
            return PhaseSQL(transition).pinnedSettings
        }
        #expect(try pinned("  - alter: name\n    rename_to: label\n") == [])
        #expect(try pinned("  - alter: at\n    rename_to: at2\n") == [])
        #expect(try pinned("  - alter: name\n    not_null: true\n") == [])
        #expect(try pinned("  - alter: name\n    up: \"name || score\"\n") == PhaseSQL.expressionSettings)
        #expect(try pinned("  - alter: at\n    type: text\n    up: \"at::text\"\n    down: \"at::timestamptz\"\n") == PhaseSQL.expressionSettings)
    }
}

/// hostile-e 01: a domain over timestamptz hid the time type from the words the pinning looked
/// at: nothing was pinned and a writer in UTC+14 stored another instant, kept through contract.
@Suite(needsDatabase)
struct DomainSessionSettingTests {
    @Test func aDomainOverTimestamptzIsPinnedToo() throws {
        let fixture = try EngineFixture("sessiondomain")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN moment AS timestamptz CHECK (VALUE > '2000-01-01');
            CREATE TABLE slots (id bigint PRIMARY KEY, starts text NOT NULL);
            INSERT INTO slots SELECT g, '2026-12-03 11:30' FROM generate_series(1, 50) g;
            """)
        let id = try fixture.writePlan("005_slots_moment", """
            table: slots
            changes:
              - alter: starts
                type: moment
                up: "starts::moment"
                down: "starts::text"
            """)
        for command: PhaseCommand in [.expand, .backfill, .verify] { try fixture.run(command, id) }
        try fixture.exec("SET TimeZone = 'Pacific/Kiritimati'; INSERT INTO slots (id, starts) VALUES (1001, '2026-12-03 11:30'); RESET TimeZone")
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT count(DISTINCT starts)::text FROM slots") == [["1"]])
    }
}

