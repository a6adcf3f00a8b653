import BellowsTestSupport
import Foundation
import Testing

/// `bellows rehearse` as CI runs it: stderr is a log file, not a terminal.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct RehearseCLITests {
    /// Issue 17: the text output's backfill progress is readable lines, not the raw JSON
    /// `backfill_progress` events (which only `--format json` prints). Before, every progress
    /// report in a log was a JSON object.
    @Test func progressInALogIsReadable() throws {
        let database = try TestDatabase.create("rehearsecli")
        defer { database.drop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-rehearse-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["plans", "migrations"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try """
            -- Migration: 001_items
            -- Description: items
            -- Dependencies: none
            CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title varchar(80) NOT NULL);
            """.write(toFile: root + "/migrations/001_items.sql", atomically: true, encoding: .utf8)
        try """
            table: items
            changes:
              - alter: title
                type: text
                up: "title::text"
                down: "title::varchar(80)"
            """.write(toFile: root + "/plans/001_widen_title.yaml", atomically: true, encoding: .utf8)
        let run = try CheckCommandTests.bellows(["rehearse", "--project", root, "--database", database.conninfo, "--no-rollbacks",
                                                 "--rows", "300", "--batch-size", "100"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(!run.stderr.contains("backfill_progress") && !run.stderr.contains("{\""), "\(run.stderr)")
        let progress = run.stderr.split(separator: "\n").filter { $0.contains("backfill 001_widen_title:") }
        #expect(progress.contains { $0.contains("100.0%") && $0.contains("rows/s") }, "\(run.stderr)")
    }
}
