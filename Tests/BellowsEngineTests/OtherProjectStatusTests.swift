import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import Testing

/// Two projects on one database: one's board does not call the other's plan "file missing" nor
/// recommend rolling it back (hostile-d 33).
@Suite(needsDatabase)
struct OtherProjectStatusTests {
    @Test func anotherProjectsPlanIsNamedSoAndNotRecommendedForRollback() throws {
        let f = try EngineFixture("other-project-status")
        defer { f.close() }
        try f.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g;
            """)
        let a = try f.otherProject("a"), b = try f.otherProject("b")
        try f.writePlan("001_rename", "table: users\nchanges:\n  - alter: email\n    rename_to: email_address\n", in: a)
        try f.run(.expand, "001_rename", in: a)
        try f.run(.backfill, "001_rename", in: a)
        try f.writePlan("002_add_nick", "table: users\nchanges:\n  - add: nick\n    type: text\n", in: b)
        let board = try Engine(project: b, options: f.options()).status()
        let line = try #require(board.first { $0.id == "001_rename" })
        #expect(line.phase == .backfilled)
        #expect(!line.fileMissing)
        #expect(line.next == nil)
        #expect(line.otherProject?.hasSuffix("/a/plans/001_rename.yaml") == true, "\(String(describing: line.otherProject))")
        // In project A, whose file it is, the line is as before; with the file removed, it is missing.
        try FileManager.default.removeItem(atPath: a.root + "/plans/001_rename.yaml")
        let own = try #require(try Engine(project: a, options: f.options()).status().first { $0.id == "001_rename" })
        #expect(own.fileMissing && own.otherProject == nil && own.next == "bellows rollback 001_rename")
    }
}
