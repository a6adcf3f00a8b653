import BellowsTestSupport
import Foundation
import Testing

/// `bellows status --format prometheus`: the board as metrics text (phase, progress, throttle
/// state per plan), pinned by `Golden/status-prometheus.txt`; and `--watch`'s refreshes.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct StatusPrometheusTests {
    static let migration = """
        CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
        INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 40) g;
        CREATE TABLE orders (id bigint PRIMARY KEY, note text);
        INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 10) g;
        ANALYZE users; ANALYZE orders;

        """

    func project() throws -> (db: ScratchDatabase, root: String) {
        let db = try TestDatabase.create("prometheus")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-prom-\(UUID().uuidString)").path
        for directory in ["plans", "migrations"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try Self.migration.write(toFile: root + "/migrations/001_tables.sql", atomically: true, encoding: .utf8)
        try "table: users\nchanges:\n  - alter: email\n    rename_to: email_address\n"
            .write(toFile: root + "/plans/001_users.yaml", atomically: true, encoding: .utf8)
        try "table: orders\nchanges:\n  - alter: note\n    rename_to: remark\n"
            .write(toFile: root + "/plans/002_orders.yaml", atomically: true, encoding: .utf8)
        return (db, root)
    }

    @Test func metricsTextMatchesItsGoldenFile() throws {
        let (db, root) = try project()
        defer { db.drop(); CheckCommandTests.remove(root) }
        let common = ["--project", root, "-d", db.conninfo, "--actor", "golden"]
        for arguments in [["migrate"], ["expand", "001"], ["throttle", "001", "--max-rows-per-second", "100", "--batch-size", "50"],
                          ["pause", "001"], ["advance", "002", "--through", "verify"]] {
            let run = try CheckCommandTests.bellows(arguments + common)
            #expect(run.status == 0, "\(arguments): \(run.stdout)\(run.stderr)")
        }
        let run = try CheckCommandTests.bellows(["status", "--format", "prometheus"] + common)
        #expect(run.status == 0, "\(run.stderr)")
        let golden = JSONContractTests.goldenDirectory.appendingPathComponent("status-prometheus.txt")
        if JSONContractTests.updating {
            try run.stdout.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: golden, encoding: .utf8), "no golden file: run with BELLOWS_UPDATE_GOLDEN=1")
        #expect(run.stdout == expected, "the metrics differ from Golden/status-prometheus.txt:\n\(run.stdout)")
        // Every line is a comment or `name{labels} value` (what a textfile collector accepts).
        for line in run.stdout.split(separator: "\n") where !line.hasPrefix("# ") {
            #expect(line.wholeMatch(of: /[a-z_]+\{([a-z]+="[^"]*",?)+\} -?[0-9.]+/) != nil, "\(line)")
        }
    }

    @Test func watchRefreshesUntilStopped() throws {
        let (db, root) = try project()
        defer { db.drop(); CheckCommandTests.remove(root) }
        let binary = try #require(CheckCommandTests.binary)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["status", "--watch", "--interval", "0.2", "--project", root, "-d", db.conninfo]
        let output = root + "/watch.out"
        FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        // Not a terminal: one board after the other, each under its time.
        #expect(text.components(separatedBy: "bellows status, every 0.2 s").count - 1 >= 3, "\(text)")
        #expect(text.contains("001_users") && text.contains("bellows expand 002_orders"))
        let json = try CheckCommandTests.bellows(["status", "--watch", "--format", "json", "--project", root, "-d", db.conninfo])
        #expect(json.status == 2)
    }
}
