import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// `archive restore` and the archive's types (hostile-h 05, 06, 13, 18).
extension ArchiveTests {
    static let renameV = """
        table: t
        changes:
          - alter: v
            rename_to: v2
        """

    /// hostile-n 01, 02: a column of one's own type is archived as text, which followed the
    /// writer's settings and was read back under the restorer's: a Dublin summer `timestamptz`
    /// printed `IST` came back an hour early, day and month swapped under another DateStyle,
    /// an interval's signs flipped under `sql_standard`. The archive's text is written and read
    /// under fixed settings now.
    @Test func valuesKeptAsTextComeBackTheSameUnderOtherSettings() throws {
        let fixture = try EngineFixture("archive_text_settings")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TYPE ev AS (at timestamptz, gap interval);
            CREATE DOMAIN dday AS date;
            CREATE TABLE t (id int PRIMARY KEY, e ev, d dday, keep text);
            INSERT INTO t SELECT g, ROW(timestamptz '2026-07-01 12:00+00' + g * interval '1 hour', make_interval(days => -g, hours => 2))::ev,
                                 date '2026-01-01' + g, 'k' FROM generate_series(1, 300) AS g;
            CREATE TABLE originals AS SELECT id, e, d FROM t;
            ALTER DATABASE \(fixture.db.name) SET timezone = 'Europe/Dublin';
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'SQL, DMY';
            ALTER DATABASE \(fixture.db.name) SET intervalstyle = 'sql_standard';
            """)
        try fixture.writePlan("001_drop", """
            table: t
            changes:
              - drop: e
              - drop: d
            """)
        try fixture.forward("001_drop", through: .contract)
        // The restorer's session has other settings than contract's.
        try fixture.exec("""
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'ISO, MDY';
            ALTER DATABASE \(fixture.db.name) SET intervalstyle = 'postgres';
            """)
        _ = try fixture.engine().restoreArchive(plan: "001_drop")
        #expect(try fixture.int("""
            SELECT count(*) FROM t JOIN originals o USING (id)
            WHERE t.e_restored IS DISTINCT FROM o.e OR t.d_restored::date IS DISTINCT FROM o.d::date
            """) == 0)
    }

    /// hostile-q 05: a `regclass` inside a type of one's own is archived as text, unqualified
    /// where the plan's search path finds it (`foo` for `public.foo`), and was read back under
    /// the restorer's path: with a `foo` in a schema ahead of `public` there, every restored
    /// value named that other table. Restore reads it under the path it was written under.
    @Test func anArchivedNameComesBackAsTheSameObjectUnderTheRestorersSearchPath() throws {
        let fixture = try EngineFixture("archive_regclass_path")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN tref AS regclass;
            CREATE TABLE foo (x int);
            CREATE SCHEMA app;
            CREATE TABLE t (id bigint PRIMARY KEY, v tref, keep int);
            INSERT INTO t SELECT g, 'public.foo'::regclass, g FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan("001_drop_v", """
            table: t
            changes:
              - drop: v
                down: "'foo'::regclass"
            """)
        try fixture.forward("001_drop_v", through: .contract)
        #expect(try fixture.rows("SELECT DISTINCT v FROM bellows_archive.\"001_drop_v_t\"") == [["foo"]])
        // The restorer's path finds another `foo` first.
        try fixture.exec("""
            CREATE TABLE app.foo (y int);
            ALTER DATABASE \(fixture.db.name) SET search_path = app, public;
            """)
        let restored = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(restored.restored.first?.rows == 100)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE v_restored::oid IS DISTINCT FROM 'public.foo'::regclass::oid") == 0)
    }

    /// hostile-v 1: restore read names under the plan's search path by taking it for its whole
    /// session, so a function in a schema of that path stood in for one restore's own statements
    /// call (`app.unnest(bigint[])` over the polymorphic built-in: code run as the restorer). Only
    /// the cast of an archived value runs under that path now.
    @Test func restoresOwnStatementsDoNotResolveNamesInThePlansSchemas() throws {
        let fixture = try EngineFixture("archive_path_hijack")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SCHEMA app;
            CREATE TABLE public.foo (x int);
            CREATE DOMAIN public.rc AS regclass;
            CREATE TABLE public.t (id int PRIMARY KEY, v rc, keep int);
            INSERT INTO public.t SELECT g, 'public.foo', g FROM generate_series(1, 10) g;
            CREATE TABLE public.hijacked (n int);
            ALTER DATABASE \(fixture.db.name) SET search_path = app, public;
            """)
        try fixture.writePlan("001_drop_v", "table: t\nchanges:\n  - drop: v\n")
        try fixture.forward("001_drop_v", through: .contract)
        // The application's schema gains a better match for a built-in restore calls, and a row is
        // written since contract (so that restore's test of rows written since runs).
        try fixture.exec("""
            CREATE FUNCTION app.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE sql
                AS 'INSERT INTO public.hijacked VALUES (1); SELECT pg_catalog.unnest($1)';
            UPDATE public.t SET keep = keep + 1 WHERE id = 3;
            ALTER DATABASE \(fixture.db.name) RESET search_path;
            """)
        let restored = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(restored.restored.first?.rows == 9)
        #expect(try fixture.int("SELECT count(*) FROM public.hijacked") == 0)
        #expect(try fixture.int("SELECT count(*) FROM public.t WHERE v_restored::oid IS DISTINCT FROM 'public.foo'::regclass::oid AND id <> 3") == 0)
    }

    /// hostile-v 3, 4: names archived under a path one of whose schemas is gone since (renamed)
    /// or that the restorer may not use would be read as other objects: refused, nothing added.
    @Test func restoreRefusesNamesWhoseSchemaIsGoneOrUnusable() throws {
        let fixture = try EngineFixture("archive_path_schema_gone")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SCHEMA app;
            CREATE TABLE public.foo (x int);
            CREATE TABLE app.foo (x int);
            CREATE DOMAIN public.rc AS regclass;
            CREATE TYPE public.mood AS ENUM ('sad', 'ok');
            CREATE TABLE public.t (id int PRIMARY KEY, v rc, m mood, keep int);
            INSERT INTO public.t SELECT g, 'app.foo', 'ok', g FROM generate_series(1, 10) g;
            ALTER DATABASE \(fixture.db.name) SET search_path = app, public;
            """)
        try fixture.writePlan("001_drop", "table: t\nchanges:\n  - drop: v\n  - drop: m\n")
        try fixture.forward("001_drop", through: .contract)
        #expect(try fixture.rows("SELECT DISTINCT v FROM bellows_archive.\"001_drop_t\"") == [["foo"]])
        try fixture.exec("ALTER SCHEMA app RENAME TO app_v1; ALTER DATABASE \(fixture.db.name) RESET search_path")
        let error = #expect(throws: BellowsError.self) { try fixture.engine().restoreArchive(plan: "001_drop") }
        #expect(String(describing: error).contains("schema app no longer exists or this role may not use it"), "\(String(describing: error))")
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attname LIKE '%restored'") == 0)
        // A column whose values hold no name comes back all the same.
        let enum_ = try fixture.engine().restoreArchive(plan: "001_drop", column: "m")
        #expect(enum_.restored.first?.rows == 10)
    }

    /// hostile-w 1: a constrained domain is restored as its base type, whose name came back
    /// unqualified under the restorer's path (`pr`) and meant another type under the path the
    /// values are read under (`app.pr`): restore failed (42804) and left an unfinished column.
    @Test func aConstrainedDomainsBaseTypeIsTheSameTypeUnderThePathNamesAreReadUnder() throws {
        let fixture = try EngineFixture("archive_path_base_type")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SCHEMA app;
            CREATE TABLE public.foo (x int);
            CREATE TYPE public.pr AS (c regclass, n int);
            CREATE DOMAIN public.dpr AS pr CHECK ((VALUE).n > 0);
            CREATE TABLE public.t (id int PRIMARY KEY, v dpr, keep int);
            INSERT INTO public.t SELECT g, ROW('public.foo'::regclass, g)::pr, g FROM generate_series(1, 10) g;
            ALTER DATABASE \(fixture.db.name) SET search_path = app, public;
            """)
        try fixture.writePlan("001_drop_v", "table: t\nchanges:\n  - drop: v\n")
        try fixture.forward("001_drop_v", through: .contract)
        try fixture.exec("""
            CREATE TYPE app.pr AS (other text);
            ALTER DATABASE \(fixture.db.name) RESET search_path;
            """)
        let restored = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(restored.restored.first?.type == "public.pr")
        #expect(try fixture.int("SELECT count(*) FROM public.t WHERE (v_restored).c::oid IS DISTINCT FROM 'public.foo'::regclass::oid OR (v_restored).n <> id") == 0)
        // An archive whose own record has no path (made by the build before it was recorded)
        // is read under the path its plan kept (hostile-w 3).
        try fixture.exec("""
            ALTER TABLE public.t DROP COLUMN v_restored;
            UPDATE bellows.archives SET search_path = NULL;
            CREATE SCHEMA other;
            CREATE TABLE other.foo (y int);
            ALTER DATABASE \(fixture.db.name) SET search_path = other, public;
            """)
        _ = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(try fixture.int("SELECT count(*) FROM public.t WHERE (v_restored).c::oid IS DISTINCT FROM 'public.foo'::regclass::oid") == 0)
    }

    /// hostile-w 4: a role that may not create temporary objects (TEMP revoked from PUBLIC)
    /// got a bare 42501 from restore's function; it is refused naming the GRANT, before any change.
    @Test func aRestorerWithoutTemporaryIsRefusedNamingTheGrant() throws {
        let fixture = try EngineFixture("archive_path_no_temp")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "archive_no_temp")
        defer { owner.drop() }
        try fixture.exec("""
            CREATE TABLE public.foo (x int);
            CREATE DOMAIN public.rc AS regclass;
            CREATE TABLE public.t (id int PRIMARY KEY, v rc, keep int);
            INSERT INTO public.t SELECT g, 'public.foo', g FROM generate_series(1, 10) g;
            """)
        try fixture.writePlan("001_drop_v", "table: t\nchanges:\n  - drop: v\n")
        try fixture.forward("001_drop_v", through: .contract)
        try fixture.exec("""
            REVOKE TEMPORARY ON DATABASE \(fixture.db.name) FROM PUBLIC;
            ALTER TABLE public.t OWNER TO \(owner.name);
            GRANT USAGE ON SCHEMA bellows, bellows_archive TO \(owner.name);
            GRANT SELECT ON ALL TABLES IN SCHEMA bellows_archive TO \(owner.name);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(owner.name);
            GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(owner.name);
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        let error = #expect(throws: BellowsError.self) { try fixture.engine(asOwner).restoreArchive(plan: "001_drop_v") }
        #expect(String(describing: error).contains("GRANT TEMPORARY ON DATABASE"), "\(String(describing: error))")
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attname = 'v_restored'") == 0)
        try fixture.exec("GRANT TEMPORARY ON DATABASE \(fixture.db.name) TO \(owner.name)")
        #expect(try fixture.engine(asOwner).restoreArchive(plan: "001_drop_v").restored.first?.rows == 10)
    }

    /// `public.t` (owned by `manager`) with a `regclass` domain column `v` naming `public.foo` in
    /// rows 1–5 and `app.foo` in 6–10 (`public.original` keeps their oids), a plan dropping `v`
    /// expanded under `app, public` by the superuser and verified, and Bellows' tables granted to
    /// `manager` to contract it, with or without USAGE on `app`.
    static func expandedForAReleaseManager(_ fixture: EngineFixture, _ manager: String, usageOnApp: Bool) throws {
        try fixture.exec("""
            CREATE SCHEMA app;
            CREATE TABLE public.foo (x int);
            CREATE TABLE app.foo (x int);
            CREATE DOMAIN public.rc AS regclass;
            CREATE TABLE public.t (id int PRIMARY KEY, v rc, keep int);
            INSERT INTO public.t SELECT g, CASE WHEN g <= 5 THEN 'public.foo' ELSE 'app.foo' END, g FROM generate_series(1, 10) g;
            CREATE TABLE public.original AS SELECT id, v::oid AS o FROM public.t;
            ALTER TABLE public.t OWNER TO \(manager);
            GRANT TEMPORARY ON DATABASE \(fixture.db.name) TO \(manager);
            \(usageOnApp ? "GRANT USAGE ON SCHEMA app TO \(manager);" : "")
            ALTER DATABASE \(fixture.db.name) SET search_path = app, public;
            """)
        try fixture.writePlan("001_drop_v", "table: t\nchanges:\n  - drop: v\n")
        try fixture.forward("001_drop_v", through: .verify)
        try fixture.exec("""
            GRANT USAGE, CREATE ON SCHEMA bellows TO \(manager);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(manager);
            GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(manager);
            """)
    }

    /// hostile-x 1: a contract role without USAGE on a schema of the plan's path prints a name
    /// behind it unqualified (PostgreSQL skips the schema for it), and restore read it under the
    /// whole path: `public.foo` came back as `app.foo`. Contract records the schemas it could use.
    @Test func namesAreReadBackUnderTheSchemasTheContractRoleCouldUse() throws {
        let fixture = try EngineFixture("archive_path_contract_role")
        defer { fixture.close() }
        let manager = try DataSafetyTests.role(fixture, "release_manager")
        defer { manager.drop() }
        try Self.expandedForAReleaseManager(fixture, manager.name, usageOnApp: false)
        _ = try fixture.run(.contract, "001_drop_v") { $0.conninfo = fixture.db.conninfo + " user=\(manager.name)" }
        #expect(try fixture.rows("SELECT search_path::text FROM bellows.archives") == [["{public}"]])
        try fixture.exec("ALTER DATABASE \(fixture.db.name) RESET search_path")
        _ = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(try fixture.int("SELECT count(*) FROM public.t JOIN public.original USING (id) WHERE v_restored::oid IS DISTINCT FROM o") == 0)
    }

    /// hostile-y 1: the schemas names were printed under were read when contract committed, and
    /// a REVOKE USAGE while contract waited for its lock recorded a path the text was not written
    /// under. Contract compares them under its lock and fails, removing the archive, when they differ.
    @Test func aSchemaRevokedWhileContractWaitsFailsTheContractInsteadOfRecordingAnotherPath() throws {
        let fixture = try EngineFixture("archive_path_revoked")
        defer { fixture.close() }
        let manager = try DataSafetyTests.role(fixture, "revoked_manager")
        defer { manager.drop() }
        try Self.expandedForAReleaseManager(fixture, manager.name, usageOnApp: true)
        // A reader holds the table while contract fills its archive; once contract waits for its
        // lock, the manager's USAGE on app is revoked, then the reader lets go.
        let reader = try fixture.db.connect()
        defer { reader.close() }
        try reader.execute("BEGIN")
        try reader.execute("SELECT count(*) FROM public.t")
        let revoker = DispatchGroup()
        revoker.enter()
        let managerName = manager.name
        let admin = try fixture.db.connect()
        defer { admin.close() }
        DispatchQueue.global().async {
            defer { revoker.leave() }
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let waiting = (try? admin.query("""
                    SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'
                    """).first?.int("n")) ?? 0
                if waiting > 0 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            _ = try? admin.execute("REVOKE USAGE ON SCHEMA app FROM \(managerName)")
            _ = try? reader.execute("COMMIT")
        }
        let asManager: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(manager.name)"; $0.lockTimeoutMilliseconds = 30_000 }
        #expect(throws: (any Error).self) { _ = try fixture.run(.contract, "001_drop_v", asManager) }
        #expect(revoker.wait(timeout: .now() + 60) == .success)
        #expect(try fixture.int("SELECT count(*) FROM bellows.archives") == 0)
        // Run again, it archives under the schemas the manager can use now, and restore reads them there.
        _ = try fixture.run(.contract, "001_drop_v", asManager)
        #expect(try fixture.rows("SELECT search_path::text FROM bellows.archives") == [["{public}"]])
        try fixture.exec("ALTER DATABASE \(fixture.db.name) RESET search_path")
        _ = try fixture.engine().restoreArchive(plan: "001_drop_v")
        #expect(try fixture.int("SELECT count(*) FROM public.t JOIN public.original USING (id) WHERE v_restored::oid IS DISTINCT FROM o") == 0)
    }

    /// hostile-h 13: an enum column's archive kept the enum: `DROP TYPE` failed on it, and with
    /// CASCADE the archive lost the column silently. It is kept as text and cast back at restore.
    @Test func anArchivedEnumColumnIsKeptAsTextSoTheTypeCanBeDroppedAndComesBackAsTheEnum() throws {
        let fixture = try EngineFixture("archive_enum")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE t (id int PRIMARY KEY, m mood);
            INSERT INTO t SELECT g, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan("001_mood_text", """
            table: t
            changes:
              - alter: m
                type: text
                up: "m::text"
                down: "m::mood"
            """)
        try fixture.forward("001_mood_text", through: .contract)
        let archive = "bellows_archive.\"001_mood_text_t\""
        #expect(try fixture.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'm'", [archive])
                == [["text"]])
        // While the type exists, restore brings the column back as the enum.
        let restored = try fixture.engine().restoreArchive(plan: "001", column: "m")
        #expect(restored.restored.first?.type == "public.mood")
        #expect(try fixture.int("SELECT count(*) FROM t WHERE m_restored IS DISTINCT FROM m::mood") == 0)
        // The type can be dropped (the cleanup after every enum → text change), and the archive keeps its values.
        try fixture.exec("ALTER TABLE t DROP COLUMN m_restored; DROP TYPE mood")
        #expect(try fixture.int("SELECT count(*) FROM \(archive) WHERE m IS NOT NULL") == 100)
        let again = try fixture.engine().restoreArchive(plan: "001", column: "m")
        #expect(again.restored.first?.type == "text")
        #expect(try fixture.int("SELECT count(*) FROM t WHERE m_restored IS DISTINCT FROM m") == 0)
    }

    /// hostile-h 05: restore joined by key only: a row inserted since contract with a key the
    /// archive had (or a row re-keyed to one) got another row's value.
    @Test func restoreLeavesRowsWrittenSinceContractNullInsteadOfFillingThemByAReusedKey() throws {
        let fixture = try EngineFixture("archive_reused_key")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id int PRIMARY KEY, v text, other int DEFAULT 0);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 200) g;
            """)
        try fixture.writePlan("001_rename_v", Self.renameV)
        try fixture.forward("001_rename_v", through: .contract)
        try fixture.exec("""
            DELETE FROM t WHERE id IN (5, 7);
            INSERT INTO t (id, v2) VALUES (5, 'brand new row inserted after contract');
            UPDATE t SET id = 7 WHERE id = 6;
            """)
        let restored = try fixture.engine().restoreArchive(plan: "001")
        #expect(try fixture.rows("SELECT id::text, v_restored FROM t WHERE id BETWEEN 4 AND 8 ORDER BY id")
                == [["4", "v4"], ["5", nil], ["7", nil], ["8", "v8"]])
        #expect(restored.restored.first?.rows == 197)
        #expect(restored.restored.first?.writtenSince == 2, "rows 5 and 7: written since, their keys in the archive")
        #expect(try fixture.int("SELECT count(*) FROM t WHERE v_restored IS DISTINCT FROM v2 AND id NOT IN (5, 7)") == 0)
        // --by-key fills them by key (what the operator asked for, knowing it).
        let byKey = try fixture.engine().restoreArchive(plan: "001", column: "v", into: "v_by_key", byKey: true)
        #expect(byKey.restored.first?.rows == 199)
        #expect(try fixture.rows("SELECT v_by_key FROM t WHERE id = 5") == [["v5"]])
    }

    /// hostile-h 06: restore found the table by its name at contract: after the project's own
    /// `rename_table_to` it refused, and a new table under the old name received the values.
    @Test func restoreFollowsTheTableItCameFromNotItsName() throws {
        let fixture = try EngineFixture("archive_renamed_table")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
            """)
        try fixture.writePlan("001_rename_v", Self.renameV)
        try fixture.forward("001_rename_v", through: .contract)
        try fixture.writePlan("002_rename_t", "table: t\nrename_table_to: t_new\n")
        try fixture.forward("002_rename_t", through: .contract)
        try fixture.exec("CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'unrelated' FROM generate_series(1, 5) g")
        try fixture.engine().restoreArchive(plan: "001")
        #expect(try fixture.int("SELECT count(*) FROM t_new WHERE v_restored = v2") == 50)
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v_restored'") == 0)
        // The table the archive came from gone, another under its old name: refused, nothing written.
        try fixture.exec("DROP TABLE t_new")
        #expect(throws: BellowsError.self) { try fixture.engine().restoreArchive(plan: "001") }
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v_restored'") == 0)
    }

    /// hostile-h 18: a column of a NOT NULL domain could never be restored (23502 adding the
    /// empty column), and the columns added before it stayed: the rerun was refused on them.
    @Test func aNotNullDomainColumnIsRestoredAsItsBaseTypeAndNothingIsAddedWhenAColumnCannotBe() throws {
        let fixture = try EngineFixture("archive_domain")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN nn_text AS text NOT NULL;
            CREATE TABLE t (id int PRIMARY KEY, g text, nd nn_text DEFAULT 'd', keep int);
            INSERT INTO t (id, g, nd) SELECT i, 'g' || i, 'n' || i FROM generate_series(1, 100) i;
            """)
        try fixture.writePlan("001_drop", """
            table: t
            changes:
              - drop: g
              - drop: nd
                down: "'d'"
            """)
        try fixture.forward("001_drop", through: .contract)
        let restored = try fixture.engine().restoreArchive(plan: "001")
        #expect(restored.restored.map { "\($0.column) \($0.into) \($0.type) \($0.rows)" } == ["g g_restored text 100", "nd nd_restored text 100"])
        #expect(try fixture.int("SELECT count(*) FROM t WHERE nd_restored = 'n' || id AND g_restored = 'g' || id") == 100)
    }

    /// hostile-p 06: restoring a domain with a CHECK added a column of it, which rewrote the table
    /// (to check the domain), so every row looked written since contract and none was filled.
    @Test func aCheckedDomainColumnIsRestoredAsItsBaseTypeAndFilled() throws {
        let fixture = try EngineFixture("archive_domain_check")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
            CREATE DOMAIN counted AS integer DEFAULT 0;
            CREATE TABLE t (id int PRIMARY KEY, n positive, c counted, keep int);
            INSERT INTO t (id, n, c) SELECT i, i, i FROM generate_series(1, 300) i;
            """)
        try fixture.writePlan("001_drop", "table: t\nchanges:\n  - drop: n\n  - drop: c\n")
        try fixture.forward("001_drop", through: .contract)
        let restored = try fixture.engine().restoreArchive(plan: "001")
        // hostile-q 04: a domain's DEFAULT filled the new column, and restore, which fills NULLs, restored nothing.
        #expect(restored.restored.map { "\($0.column) \($0.into) \($0.type) \($0.rows) \($0.writtenSince)" }
                == ["n n_restored integer 300 0", "c c_restored public.counted 300 0"])
        #expect(try fixture.int("SELECT count(*) FROM t WHERE n_restored = id AND c_restored = id") == 300)
        // And no DEFAULT NULL is left on the column: a row inserted now gets its domain's default (hostile-r 05).
        #expect(try fixture.int("SELECT count(*) FROM pg_attrdef WHERE adrelid = 't'::regclass") == 0)
    }

    /// hostile-h 18: a restore stopped half-way left its column, and running it again was
    /// refused ("already has a column"); it now fills on.
    @Test func aRestoreStoppedHalfWayIsResumedByRunningItAgain() throws {
        let fixture = try EngineFixture("archive_restore_resume")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
            """)
        try fixture.writePlan("001_rename_v", Self.renameV)
        try fixture.forward("001_rename_v", through: .contract)
        let checks = Shared(0)
        #expect(throws: BellowsError.self) {
            try fixture.engine { options in
                options.batchSize = 50
                options.shouldStop = { checks.update { (n: inout Int) -> Bool in n += 1; return n > 4 } }
            }.restoreArchive(plan: "001")
        }
        let partly = try fixture.int("SELECT count(v_restored) FROM t")
        #expect(partly > 0 && partly < 1000, "\(partly)")
        let resumed = try fixture.engine().restoreArchive(plan: "001")
        #expect(try fixture.int("SELECT count(*) FROM t WHERE v_restored = v2") == 1000)
        // The rerun reports every row the column holds, not only its own (hostile-m 09: "0 row(s)").
        #expect(resumed.restored.map(\.rows) == [1000])
        // Finished: the same name again is refused (restore never writes an existing column).
        #expect(throws: BellowsError.self) { try fixture.engine().restoreArchive(plan: "001") }
    }

    /// hostile-h 24: the table's owner restoring an archive another role's contract made (here
    /// the superuser's) got a bare `42501 permission denied for schema bellows_archive`. Restore
    /// refuses before any change, naming the role and the GRANTs, and works once they are given;
    /// purge likewise refuses a role that may not drop the archive, dropping nothing.
    @Test func aRoleThatMayNotReadOrDropTheArchiveIsRefusedNamingTheGrants() throws {
        let fixture = try EngineFixture("archive_owner_privileges")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "archive_owner")
        defer { owner.drop() }
        try fixture.exec("""
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
            ALTER TABLE t OWNER TO \(owner.name);
            """)
        try fixture.writePlan("001_rename_v", Self.renameV)
        try fixture.forward("001_rename_v", through: .contract)
        // docs/operations.md's privileges for Bellows' role, and nothing on the archive.
        try fixture.exec("""
            GRANT USAGE, CREATE ON SCHEMA bellows TO \(owner.name);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(owner.name);
            GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(owner.name);
            """)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        #expect(try fixture.engine(asOwner).archives().map(\.archiveTable) == ["001_rename_v_t"])
        func refusal(_ body: () throws -> Void) -> String? {
            do {
                try body()
            } catch BellowsError.usage(let message) {
                return message
            } catch {
                Issue.record("not a refusal naming the GRANT: \(error)")
            }
            return nil
        }
        let restore = try #require(refusal { _ = try fixture.engine(asOwner).restoreArchive(plan: "001") })
        for named in ["role \(owner.name) may not read the archive", "GRANT USAGE ON SCHEMA bellows_archive TO \"\(owner.name)\"",
                      "GRANT SELECT ON \"bellows_archive\".\"001_rename_v_t\" TO \"\(owner.name)\""] {
            #expect(restore.contains(named), "\(restore)")
        }
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v_restored'") == 0)
        let purge = try #require(refusal { _ = try fixture.engine(asOwner).purgeArchives(plan: "001", expiredOnly: false) })
        #expect(purge.contains("may not drop the archive") && purge.contains("GRANT USAGE ON SCHEMA bellows_archive"), "\(purge)")

        // Granted as the refusal says: the owner restores every row.
        try fixture.exec("GRANT USAGE ON SCHEMA bellows_archive TO \(owner.name); GRANT SELECT ON bellows_archive.\"001_rename_v_t\" TO \(owner.name)")
        let restored = try fixture.engine(asOwner).restoreArchive(plan: "001")
        #expect(restored.restored.first?.rows == 50)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE v_restored IS DISTINCT FROM v2") == 0)
        // Purge still needs the archive's ownership: refused, nothing dropped.
        let notOwner = try #require(refusal { _ = try fixture.engine(asOwner).purgeArchives(plan: "001", expiredOnly: false) })
        #expect(notOwner.contains("ownership of the table") && !notOwner.contains("GRANT USAGE"), "\(notOwner)")
        #expect(try fixture.int("SELECT count(*) FROM bellows.archives") == 1)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('bellows_archive.\"001_rename_v_t\"')") == 1)
    }
}

