import BellowsTestSupport
import Foundation
import Testing

/// Commands run outside a project say so (exit 2) instead of reporting an empty project as clean.
@Suite struct OutsideAProjectTests {
    @Test func commandsThatNeedAProjectExitTwoNamingTheDirectory() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-noproject-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { CheckCommandTests.remove(empty) }
        let resolved = URL(fileURLWithPath: empty).standardizedFileURL.path
        // No database is reached: each says so before connecting (an unreachable port proves it).
        let database = ["-d", "host=127.0.0.1 port=1 connect_timeout=1"]
        for arguments in [["check"], ["lint"], ["render", "001"], ["status"] + database, ["expand", "001"] + database,
                          ["rollback", "001"] + database, ["diff", "001"] + database, ["migrate"] + database,
                          ["migrations"] + database, ["history", "001"] + database, ["rehearse"]] {
            let run = try CheckCommandTests.bellows(arguments, in: empty)
            let output = run.stdout + run.stderr
            #expect(run.status == 2, "\(arguments): \(run.status) \(output)")
            #expect(output.contains("no Bellows project in \(resolved)") && output.contains("--project"), "\(arguments): \(output)")
        }
        // The same through --project from elsewhere.
        let check = try CheckCommandTests.bellows(["check", "--project", empty])
        #expect(check.status == 2 && (check.stdout + check.stderr).contains(resolved), "\(check.stdout)\(check.stderr)")
        // Any one of plans/, migrations/ or bellows.yaml makes a project: an empty one is clean.
        try "".write(toFile: empty + "/bellows.yaml", atomically: true, encoding: .utf8)
        #expect(try CheckCommandTests.bellows(["check"], in: empty).status == 0)
    }
}

/// `bellows diff PLAN` against a real database: exit 0 as expanded, 1 when the file differs
/// or is gone, 2 on error; text and JSON.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct DiffCommandTests {
    static let plan = """
        table: s
        changes:
          - alter: v
            rename_to: v2
            not_null: true
        """

    @Test func diffShowsWhatChangedSinceExpand() throws {
        let db = try TestDatabase.create("diffcli")
        defer { db.drop() }
        let connection = try db.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text NOT NULL); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 10) g;")
        connection.close()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-diff-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { CheckCommandTests.remove(root) }
        let path = root + "/plans/001_s.yaml"
        try Self.plan.write(toFile: path, atomically: true, encoding: .utf8)
        let common = ["--project", root, "-d", db.conninfo]

        let before = try CheckCommandTests.bellows(["diff", "001"] + common)
        #expect(before.status == 2 && before.stderr.contains("no stored text"), "\(before.stdout)\(before.stderr)")
        #expect(try CheckCommandTests.bellows(["expand", "001"] + common).status == 0)

        let same = try CheckCommandTests.bellows(["diff", "001"] + common)
        #expect(same.status == 0 && same.stdout.contains("is as expanded"), "\(same.stdout)\(same.stderr)")

        try (Self.plan + "\n# a comment\n").write(toFile: path, atomically: true, encoding: .utf8)
        let cosmetic = try CheckCommandTests.bellows(["diff", "001"] + common)
        #expect(cosmetic.status == 1 && cosmetic.stdout.contains("comments/formatting only"), "\(cosmetic.stdout)\(cosmetic.stderr)")
        #expect(cosmetic.stdout.contains("+6: # a comment"), "\(cosmetic.stdout)")

        try Self.plan.replacingOccurrences(of: "rename_to: v2", with: "rename_to: v9").write(toFile: path, atomically: true, encoding: .utf8)
        let changed = try CheckCommandTests.bellows(["diff", "001"] + common)
        #expect(changed.status == 1, "\(changed.stdout)\(changed.stderr)")
        #expect(changed.stdout.contains("the change matters"), "\(changed.stdout)")
        #expect(changed.stdout.contains("- changes[1] alter v: rename_to: v2"), "\(changed.stdout)")
        #expect(changed.stdout.contains("+ changes[1] alter v: rename_to: v9 (\(path):4:16)"), "\(changed.stdout)")
        #expect(changed.stdout.contains("~ the SQL of expand differs"), "\(changed.stdout)")

        let json = try CheckCommandTests.bellows(["diff", "001", "--format", "json"] + common)
        #expect(json.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(object["verdict"] as? String == "changed")
        #expect(object["phase"] as? String == "expanded")
        let differences = try #require(object["differences"] as? [[String: Any]])
        #expect(differences.first?["current"] as? String == "v9" && differences.first?["expanded"] as? String == "v2", "\(differences)")

        try FileManager.default.removeItem(atPath: path)
        let missing = try CheckCommandTests.bellows(["diff", "001_s"] + common)
        #expect(missing.status == 1 && missing.stdout.contains("is missing"), "\(missing.stdout)\(missing.stderr)")
        // …and rollback works from the stored text; status shows it.
        let status = try CheckCommandTests.bellows(["status"] + common)
        #expect(status.stdout.contains("(plan file missing) bellows rollback 001_s"), "\(status.stdout)")
        let rollback = try CheckCommandTests.bellows(["rollback", "001_s"] + common)
        #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
    }

    /// hostile-d 10: after expand the file stops loading (an unclosed bracket, a typo'd key).
    /// Before, rollback and history refused with the load error (exit 1), diff exited 2 and
    /// status called the file missing; a planned plan that did not load was left off the board.
    @Test func aFileThatDoesNotLoadStillRollsBackFromTheStoredText() throws {
        let db = try TestDatabase.create("unloadable")
        defer { db.drop() }
        let connection = try db.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text NOT NULL); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 10) g;")
        connection.close()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-unloadable-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { CheckCommandTests.remove(root) }
        let path = root + "/plans/001_s.yaml"
        try Self.plan.write(toFile: path, atomically: true, encoding: .utf8)
        let common = ["--project", root, "-d", db.conninfo]
        #expect(try CheckCommandTests.bellows(["expand", "001"] + common).status == 0)
        for broken in [Self.plan.replacingOccurrences(of: "rename_to: v2", with: "rename_to: [v2"),
                       Self.plan.replacingOccurrences(of: "not_null: true", with: "not_nul: true")] {
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            try "table: s\nchanges:\n  - alter: v\n    type: [text\n".write(toFile: root + "/plans/002_t.yaml", atomically: true, encoding: .utf8)
            let status = try CheckCommandTests.bellows(["status"] + common)
            #expect(status.status == 0 && !status.stdout.contains("missing"), "\(status.stdout)\(status.stderr)")
            #expect(status.stdout.contains("001_s") && status.stdout.contains("does not load") && status.stdout.contains("bellows rollback 001_s"), "\(status.stdout)")
            #expect(status.stdout.contains("002_t"), "a planned plan that does not load is on the board: \(status.stdout)")
            let history = try CheckCommandTests.bellows(["history", "001"] + common)
            #expect(history.status == 0 && history.stdout.contains("expand"), "\(history.stdout)\(history.stderr)")
            let diff = try CheckCommandTests.bellows(["diff", "001"] + common)
            #expect(diff.status == 1 && diff.stdout.contains("does not load"), "\(diff.stdout)\(diff.stderr)")
            let rollback = try CheckCommandTests.bellows(["rollback", "001"] + common)
            #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
            #expect((rollback.stdout + rollback.stderr).contains("does not load"), "\(rollback.stdout)\(rollback.stderr)")
            try Self.plan.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try CheckCommandTests.bellows(["expand", "001"] + common).status == 0)
        }
    }
}
