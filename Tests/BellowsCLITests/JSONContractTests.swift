import ArgumentParser
import BellowsTestSupport
import Foundation
import Testing
@testable import bellows

/// The `--format json` contract (docs/json.md): every command prints exactly one JSON object on
/// stdout, `{"bellows": VERSION, "command": …, "outcome": …, …}`, errors included, and each
/// command's document on success and on each failure kind is pinned by a golden file in
/// `Golden/` (volatile values such as durations and paths replaced, see ``normalised(_:replacing:volatile:)``).
///
/// After an intended change of a document, regenerate the golden files and review the diff:
///
///     BELLOWS_UPDATE_GOLDEN=1 swift test --filter JSONContractTests
@Suite struct JSONContractTests {
    static let updating = ProcessInfo.processInfo.environment["BELLOWS_UPDATE_GOLDEN"] == "1"
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let nowhere = ExitCodeTests.nowhere

    /// Every command of the tree below `bellows`, as its words (`["migrations", "status"]`),
    /// walked from ArgumentParser's configuration: a new subcommand is in this list by itself.
    static var commandPaths: [[String]] {
        func walk(_ command: any ParsableCommand.Type, _ prefix: [String]) -> [[String]] {
            command.configuration.subcommands.flatMap { child -> [[String]] in
                let path = prefix + [child._commandName]
                return [path] + walk(child, path)
            }
        }
        return walk(Bellows.self, [])
    }

    /// What each command needs besides `--format json` to get past its argument parsing (the
    /// project is added). A command missing here fails the test: say what it needs.
    static let arguments: [String: [String]] = [
        "expand": ["001", "-d", nowhere], "backfill": ["001", "-d", nowhere], "verify": ["001", "-d", nowhere],
        "contract": ["001", "-d", nowhere], "rollback": ["001", "-d", nowhere], "advance": ["001", "-d", nowhere],
        "status": ["-d", nowhere], "history": ["-d", nowhere], "approve": ["001", "app-reads-email-address", "-d", nowhere],
        "diff": ["001", "-d", nowhere], "check": [], "lint": [], "render": ["001"],
        "migrate": ["-d", nowhere], "migrate apply": ["-d", nowhere], "migrate rollback": ["001", "--yes", "-d", nowhere],
        "migrations": ["-d", nowhere], "migrations status": ["-d", nowhere], "baseline": ["-d", nowhere],
        "rehearse": ["-d", nowhere], "pause": ["001", "-d", nowhere], "resume": ["001", "-d", nowhere],
        "throttle": ["001", "--batch-size", "5", "-d", nowhere], "wait": ["001", "--for", "verified", "-d", nowhere],
        "search-path": ["001", "--version", "new", "-d", nowhere], "estimate": ["001", "-d", nowhere],
        "archive": ["-d", nowhere], "archive list": ["-d", nowhere], "archive restore": ["001", "-d", nowhere],
        "archive purge": ["001", "-d", nowhere],
    ]

