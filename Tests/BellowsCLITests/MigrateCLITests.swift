import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Runs the built `bellows` binary (next to the test bundle) with stdin from /dev/null.
private func bellows(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    var binary = directory.appendingPathComponent("bellows")
    if !FileManager.default.fileExists(atPath: binary.path) {
        binary = directory.deletingLastPathComponent().appendingPathComponent("bellows")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["BELLOWS_ACTOR"] = "cli-test"
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

private func project(_ files: [String: String]) throws -> String {
    let root = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: root + "/migrations/rollback", withIntermediateDirectories: true)
    for (path, text) in files { try text.write(toFile: root + "/migrations/" + path, atomically: true, encoding: .utf8) }
    return root
}

@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrateCLITests {
    @Test func migrateStatusAndRollbackWithExitCodes() throws {
        let db = try TestDatabase.create("cli")
        defer { db.drop() }
        let root = try project([
            "001_items.sql": "CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n",
            "002_tags.sql": "-- Dependencies: 001_items\nCREATE TABLE tags (id int);\n",
            "rollback/002_tags.sql": "DROP TABLE tags;\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let common = ["-d", db.conninfo, "--project", root]

        let dry = try bellows(["migrate", "--dry-run", "--format", "json"] + common)
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("\"dry_run\":true") && dry.stdout.contains("CREATE TABLE tags (id int)"))

        let first = try bellows(["migrate", "--to", "1"] + common)
        #expect(first.status == 0)
        #expect(first.stdout.contains("001_items  applied in one transaction"))
        let rest = try bellows(["migrate"] + common)
        #expect(rest.status == 0 && rest.stdout.contains("002_tags"))

        let status = try bellows(["migrations", "status", "--format", "json"] + common)
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"state\":\"applied\"") && status.stdout.contains("\"applied_by\":\"cli-test\""))

        // No terminal and no --yes: refused, nothing changed.
        let unconfirmed = try bellows(["migrate", "rollback", "002"] + common)
        #expect(unconfirmed.status == 1)
        #expect(unconfirmed.stdout.contains("table tags, 0 row(s)"))
        #expect(unconfirmed.stderr.contains("pass --yes"))
        let confirmed = try bellows(["migrate", "rollback", "002", "--yes"] + common)
        #expect(confirmed.status == 0)
        let connection = try db.connect()
        #expect(try connection.query("SELECT to_regclass('tags') IS NULL AS gone").first?.bool("gone") == true)

        // Drift: exit 1; a failing statement: exit 3 with file:line:column and SQLSTATE.
        try "-- edited\nCREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n"
            .write(toFile: root + "/migrations/001_items.sql", atomically: true, encoding: .utf8)
        #expect(try bellows(["migrate"] + common).status == 1)
        try "CREATE TABLE broken (id int);\nSELECT nosuch FROM broken;\n".write(toFile: root + "/migrations/003_broken.sql", atomically: true, encoding: .utf8)
        let failed = try bellows(["migrate", "--accept-drift", "001"] + common)
        #expect(failed.status == 3)
        #expect(failed.stderr.contains("migrations/003_broken.sql:2:8: ERROR 42703: column \"nosuch\" does not exist"))
    }
}
