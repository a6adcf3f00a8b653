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

    /// hostile-f 09: PL/pgSQL parses the trigger's body under the writer's
    /// `standard_conforming_strings`: with it off, `'\s+'` became `'s+'` and a row written after
    /// verify kept its unnormalised text through contract.
    @Test func aWriterWithoutStandardConformingStringsGetsTheSameUp() throws {
        let fixture = try EngineFixture("sessionscs")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);
            INSERT INTO notes SELECT g, 'a  b' FROM generate_series(1, 50) g;
            """)
        let id = try fixture.writePlan("001_clean", #"""
            table: notes
            changes:
              - alter: body
                rename_to: clean_body
                up: |-
                  regexp_replace(body, '\s+', ' ', 'g')
                down: clean_body
            """#)
        for command: PhaseCommand in [.expand, .backfill, .verify] { try fixture.run(command, id) }
        try fixture.exec("SET standard_conforming_strings = off; INSERT INTO notes VALUES (1000, 'x  y'); RESET standard_conforming_strings")
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT clean_body FROM notes WHERE id IN (1, 1000) ORDER BY id") == [["a b"], ["x y"]])
    }

    /// hostile-f 02: `'… IST'` is Israel's time under the `Default` abbreviations and India's
    /// under `India`: a writer with the other set stored another instant, kept through contract.
    @Test func aWritersTimeZoneAbbreviationsDoNotChangeWhatUpComputes() throws {
        let fixture = try EngineFixture("sessionabbrev")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE logins (id bigint PRIMARY KEY, at text NOT NULL);
            INSERT INTO logins SELECT g, '2026-05-02 18:50 IST' FROM generate_series(1, 50) g;
            """)
        let id = try fixture.writePlan("001_at", """
            table: logins
            changes:
              - alter: at
                type: timestamptz
                up: "at::timestamptz"
                down: "at::text"
            """)
        for command: PhaseCommand in [.expand, .backfill, .verify] { try fixture.run(command, id) }
        try fixture.exec("SET timezone_abbreviations = 'India'; INSERT INTO logins VALUES (1000, '2026-05-02 18:50 IST'); RESET timezone_abbreviations")
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT count(DISTINCT at)::text FROM logins") == [["1"]])
    }

    /// hostile-f 07: the operator's own `TimeZone` (PGTZ, a role setting) decided every converted
    /// value and nothing said so. Expand names the value, warns that the connection chose it, and
    /// history records every kept setting.
    @Test func expandNamesAndRecordsTheSettingsItKeeps() throws {
        let fixture = try EngineFixture("sessionshown")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE invoices (id bigint PRIMARY KEY, created_at timestamp NOT NULL);
            INSERT INTO invoices VALUES (1, '2026-05-02 18:50');
            """)
        let id = try fixture.writePlan("001_tz", """
            table: invoices
            changes:
              - alter: created_at
                type: timestamptz
                up: "created_at::timestamptz"
                down: "created_at::timestamp"
            """)
        let notes = Shared<[String]>([])
        try fixture.engine({ $0.conninfo = fixture.db.conninfo + " options='-c TimeZone=Europe/Berlin'" }, reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: id)
        #expect(notes.current.contains { $0.contains("TimeZone = Europe/Berlin and") }, "\(notes.current)")
        #expect(notes.current.contains { $0.hasPrefix("warning: TimeZone = Europe/Berlin comes from this connection (set by the client") },
                "\(notes.current)")
        #expect(try fixture.rows("SELECT details->'settings'->>'TimeZone', details->'settings'->>'standard_conforming_strings' FROM bellows.events WHERE command = 'expand'")
                == [["Europe/Berlin", "on"]])
        // A plain rename computes nothing: nothing kept, nothing said.
        notes.update { $0 = [] }
        try fixture.exec("CREATE TABLE t (id bigint PRIMARY KEY, a text)")
        let rename = try fixture.writePlan("002_rename", "table: t\nchanges:\n  - alter: a\n    rename_to: b\n")
        try fixture.engine({ $0.conninfo = fixture.db.conninfo + " options='-c TimeZone=Europe/Berlin'" }, reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: rename)
        #expect(!notes.current.contains { $0.contains("TimeZone") }, "\(notes.current)")
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

    /// Issue 22: the function keeps the values in its body (a `SET` clause is applied on every
    /// call, `timezone_abbreviations` re-reading its file), `standard_conforming_strings` alone
    /// in a clause; offline it shows PostgreSQL's built-in values, at expand its session's.
    @Test func theFunctionKeepsTheValuesInItsBody() throws {
        let catalog = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE e (id bigint PRIMARY KEY, at timestamptz);"])
        let plan = try #require(PlanLoader.load(file: "plans/001_p.yaml", source: "table: e\nchanges:\n  - alter: at\n    type: text\n    up: \"at::text\"\n    down: \"at::timestamptz\"\n").plan)
        var transition = try #require(TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition)
        let offline = PhaseSQL(transition).triggerFunction
        #expect(offline.components(separatedBy: " FROM CURRENT").count == 2 && offline.contains("SET standard_conforming_strings FROM CURRENT"), "\(offline)")
        #expect(offline.contains("current_setting('timezone_abbreviations') <> 'Default'") && offline.contains("current_setting('timezone') <> 'GMT'"), "\(offline)")
        transition.pinnedValues = Dictionary(uniqueKeysWithValues: PhaseSQL.expressionSettings.map { ($0, PhaseSQL.builtInSettingValues[$0] ?? "") })
        transition.pinnedValues?["timezone"] = "Europe/Berlin"
        let live = PhaseSQL(transition).triggerFunction
        #expect(live.contains("IF bellows_writer[1] <> 'Europe/Berlin' THEN PERFORM set_config('timezone', 'Europe/Berlin', true); END IF;"), "\(live)")
        #expect(live.contains("IF bellows_writer[1] <> 'Europe/Berlin' THEN PERFORM set_config('timezone', bellows_writer[1], true); END IF;"), "\(live)")
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

