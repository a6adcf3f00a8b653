import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 22: every plan that computed made its trigger compare fourteen of the writer's
/// settings with the kept ones on every write, a third of the trigger's cost for an
/// `integer → bigint` change (1.36× a write without the trigger, target 1.15×). Expand now reads
/// what PostgreSQL compiled `up` and `down` to (`SettingsIndependence`) and keeps no setting
/// when none can change what they compute; anything it does not know keeps them all.
@Suite(needsDatabase)
struct SettingsIndependenceEngineTests {
    /// The function's body as expand made it, and the state's kept settings.
    func madeFunction(_ fixture: EngineFixture, _ plan: String) throws -> (body: String, config: [String], kept: String?) {
        let body = try #require(try fixture.rows("SELECT prosrc FROM pg_proc WHERE proname = $1", ["sync_\(plan)"]).first?.first ?? nil)
        let config = try fixture.rows("SELECT unnest(proconfig) FROM pg_proc WHERE proname = $1", ["sync_\(plan)"]).compactMap { $0.first ?? nil }
        let kept = try fixture.rows("SELECT pinned_settings::text FROM bellows.plans WHERE id = $1", [plan]).first?.first ?? nil
        return (body, config, kept)
    }

    @Test func aWideningKeepsNoSettingAndEveryWriterStillGetsItsValue() throws {
        let fixture = try EngineFixture("setfree")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE counters (id bigint PRIMARY KEY, n integer);
            INSERT INTO counters SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END FROM generate_series(1, 500) g;
            """)
        let id = try fixture.writePlan("001_widen_n", "table: counters\nchanges:\n  - alter: n\n    type: bigint\n    up: \"n::bigint\"\n    down: \"n::integer\"\n")
        let notes = Shared<[String]>([])
        try fixture.engine(reporter: { note in if case .info(let text) = note { notes.update { $0.append(text) } } }).run(.expand, plan: id)
        let made = try madeFunction(fixture, "001_widen_n")
        #expect(!made.body.contains("current_setting"), "\(made.body)")
        #expect(made.config.count == 1 && made.config[0].hasPrefix("search_path="), "\(made.config)")
        // The phases' sessions keep the values, for the plan's checks.
        #expect(made.kept?.contains("timezone=") == true, "\(made.kept ?? "NULL")")
        #expect(notes.current.contains { $0.hasPrefix("up and down compute the same under every session setting") }, "\(notes.current)")
        #expect(!notes.current.contains { $0.contains("TimeZone =") }, "\(notes.current)")
        #expect(try fixture.int("SELECT count(*) FROM bellows.events WHERE command = 'expand' AND details->'settings' ? 'TimeZone'") == 1)
        try fixture.run(.backfill, id)
        try fixture.exec("""
            SET TimeZone = 'Pacific/Kiritimati'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = 0; SET standard_conforming_strings = off;
            UPDATE counters SET n = 7 WHERE id = 1; INSERT INTO counters (id, n) VALUES (1001, 1001);
            INSERT INTO counters (id, "_bellows_n") VALUES (1002, 1002); UPDATE counters SET "_bellows_n" = 3 WHERE id = 2;
            RESET ALL;
            """)
        #expect(try fixture.int("SELECT count(*) FROM counters WHERE n::bigint IS DISTINCT FROM \"_bellows_n\"") == 0)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT n::text FROM counters WHERE id IN (1, 2, 1001, 1002) ORDER BY id") == [["7"], ["3"], ["1001"], ["1002"]])
    }

    /// hostile-s 4: `quote_ident` reads `quote_all_identifiers`, which no plan kept: a writer
    /// with it on stored `"abc"` where the backfill stores `abc`. A plan that keeps the
    /// settings keeps it too.
    @Test func aWriterQuotingEveryIdentifierStoresWhatTheBackfillComputes() throws {
        let fixture = try EngineFixture("setquote")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE idents (id bigint PRIMARY KEY, name text); INSERT INTO idents VALUES (1, 'abc'), (2, 'Mixed Case')")
        let id = try fixture.writePlan("001_quote", "table: idents\nchanges:\n  - alter: name\n    rename_to: quoted\n    up: \"quote_ident(name)\"\n    down: \"quoted\"\n")
        try fixture.run(.expand, id)
        try fixture.exec("SET quote_all_identifiers = on; INSERT INTO idents (id, name) VALUES (3, 'xyz'); RESET quote_all_identifiers")
        try fixture.run(.backfill, id)
        #expect(try fixture.rows("SELECT quoted FROM idents ORDER BY id") == [["abc"], ["\"Mixed Case\""], ["xyz"]])
        try fixture.run(.verify, id)
    }

    /// hostile-u 1: a name with `\'` in the messages the function raises: without its
    /// `standard_conforming_strings` clause a writer with it off could not compile the body, and
    /// every write of that session failed. A backslash anywhere in the body keeps the settings.
    @Test func aBackslashInANameTheBodyQuotesKeepsTheSettings() throws {
        let fixture = try EngineFixture("setbackslash")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t SELECT g, g FROM generate_series(1, 5) g")
        let id = try fixture.writePlan("001_a_big", "table: t\nchanges:\n  - alter: a\n    rename_to: 'b\\''c'\n    type: bigint\n    up: \"a::bigint + 0\"\n    down: \"a::int4\"\n")
        try fixture.run(.expand, id)
        try fixture.exec("SET standard_conforming_strings = off; INSERT INTO t (id, a) VALUES (7, 7); UPDATE t SET a = 8 WHERE id = 1; RESET standard_conforming_strings")
        #expect(try fixture.rows("SELECT a::text, \"b\\'c\"::text FROM t WHERE id IN (1, 7) ORDER BY id") == [["8", "8"], ["7", "7"]])
    }

    /// hostile-u 4: a line break in a name ended the `-- change` comment in the function's body
    /// and the rest of the name ran on every write (an insert of id 7 stored 1007).
    @Test func aLineBreakInANameStaysInTheFunctionsComment() throws {
        let fixture = try EngineFixture("setnewline")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t VALUES (1, 1)")
        let id = try fixture.writePlan("001_nl", "table: t\nchanges:\n  - alter: a\n    rename_to: \"b\\n  NEW.\\\"id\\\" := NEW.\\\"id\\\" + 1000;\"\n    type: bigint\n    up: \"a::bigint\"\n    down: \"a::int4\"\n")
        try fixture.run(.expand, id)
        try fixture.exec("INSERT INTO t (id, a) VALUES (7, 7)")
        #expect(try fixture.rows("SELECT id::text FROM t ORDER BY id") == [["1"], ["7"]])
    }

    /// Expressions that are the same under every setting keep none; each of the others keeps all.
    @Test func onlyExpressionsThatCannotDependOnASettingKeepNone() throws {
        let fixture = try EngineFixture("setwhich")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
            CREATE FUNCTION local_day(timestamptz) RETURNS date IMMUTABLE LANGUAGE sql AS $$ SELECT $1::date $$;
            CREATE TABLE items (id bigint PRIMARY KEY, n integer, name text, price numeric(10,2), at timestamptz, d date, score double precision);
            INSERT INTO items SELECT g, g, ' Item ' || g, g * 1.5, '2026-12-04 23:30+00', '2026-12-04', g / 3.0 FROM generate_series(1, 20) g;
            """)
        let independent: [(String, String)] = [
            ("n", "up: \"coalesce(n, 0)\"\n    not_null: true"),
            ("name", "up: \"lower(btrim(name))\""),
            ("name", "type: varchar(40)\n    up: \"left(name, 40)::varchar(40)\"\n    down: \"name::text\""),
            ("price", "type: bigint\n    up: \"(price * 100)::bigint\"\n    down: \"(price / 100.0)::numeric(10,2)\""),
            ("n", "up: \"CASE WHEN n IS NULL THEN 0 WHEN n > 10 THEN greatest(n, 11) ELSE n END\""),
            ("score", "type: numeric\n    up: \"score::numeric\"\n    down: \"score::double precision\""),
        ]
        let dependent: [(String, String)] = [
            ("at", "type: date\n    up: \"at::date\"\n    down: \"at::timestamptz\""),
            ("at", "type: date\n    up: \"local_day(at)\"\n    down: \"at::timestamptz\""),
            ("d", "up: \"coalesce(d, '2026-01-01')\""),
            ("n", "type: text\n    up: \"n::text\"\n    down: \"n::integer\""),
            ("score", "type: text\n    up: \"to_char(score, '999D99')\"\n    down: \"score::double precision\""),
            ("name", "up: \"replace(name, '\\\\', '/')\""),
            ("n", "up: \"CASE WHEN n = NULL THEN 0 ELSE n END\""),
            ("n", "type: positive\n    up: \"n::positive\"\n    down: \"n::integer\""),
            ("name", "up: \"name || now()\""),
            ("at", "type: timestamp\n    up: \"at AT TIME ZONE 'IST'\"\n    down: \"at AT TIME ZONE 'IST'\""),
            ("name", "up: \"quote_ident(name)\""),
            ("n", "up: \"CASE WHEN n = /* unknown */ NULL THEN -1 ELSE n END\""),
            ("n", "up: \"CASE WHEN n =\\fNULL THEN -1 ELSE n END\""),
            ("name", "up: \"replace(name, U&'!00A0' UESCAPE '!', ' ')\""),
            // hostile-t: immutable, yet computed in the session's TimeZone; a range compared by
            // a function of the user's that the tree does not name.
            ("add: days", "type: numeric\n    backfill: \"extract(day from age(at, at))\""),
            ("n", "up: \"CASE WHEN greatest(int4range(n, n + 1), int4range(1, 2)) = int4range(1, 2) THEN 0 ELSE n END\""),
        ]
        for (index, (column, change)) in (independent.map { ($0, true) } + dependent.map { ($0, false) }).enumerated() {
            let ((name, yaml), expectIndependent) = (column, change)
            let plan = String(format: "%03d_case", index + 1)
            let id = try fixture.writePlan(plan, "table: items\nchanges:\n  - \(name.contains(":") ? name : "alter: " + name)\n    \(yaml)\n")
            try fixture.run(.expand, id)
            let made = try madeFunction(fixture, plan)
            #expect(made.body.contains("current_setting('timezone')") == !expectIndependent, "\(plan): \(yaml)\n\(made.body)")
            #expect((made.config.count == 1) == expectIndependent, "\(plan): \(yaml): \(made.config)")
            try fixture.run(.rollback, id)
            try FileManager.default.removeItem(atPath: id)
        }
    }
}
