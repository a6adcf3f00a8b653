import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// An unqualified plan table resolves by the session's search_path, the same for `check -d`,
/// `render -d`, the phases' `plan` gate and the phases (hostile-c 05).
@Suite(needsDatabase)
struct SearchPathResolutionTests {
    static func setUp(_ f: EngineFixture) throws {
        try f.exec("""
            CREATE SCHEMA app;
            CREATE TABLE public.users (id bigint PRIMARY KEY, email text);
            CREATE TABLE app.users (id bigint PRIMARY KEY, email text NOT NULL, nick text);
            ALTER TABLE app.users ADD CONSTRAINT app_users_email_chk CHECK (email LIKE '%@%');
            INSERT INTO public.users SELECT g, 'pub' || g FROM generate_series(1, 10) g;
            INSERT INTO app.users SELECT g, 'app' || g || '@x', 'n' || g FROM generate_series(1, 10) g;
            """)
    }

    @Test func checkRenderGateAndPhasesAllResolveTheTableBySearchPath() throws {
        let f = try EngineFixture("search-path-resolve")
        defer { f.close() }
        try Self.setUp(f)
        let conninfo = f.db.conninfo + " options='-c search_path=app,public'"
        try f.writePlan("001_rename_nick", "table: users\nchanges:\n  - alter: nick\n    rename_to: handle\n")
        let live = try LiveSchema.read(conninfo: conninfo)
        let errors = ProjectCheck.check(project: f.project, includeLint: false, live: live).filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors)")
        let rendered = try ProjectCheck.render(project: f.project, plan: "001", phase: .expand, live: live)
        #expect(rendered.contains("on app.users"), "\(rendered)")
        #expect(rendered.contains("\"app\".\"users\""), "\(rendered)")
        #expect(!rendered.contains("\"public\".\"users\""), "\(rendered)")
        // Without the search_path, public.users is the table, and it has no nick.
        let plain = try LiveSchema.read(conninfo: f.db.conninfo)
        #expect(ProjectCheck.check(project: f.project, includeLint: false, live: plain).contains { $0.rule == "plan-unknown-column" })
        try f.forward("001_rename_nick", through: .contract) { $0.conninfo = conninfo }
        #expect(try f.rows("SELECT attname FROM pg_attribute WHERE attrelid = 'app.users'::regclass AND attname IN ('nick', 'handle')") == [["handle"]])
        #expect(try f.rows("SELECT attname FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attnum > 0 ORDER BY attnum") == [["id"], ["email"]])
    }
}
