import Foundation
import Testing

/// `bellows check` and `bellows render` as CI and reviewers run them: the built binary on a
/// temporary copy of the example project. No database needed.
@Suite struct CheckCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `bellows` executable in the build products directory, where the test bundle is.
    static var binary: URL? {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["BELLOWS_BINARY"] { candidates.append(URL(fileURLWithPath: explicit)) }
        var directory = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            candidates.append(directory.appendingPathComponent("bellows"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("bellows"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) && !$0.hasDirectoryPath }
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `bellows` with output in files (no pipe to fill up), stdin from /dev/null.
    static func bellows(_ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil) throws -> Run {
        let binary = try #require(Self.binary, "no bellows executable next to the tests (set BELLOWS_BINARY)")
        return try run(binary, arguments, in: directory, environment: environment)
    }

    /// Runs `executable` with output in files, stdin from /dev/null; `environment` replaces the
    /// test's whole environment when given.
    static func run(_ executable: URL, _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil) throws -> Run {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-cli-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// A copy of the repository's `plans/` and `migrations/` in a temporary directory.
    static func exampleProject() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for directory in ["plans", "migrations"] {
            try FileManager.default.copyItem(at: repository.appendingPathComponent(directory), to: root.appendingPathComponent(directory))
        }
        return root.path
    }

    static func remove(_ root: String) { try? FileManager.default.removeItem(atPath: root) }

    static let brokenPlan = """
        table: users
        changes:
          - alter: email
            renam_to: email_address
            not_null: "yes"
        """

    @Test func theExamplesPass() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        let run = try Self.bellows(["check", "--project", root])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(!run.stdout.contains(": error:"))
        #expect(run.stderr.contains("0 error(s)"))
        // From inside the project, with the default project directory.
        #expect(try Self.bellows(["check"], in: root).status == 0)
    }

    @Test func aBrokenPlanFailsWithLocatedFindings() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        try Self.brokenPlan.write(toFile: root + "/plans/010_broken.yaml", atomically: true, encoding: .utf8)
        let run = try Self.bellows(["check"], in: root)
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n").map(String.init).filter { $0.contains("010_broken.yaml") }
        #expect(lines == [
            "./plans/010_broken.yaml:4:5: error: unknown key 'renam_to' in an 'alter' change; did you mean 'rename_to'? [plan-unknown-key]",
            "./plans/010_broken.yaml:5:15: error: 'not_null' must be true or false, found a string [plan-wrong-type]",
        ])
        #expect(run.stderr.contains("2 error(s)"))
        // Only that file, by path.
        let one = try Self.bellows(["check", "--project", root, root + "/plans/010_broken.yaml"])
        #expect(one.status == 1)
        #expect(one.stdout.split(separator: "\n").count == 2)
    }

    @Test func missingOrUnreadablePathsExitTwo() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        let missingPlan = try Self.bellows(["check", "--project", root, root + "/plans/404_nowhere.yaml"])
        #expect(missingPlan.status == 2, "\(missingPlan.stdout)")
        #expect(missingPlan.stdout.contains("[io-error]"))
        let missingDirectory = try Self.bellows(["check", "--project", root, root + "/no-such-directory"])
        #expect(missingDirectory.status == 2, "\(missingDirectory.stdout)")
        #expect(missingDirectory.stdout.contains("[io-error]"))

        // A plan that cannot be read: a dangling link (root reads files whatever their mode).
        try FileManager.default.createSymbolicLink(atPath: root + "/plans/011_gone.yaml", withDestinationPath: root + "/nowhere.yaml")
        let dangling = try Self.bellows(["check", "--project", root])
        #expect(dangling.status == 2, "\(dangling.stdout)")
        #expect(dangling.stdout.contains("011_gone.yaml:1:1: error: cannot read the file [io-error]"))
        try FileManager.default.removeItem(atPath: root + "/plans/011_gone.yaml")
        if getuid() != 0 {
            try Self.brokenPlan.write(toFile: root + "/plans/012_secret.yaml", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: root + "/plans/012_secret.yaml")
            #expect(try Self.bellows(["check", "--project", root]).status == 2)
        }
        // A usage error is 2 as well.
        #expect(try Self.bellows(["check", "--format", "xml", "--project", root]).status == 2)
    }

    @Test func jsonFindings() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        try Self.brokenPlan.write(toFile: root + "/plans/010_broken.yaml", atomically: true, encoding: .utf8)
        let run = try Self.bellows(["check", "--format", "json", "--project", root])
        #expect(run.status == 1)
        let parsed = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(parsed?["outcome"] as? String == "refused" && parsed?["command"] as? String == "check", "\(run.stdout)")
        let findings = try #require(parsed?["findings"] as? [[String: Any]], "no array of findings: \(run.stdout)")
        #expect(!findings.isEmpty)
        for finding in findings {
            #expect(Set(finding.keys) == ["file", "line", "column", "severity", "rule", "message"])
            #expect(finding["file"] is String && finding["rule"] is String && finding["message"] is String)
            #expect((finding["line"] as? Int).map { $0 >= 1 } == true && (finding["column"] as? Int).map { $0 >= 1 } == true)
            #expect(["error", "warning", "info"].contains(finding["severity"] as? String ?? ""))
        }
        let unknown = try #require(findings.first { $0["rule"] as? String == "plan-unknown-key" })
        #expect(unknown["file"] as? String == root + "/plans/010_broken.yaml")
        #expect(unknown["line"] as? Int == 4 && unknown["column"] as? Int == 5)
        #expect(unknown["severity"] as? String == "error")

        // A clean project is an empty array, not nothing.
        try FileManager.default.removeItem(atPath: root + "/plans/010_broken.yaml")
        let clean = try Self.bellows(["check", "--format", "json", "--project", root])
        #expect(clean.status == 0)
        let cleanDocument = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any]
        #expect(cleanDocument?["findings"] is [Any] && cleanDocument?["outcome"] as? String == "ok", "\(clean.stdout)")
    }

    @Test func githubAnnotations() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        try Self.brokenPlan.write(toFile: root + "/plans/010_broken.yaml", atomically: true, encoding: .utf8)
        let run = try Self.bellows(["check", "--format", "github"], in: root)
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains(
            "::error file=./plans/010_broken.yaml,line=4,col=5,title=plan-unknown-key::unknown key 'renam_to' in an 'alter' change; did you mean 'rename_to'?"))
        for line in lines {
            #expect(line.range(of: #"^::(error|warning|notice) file=[^,]+,line=\d+,col=\d+,title=[a-z0-9-]+::.+$"#, options: .regularExpression) != nil, "\(line)")
        }
    }

    @Test func renderIsDeterministic() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        let first = try Self.bellows(["render", "001", "--phase", "expand", "--project", root])
        let second = try Self.bellows(["render", "001", "--phase", "expand"], in: root)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == second.stdout)
        #expect(first.stdout.contains("-- ===== expand ====="))
        #expect(first.stdout.contains("ADD COLUMN IF NOT EXISTS \"email_address\" text"))
        #expect(first.stdout.contains("CREATE UNIQUE INDEX CONCURRENTLY"))
        #expect(!first.stdout.contains("===== contract ====="))
        // Every phase, twice, by file name and by number.
        let all = try Self.bellows(["render", "005_claim_status_check", "--project", root])
        #expect(all.status == 0)
        #expect(all.stdout == (try Self.bellows(["render", "5", "--project", root])).stdout)
        for phase in ["expand", "backfill", "verify", "contract", "rollback"] { #expect(all.stdout.contains("-- ===== \(phase) =====")) }
        #expect(all.stdout.contains("RENAME TO \"skill_claims_status_idx\""), "the index from migration 002 is carried over")
        // What offline rendering cannot know is said: the pinned path and the backfill's triggers.
        #expect(all.stdout.contains("search_path = pg_catalog, \"public\", pg_temp"), "\(all.stdout)")
        #expect(all.stdout.contains("session_replication_role = replica when the role may"), "\(all.stdout)")
        #expect(all.stdout.contains("every role that may INSERT or UPDATE the table must be able to use what it uses"), "\(all.stdout)")
    }

    /// The header says which version the SQL is for; on 18 NOT NULL is a NOT VALID NOT NULL constraint.
    @Test func renderSaysWhichVersionItRendersFor() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        let oldest = try Self.bellows(["render", "003", "--project", root])
        #expect(oldest.status == 0, "\(oldest.stderr)")
        #expect(oldest.stdout.contains("-- rendered for PostgreSQL 14 (the oldest supported; --server-version N renders for another)"), "\(oldest.stdout)")
        #expect(oldest.stdout.contains("CHECK (\"created_by\" IS NOT NULL) NOT VALID"))
        for version in ["18", "18.6", "180006"] {
            let pg18 = try Self.bellows(["render", "003", "--server-version", version, "--project", root])
            #expect(pg18.status == 0, "\(pg18.stderr)")
            #expect(pg18.stdout.contains("-- rendered for PostgreSQL \(version == "18" ? "18" : "18.6") (--server-version)"), "\(pg18.stdout)")
            #expect(pg18.stdout.contains("ADD CONSTRAINT \"_bellows_profiles_created_by_not_null\" NOT NULL \"created_by\" NOT VALID"))
            #expect(pg18.stdout.contains("RENAME CONSTRAINT \"_bellows_profiles_created_by_not_null\" TO \"profiles_created_by_not_null\""))
            #expect(!pg18.stdout.contains("SET NOT NULL"))
        }
        let fifteen = try Self.bellows(["render", "003", "--server-version", "15", "--project", root])
        #expect(fifteen.stdout.replacingOccurrences(of: "PostgreSQL 15 (--server-version)", with: "")
                == oldest.stdout.replacingOccurrences(of: "PostgreSQL 14 (the oldest supported; --server-version N renders for another)", with: ""))
        let old = try Self.bellows(["render", "003", "--server-version", "13", "--project", root])
        #expect(old.status == 2)
        #expect(old.stderr.contains("--server-version 13: Bellows supports PostgreSQL 14 or later"), "\(old.stderr)")
        let garbage = try Self.bellows(["render", "003", "--server-version", "latest", "--project", root])
        #expect(garbage.status == 2)
        #expect(garbage.stderr.contains("--server-version must be a PostgreSQL version"), "\(garbage.stderr)")
    }

    @Test func renderRefusesWhatItCannotRender() throws {
        let root = try Self.exampleProject()
        defer { Self.remove(root) }
        #expect(try Self.bellows(["render", "999", "--project", root]).status == 2)
        try Self.brokenPlan.write(toFile: root + "/plans/010_broken.yaml", atomically: true, encoding: .utf8)
        let broken = try Self.bellows(["render", "010", "--project", root])
        #expect(broken.status == 1)
        #expect((broken.stdout + broken.stderr).contains("renam_to"))
    }
}
