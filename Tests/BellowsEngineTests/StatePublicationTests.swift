import BellowsEngine
import BellowsPlan
import Foundation
import PGClient
import Testing

/// hostile-h 23: under a `FOR ALL TABLES` publication (blue/green upgrades, CDC), PostgreSQL
/// publishes the tables Bellows creates for itself, and a subscriber without them stops at the
/// first row Bellows writes. Bellows refuses to write its state while a publication would send
/// it, before it writes anything, unless bellows.yaml says `publish_state: true`.
@Suite(needsDatabase)
struct StatePublicationTests {
    @Test func aPublicationOfAllTablesRefusesBellowsStateUntilTheProjectSaysSubscribersHaveIt() throws {
        let fixture = try EngineFixture("state-publication")
        defer { fixture.close() }
        try fixture.exec("""
            SET client_min_messages = error;
            CREATE TABLE items (id int PRIMARY KEY, v text);
            INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 10) g;
            CREATE PUBLICATION pub_all FOR ALL TABLES;
            """)
        try fixture.writePlan("001_v", "table: items\nchanges:\n  - alter: v\n    rename_to: value\n")
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try "CREATE TABLE widgets (id int PRIMARY KEY);\n".write(toFile: fixture.root + "/migrations/001_widgets.sql", atomically: true, encoding: .utf8)

        func refusal(_ body: () throws -> Any) -> String? {
            if case .failure(let error) = Result(catching: body) { return "\(error)" }
            return nil
        }
        let runner = MigrationRunner(project: fixture.project, options: MigrationOptions(conninfo: fixture.db.conninfo, actor: "tester"))
        let migrate = refusal { try runner.apply() }
        #expect(migrate?.contains("pub_all (FOR ALL TABLES)") == true, "\(migrate ?? "applied")")
        #expect(migrate?.contains("publish_state: true") == true)
        let expand = refusal { try fixture.run(.expand, "001_v") }
        #expect(expand?.contains("pub_all (FOR ALL TABLES)") == true, "\(expand ?? "expanded")")
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'bellows'") == 0, "nothing written")
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname = 'widgets'") == 0)

        // A publication of the application's schemas only does not send Bellows' tables.
        try fixture.exec("DROP PUBLICATION pub_all; CREATE SCHEMA app; CREATE TABLE app.orders (id int PRIMARY KEY); CREATE PUBLICATION pub_app FOR TABLES IN SCHEMA app")
        #expect(try runner.apply().count == 1)
        try fixture.exec("CREATE PUBLICATION pub_state FOR TABLES IN SCHEMA bellows")
        #expect(refusal { try fixture.run(.expand, "001_v") }?.contains("pub_state") == true)

        // The project says its subscribers have Bellows' tables.
        try "publish_state: true\n".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.run(.expand, "001_v")
        #expect(try fixture.state("001_v")?.phase == .expanded)
    }
}