    /// Parses `stdout` as exactly one JSON object (one line, nothing else).
    static func document(_ stdout: String) throws -> [String: Any] {
        let lines = stdout.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "one line of JSON on stdout, got:\n\(stdout)")
        return try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "not a JSON object:\n\(stdout)")
    }

    @Test func everySubcommandTakesFormatJSONAndPrintsOneObject() throws {
        let paths = Self.commandPaths
        #expect(paths.count >= 20, "\(paths)")
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        for path in paths {
            let name = path.joined(separator: " ")
            guard let extra = Self.arguments[name] else {
                Issue.record("bellows \(name): say in JSONContractTests.arguments what it needs to run")
                continue
            }
            let run = try CheckCommandTests.bellows(path + extra + ["--format", "json", "--project", root], in: root)
            let object = try Self.document(run.stdout)
            #expect(object["bellows"] as? String == "0.1.0", "\(name): \(run.stdout)")
            #expect(object.keys.contains("commit"), "\(name)")
            // `bellows migrate` is `migrate apply`, `bellows migrations` is `migrations status`, `bellows archive` is `archive list`.
            let expected = ["migrate": "migrate apply", "migrations": "migrations status", "archive": "archive list"][name] ?? name
            #expect(object["command"] as? String == expected, "\(name): \(run.stdout)")
            let outcome = object["outcome"] as? String
            let byCode: [Int32: String] = [0: "ok", 1: "refused", 2: "error", 3: "failed", 4: "interrupted", 5: "error", 6: "refused", 7: "refused"]
            #expect(outcome == byCode[run.status], "\(name): exit \(run.status), outcome \(outcome ?? "none")")
            let error = object["error"] as? [String: Any]
            #expect((error == nil) == (outcome == "ok"), "\(name): an error object exactly when not ok: \(run.stdout)")
            #expect(error?["kind"] as? String != "usage", "\(name): a usage error (does it take --format json?): \(run.stdout)\(run.stderr)")
            // Progress and notes go to stderr as JSON lines, if at all.
            for line in run.stderr.split(separator: "\n") {
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(name): stderr line not JSON: \(line)")
            }
        }
    }

    /// A usage error (an unknown option) is a document too, naming the command.
    @Test func aUsageErrorIsADocument() throws {
        let run = try CheckCommandTests.bellows(["status", "--format", "json", "--bogus"])
        #expect(run.status == 2)
        let object = try Self.document(run.stdout)
        #expect(object["command"] as? String == "status" && object["outcome"] as? String == "error", "\(run.stdout)")
        #expect((object["error"] as? [String: Any])?["kind"] as? String == "usage", "\(run.stdout)")
    }

    // MARK: golden files

    /// `object` with what changes from run to run replaced: durations, timestamps, the commit,
    /// the temporary project and database names.
    static func normalised(_ value: Any, replacing: [(String, String)], volatile extra: Set<String> = []) -> Any {
        let volatileKeys = Set<String>([
            "duration_ms", "seconds", "sessions_this_run", "longest_traffic_ms", "at", "applied_at", "verified_at", "commit", "rows_per_second",
            "last_batch_ms", "eta_seconds", "id", "pg_dump", "traffic_statements", "table_bytes", "table_bytes_at_start",
            "table_bytes_before", "table_bytes_after", "changed_at", "archive_bytes", "bytes", "created_at", "expires_at",
        ]).union(extra)
        switch value {
        case let object as [String: Any]:
            var result: [String: Any] = [:]
            for (key, field) in object {
                result[key] = volatileKeys.contains(key) && !(field is NSNull) && !(field is [Any]) && !(field is [String: Any])
                    ? "<\(key)>" : normalised(field, replacing: replacing, volatile: extra)
            }
            return result
        case let array as [Any]:
            return array.map { normalised($0, replacing: replacing, volatile: extra) }
        case let text as String:
            return replacing.reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
        default:
            return value
        }
    }

    /// Compares `run`'s document with `Golden/<name>.json` (or writes it when updating).
    static func expectGolden(_ name: String, _ run: CheckCommandTests.Run, status: Int32, replacing: [(String, String)] = [],
                             volatile: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(run.status == status, "\(name): exit \(run.status)\n\(run.stdout)\(run.stderr)", sourceLocation: sourceLocation)
        let object = try document(run.stdout)
        let data = try JSONSerialization.data(withJSONObject: normalised(object, replacing: replacing, volatile: volatile),
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        let text = String(decoding: data, as: UTF8.self) + "\n"
        let golden = goldenDirectory.appendingPathComponent(name + ".json")
        if updating {
            try FileManager.default.createDirectory(at: goldenDirectory, withIntermediateDirectories: true)
            try text.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: golden, encoding: .utf8),
                                    "no golden file \(golden.path): run with BELLOWS_UPDATE_GOLDEN=1 to create it", sourceLocation: sourceLocation)
        #expect(text == expected, "\(name): the document differs from Golden/\(name).json (BELLOWS_UPDATE_GOLDEN=1 regenerates after an intended change)",
                sourceLocation: sourceLocation)
    }

    /// Documents that need no database: check, lint, render, and the errors before a connection.
    @Test func offlineDocumentsMatchTheirGoldenFiles() throws {
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        let json = ["--format", "json"]
        try Self.expectGolden("check-ok", CheckCommandTests.bellows(["check"] + json, in: root), status: 0)
        try Self.expectGolden("lint-ok", CheckCommandTests.bellows(["lint"] + json, in: root), status: 0)
        try Self.expectGolden("lint-list-rules", CheckCommandTests.bellows(["lint", "--list-rules"] + json, in: root), status: 0)
        try Self.expectGolden("render-ok", CheckCommandTests.bellows(["render", "001", "--phase", "contract"] + json, in: root), status: 0)
        try Self.expectGolden("render-unknown-plan", CheckCommandTests.bellows(["render", "404"] + json, in: root), status: 2)
        try Self.expectGolden("usage-error", CheckCommandTests.bellows(["expand", "001", "--bogus"] + json, in: root), status: 2)
        try Self.expectGolden("cannot-connect", CheckCommandTests.bellows(["status", "-d", Self.nowhere] + json, in: root), status: 5)
        try CheckCommandTests.brokenPlan.write(toFile: root + "/plans/010_broken.yaml", atomically: true, encoding: .utf8)
        try Self.expectGolden("check-findings", CheckCommandTests.bellows(["check", "plans/010_broken.yaml"] + json, in: root), status: 1)
        try "CREATE INDEX t_a ON t (a);\n".write(toFile: root + "/migrations/900_index.sql", atomically: true, encoding: .utf8)
        try Self.expectGolden("lint-findings", CheckCommandTests.bellows(["lint", "migrations/900_index.sql"] + json, in: root), status: 1)
        try Self.expectGolden("lint-io-error", CheckCommandTests.bellows(["lint", "missing.sql"] + json, in: root), status: 2)
    }
}