extension MigrationArchiveTests {
    /// hostile-h 19: `--archive` copied a table with an enum column as the enum: the file's own
    /// `DROP TYPE` then failed on the archive, and with CASCADE emptied it of the column.
    @Test func rollbackWithArchiveKeepsAnEnumColumnAsTextSoTheFilesDropTypeWorks() throws {
        let fixture = try EngineFixture("archive_migrate_enum")
        defer { fixture.close() }
        let migrations = fixture.root + "/migrations"
        try FileManager.default.createDirectory(atPath: migrations + "/rollback", withIntermediateDirectories: true)
        try """
            CREATE TYPE order_status AS ENUM ('new', 'paid');
            CREATE TABLE orders (id int PRIMARY KEY, status order_status NOT NULL DEFAULT 'new', amount int);
            INSERT INTO orders SELECT g, 'paid', g FROM generate_series(1, 10) g;
            """.write(toFile: migrations + "/001_orders.sql", atomically: true, encoding: .utf8)
        try "DROP TABLE orders;\nDROP TYPE order_status;\n".write(toFile: migrations + "/rollback/001_orders.sql", atomically: true, encoding: .utf8)
        let runner = MigrationRunner(project: fixture.project, options: MigrationOptions(conninfo: fixture.db.conninfo, actor: "tester"))
        try runner.apply()
        let result = try runner.rollback("001", archive: true)
        #expect(result.archived == ["001_orders_orders"])
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_orders_orders\" WHERE status = 'paid' AND amount = id") == 10)
        #expect(try fixture.int("SELECT count(*) FROM pg_type WHERE typname = 'order_status'") == 0, "the file's DROP TYPE ran")
    }
}