/// The documents of commands that run against a database, on success and on each failure kind.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct JSONContractDatabaseTests {
    /// Plan 001: a rename with gates before expand and before contract.
    static let plan = GateCLITests.plan

    /// Plan 002 fails at backfill: its up divides by zero for every row.
    static let failingPlan = """
        table: f
        changes:
          - alter: n
            type: bigint
            up: "n / 0"
            down: "n::int"
        """

    static let migration = "CREATE TABLE s (id bigint PRIMARY KEY, v text);\nINSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 10) g;\n"
        + "CREATE TABLE f (id bigint PRIMARY KEY, n int);\nINSERT INTO f SELECT g, g FROM generate_series(1, 10) g;\n"

    @Test func databaseDocumentsMatchTheirGoldenFiles() throws {
        let db = try TestDatabase.create("jsoncontract")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-json-\(UUID().uuidString)").path
        defer { db.drop(); CheckCommandTests.remove(root) }
        for directory in ["plans", "migrations", "migrations/rollback"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try Self.plan.write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        try Self.failingPlan.write(toFile: root + "/plans/002_f.yaml", atomically: true, encoding: .utf8)
        try Self.migration.write(toFile: root + "/migrations/001_tables.sql", atomically: true, encoding: .utf8)
        try "CREATE TABLE extra (id int);\n".write(toFile: root + "/migrations/002_extra.sql", atomically: true, encoding: .utf8)
        try "DROP TABLE extra;\n".write(toFile: root + "/migrations/rollback/002_extra.sql", atomically: true, encoding: .utf8)
        let common = ["--project", root, "-d", db.conninfo, "--format", "json", "--actor", "golden"]
        let migrateCommon = ["--project", root, "-d", db.conninfo, "--format", "json"]
        let replacing = [(root, "<project>"), (db.conninfo, "<database>"), (db.name, "<database>")]
        func golden(_ name: String, _ arguments: [String], status: Int32) throws {
            try JSONContractTests.expectGolden(name, CheckCommandTests.bellows(arguments), status: status, replacing: replacing)
        }

        try golden("migrations-status", ["migrations", "status"] + migrateCommon, status: 0)
        try golden("migrate-dry-run", ["migrate", "--dry-run", "--to", "1"] + migrateCommon, status: 0)
        try golden("migrate-ok", ["migrate", "--actor", "golden"] + migrateCommon, status: 0)
        try golden("migrate-rollback-not-confirmed", ["migrate", "rollback", "002"] + migrateCommon, status: 1)
        try golden("migrate-rollback-ok", ["migrate", "rollback", "002", "--yes"] + migrateCommon, status: 0)
        try "CREATE TABLE broken (id int;\n".write(toFile: root + "/migrations/003_broken.sql", atomically: true, encoding: .utf8)
        try golden("migrate-failed", ["migrate", "--allow-lint-errors"] + migrateCommon, status: 3)
        try FileManager.default.removeItem(atPath: root + "/migrations/003_broken.sql")
        try golden("status-ok", ["status"] + common, status: 0)
        try golden("backfill-refused", ["backfill", "001"] + common, status: 1)
        try golden("expand-ok", ["expand", "001", "--confirm", "dba-ok"] + common, status: 0)
        try golden("pause-ok", ["pause", "001"] + common, status: 0)
        try golden("throttle-ok", ["throttle", "001", "--batch-size", "5"] + common, status: 0)
        try golden("resume-ok", ["resume", "001"] + common, status: 0)
        // Finding hostile-d 07: advance stopped by a closed gate printed the phases it ran and
        // then the refusal, two documents; now one, with both.
        try golden("advance-stopped", ["advance", "001", "--through", "contract"] + common, status: 1)
        try golden("approve-ok", ["approve", "001", "app-writes-v2"] + common, status: 0)
        try golden("approve-unknown-gate", ["approve", "001", "app-writes-v3"] + common, status: 2)
        try golden("wait-ok", ["wait", "001", "--for", "verified"] + common, status: 0)
        try golden("wait-timeout", ["wait", "001", "--for", "contracted", "--timeout", "0", "--interval", "0.1"] + common, status: 6)
        try golden("diff-ok", ["diff", "001"] + common, status: 0)
        try golden("history-ok", ["history", "001"] + common, status: 0)
        // Plan 002 before its expand: the sample (one batch of f's ten rows) rolled back.
        try JSONContractTests.expectGolden("estimate-ok", CheckCommandTests.bellows(["estimate", "002"] + common), status: 0, replacing: replacing,
                                           volatile: ["estimated", "heap_bytes", "index_bytes", "toast_bytes", "heap_bytes_without_vacuum", "wal_bytes",
                                                      "bytes", "bytes_per_row", "ms", "expand_ms", "held_ms", "hold_ms", "failed_sample_held_ms", "database"])
        try golden("contract-ok", ["contract", "001"] + common, status: 0)
        try golden("archive-list-ok", ["archive", "list"] + common, status: 0)
        try golden("archive-restore-ok", ["archive", "restore", "001"] + common, status: 0)
        try golden("archive-restore-taken", ["archive", "restore", "001"] + common, status: 2)
        // hostile-h 12: purge asks for confirmation; without a terminal it needs --yes.
        try golden("archive-purge-not-confirmed", ["archive", "purge", "001"] + common, status: 1)
        try golden("archive-purge-ok", ["archive", "purge", "001", "--yes"] + common, status: 0)
        try golden("expand-002-ok", ["expand", "002"] + common, status: 0)
        try golden("backfill-failed", ["backfill", "002"] + common, status: 3)
        try golden("rollback-ok", ["rollback", "002"] + common, status: 0)
        try CheckCommandTests.brokenPlan.write(toFile: root + "/plans/003_broken.yaml", atomically: true, encoding: .utf8)
        try golden("expand-plan-invalid", ["expand", "003"] + common, status: 1)
        try FileManager.default.removeItem(atPath: root + "/plans/003_broken.yaml")
        try Self.plan.replacingOccurrences(of: "v2", with: "v9").write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        try golden("diff-differs", ["diff", "001"] + common, status: 1)
    }

    /// `migrate` stopped by SIGINT while a statement runs: `interrupted`, exit 4.
    @Test func anInterruptedMigrationIsADocument() throws {
        let db = try TestDatabase.create("jsoninterrupt")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-json-\(UUID().uuidString)").path
        defer { db.drop(); CheckCommandTests.remove(root) }
        try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        try "SELECT pg_sleep(60);\n".write(toFile: root + "/migrations/001_sleep.sql", atomically: true, encoding: .utf8)
        let binary = try #require(CheckCommandTests.binary)
        let out = root + "/stdout"
        FileManager.default.createFile(atPath: out, contents: nil)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["migrate", "--project", root, "-d", db.conninfo, "--format", "json", "--allow-lint-errors"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Wait until the statement runs, then interrupt.
        let connection = try db.connect()
        defer { connection.close() }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let running = try connection.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'")
            if try running.first?.int("n") ?? 0 > 0 { break }
            usleep(100_000)
        }
        process.interrupt()
        process.waitUntilExit()
        let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        try JSONContractTests.expectGolden("migrate-interrupted", CheckCommandTests.Run(status: process.terminationStatus, stdout: stdout, stderr: ""),
                                           status: 4, replacing: [(root, "<project>"), (db.conninfo, "<database>"), (db.name, "<database>")])
    }

    /// `baseline` and `rehearse`, each on a database of its own.
    @Test func baselineAndRehearseDocuments() throws {
        let source = try TestDatabase.create("jsonbaseline")
        let scratch = try TestDatabase.create("jsonrehearse")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-json-\(UUID().uuidString)").path
        defer { source.drop(); scratch.drop(); CheckCommandTests.remove(root) }
        for directory in ["plans", "migrations"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        let connection = try source.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text);")
        connection.close()
        let replacing = [(root, "<project>"), (source.conninfo, "<database>"), (source.name, "<database>"),
                         (scratch.conninfo, "<database>"), (scratch.name, "<database>")]
        // The dump's text (and so its checksum) depends on pg_dump's version.
        try JSONContractTests.expectGolden("baseline-ok", CheckCommandTests.bellows(["baseline", "--project", root, "-d", source.conninfo, "--format", "json"]),
                                           status: 0, replacing: replacing, volatile: ["checksum"])
        try Self.plan.write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        try JSONContractTests.expectGolden("rehearse-ok", CheckCommandTests.bellows(["rehearse", "--project", root, "-d", scratch.conninfo, "--rows", "20",
                                                                                     "--no-rollbacks", "--format", "json"]),
                                           status: 0, replacing: replacing, volatile: ["rows"])
    }

    /// With --format json, stderr is JSON lines only and backfill progress comes at most about
    /// once a second, however many batches run (here over a thousand).
    @Test func progressIsJSONLinesAtMostAboutOneASecond() throws {
        let db = try TestDatabase.create("jsonprogress")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-json-\(UUID().uuidString)").path
        defer { db.drop(); CheckCommandTests.remove(root) }
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        let connection = try db.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 30000) g; ANALYZE s;")
        connection.close()
        try Self.plan.write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        let common = ["--project", root, "-d", db.conninfo, "--format", "json"]
        #expect(try CheckCommandTests.bellows(["expand", "001", "--confirm", "dba-ok"] + common).status == 0)
        let start = Date()
        let run = try CheckCommandTests.bellows(["backfill", "001", "--batch-size", "25", "--pacing", "full"] + common)
        let seconds = Date().timeIntervalSince(start)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let events = run.stderr.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        #expect(!events.contains { $0 == nil }, "stderr holds only JSON objects:\n\(run.stderr)")
        let progress = events.compactMap { $0 }.filter { $0["event"] as? String == "backfill_progress" }
        #expect(!progress.isEmpty, "\(run.stderr)")
        // One a second, plus the one that shows the backfill complete.
        #expect(progress.count <= Int(seconds) + 2, "\(progress.count) progress lines in \(seconds) s")
        let last = try #require(progress.last?["progress"] as? [String: Any])
        #expect(last["rows_scanned"] as? Int == 30000 && last["batch_size"] as? Int == 25, "\(last)")
        #expect(last["walk_done"] as? Bool == true, "\(last)")
    }

    /// hostile-l 06: a backfill shorter than a second, on a table never analyzed (no estimate of
    /// its rows), printed only its first progress line: the line that shows the walk done was
    /// printed only once the rows walked reached the estimate. The run's last line is now always
    /// printed, with `walk_done`, and counts against the rows walked.
    @Test func theLastProgressLineShowsTheWalkDoneOnAShortRunWithoutAnEstimate() throws {
        let db = try TestDatabase.create("jsonprogressdone")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-json-\(UUID().uuidString)").path
        defer { db.drop(); CheckCommandTests.remove(root) }
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        let connection = try db.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 5000) g;")
        connection.close()
        try Self.plan.write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        let common = ["--project", root, "-d", db.conninfo, "--format", "json"]
        #expect(try CheckCommandTests.bellows(["expand", "001", "--confirm", "dba-ok"] + common).status == 0)
        let run = try CheckCommandTests.bellows(["backfill", "001", "--batch-size", "500", "--pacing", "full"] + common)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let progress = run.stderr.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["event"] as? String == "backfill_progress" }
        let last = try #require(progress.last?["progress"] as? [String: Any], "\(run.stderr)")
        #expect(last["walk_done"] as? Bool == true, "\(last)")
        #expect(last["rows_scanned"] as? Int == 5000 && last["estimated_total"] as? Int == 5000, "\(last)")
        #expect(progress.dropLast().allSatisfy { ($0["progress"] as? [String: Any])?["walk_done"] as? Bool == false }, "\(run.stderr)")
    }
}
