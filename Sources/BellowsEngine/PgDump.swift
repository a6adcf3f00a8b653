import Foundation
import PGClient

/// `pg_dump --schema-only` from the PostgreSQL client: which one to run, running it, and
/// turning its plain output into SQL that the migration runner, the linter and the offline
/// schema model read (``PgDump/migrationText(_:header:)``).
///
/// Which pg_dump: a directory named with `--pg-bindir` or `$BELLOWS_PG_BINDIR` (only that one:
/// a directory without pg_dump is an error), else the first of `pg_dump` on the `PATH` and
/// `/usr/lib/postgresql/*/bin/pg_dump` (newest first) whose major version is at least the
/// server's — pg_dump refuses a newer server — else the first found, whose refusal is reported.
public enum PgDump {
    /// The schema Bellows keeps its state in; never part of a dump.
    static let stateSchema = "bellows"

    /// The path of the pg_dump to run against a server of major version `serverMajor`.
    public static func find(explicit: String?, serverMajor: Int) throws -> String {
        let fm = FileManager.default
        for (source, named) in [("--pg-bindir", explicit), ("BELLOWS_PG_BINDIR", ProcessInfo.processInfo.environment["BELLOWS_PG_BINDIR"])] {
            guard let dir = named, !dir.isEmpty else { continue }
            let path = (dir as NSString).appendingPathComponent("pg_dump")
            guard fm.isExecutableFile(atPath: path) else { throw BellowsError.usage("\(source) \(dir) holds no pg_dump") }
            return path
        }
        var candidates: [String] = []
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) {
            let path = (dir as NSString).appendingPathComponent("pg_dump")
            if fm.isExecutableFile(atPath: path) { candidates.append(path) }
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin/pg_dump" }.filter(fm.isExecutableFile(atPath:))
        guard let first = candidates.first else {
            throw BellowsError.usage("pg_dump not found (PATH, /usr/lib/postgresql/*/bin): install the PostgreSQL client of the server's major version (\(serverMajor)), or name its directory with --pg-bindir or BELLOWS_PG_BINDIR")
        }
        return candidates.first { (majorVersion(of: $0) ?? 0) >= serverMajor } ?? first
    }

    /// `pg_dump --version`'s major version (`pg_dump (PostgreSQL) 15.18 (Debian …)` → 15).
    static func majorVersion(of path: String) -> Int? {
        guard let output = try? ScratchCluster.run(path, ["--version"], as: nil).output else { return nil }
        return versionMajor(in: output)
    }

    /// The major version in a `--version` line. Pure.
    public static func versionMajor(in text: String) -> Int? {
        guard let range = text.range(of: "(PostgreSQL) ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// Runs pg_dump and returns its plain SQL: the schema only, without owners, privileges,
    /// tablespaces, publications, subscriptions and security labels, without the `bellows`
    /// schema. `snapshot` dumps as of an exported snapshot (`pg_export_snapshot()`). pg_dump
    /// runs in a read-only transaction of its own. A failure is a usage error with pg_dump's
    /// message (a pg_dump older than the server says so).
    public static func schema(conninfo: String?, pgDump: String, snapshot: String? = nil) throws -> String {
        let output = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-dump-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sql")
        defer { unlink(output) }
        var arguments = ["--schema-only", "--no-owner", "--no-privileges", "--no-tablespaces", "--no-publications",
                         "--no-subscriptions", "--no-security-labels", "--exclude-schema=\(stateSchema)", "--file=\(output)"]
        if let snapshot { arguments.append("--snapshot=\(snapshot)") }
        let connection = connectionArguments(conninfo)
        if let dbname = connection.dbname { arguments.append("--dbname=\(dbname)") }
        let run = try ScratchCluster.run(pgDump, arguments, as: nil, environment: connection.password.map { ["PGPASSWORD": $0] } ?? [:])
        guard run.status == 0 else {
            let message = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
            throw BellowsError.usage("\(pgDump) failed (exit \(run.status)): \(conninfo.map { Connection.redact(message: message, conninfo: $0) } ?? message)")
        }
        guard let data = FileManager.default.contents(atPath: output), let text = String(data: data, encoding: .utf8) else {
            throw BellowsError.usage("\(pgDump) wrote no readable output")
        }
        return text
    }

    /// What pg_dump gets for `conninfo`: the settings as a `key='value'` string without the
    /// password, which goes in `PGPASSWORD` instead (a command line is visible to every user of
    /// the machine). A string libpq cannot parse is passed as given, for pg_dump to report.
    public static func connectionArguments(_ conninfo: String?) -> (dbname: String?, password: String?) {
        guard let conninfo, !conninfo.isEmpty else { return (nil, nil) }
        guard let parameters = Connection.parameters(of: conninfo) else { return (conninfo, nil) }
        let password = parameters.first { $0.key == "password" }?.value
        let rest = parameters.filter { $0.key != "password" }.map { parameter in
            "\(parameter.key)='" + parameter.value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return (rest.joined(separator: " "), password)
    }

    /// pg_dump's plain output as a migration file: `header` first (comment lines), then the
    /// dump without what only psql or a restore session needs — the `\restrict`/`\unrestrict`
    /// meta-commands (random keys), the `SET …` and `set_config('search_path', '', false)`
    /// session settings (every name in the dump is schema-qualified; the runner has its own
    /// settings), pg_dump's version lines — and with `SET LOCAL check_function_bodies = off`
    /// at the top, as pg_dump sets it: a function body may name objects created later. The
    /// result is the same for the same schema, so a re-run can compare files. Pure.
    public static func migrationText(_ dump: String, header: [String]) -> String {
        var body: [Substring] = []
        for line in dump.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\\restrict") || line.hasPrefix("\\unrestrict") { continue }
            if line.hasPrefix("SET ") && line.hasSuffix(";") { continue }
            if line == "SELECT pg_catalog.set_config('search_path', '', false);" { continue }
            if line.hasPrefix("-- Dumped from database version") || line.hasPrefix("-- Dumped by pg_dump version") { continue }
            body.append(line)
        }
        // Runs of blank lines left by the removed lines: at most two in a row, none at the ends.
        var lines: [Substring] = []
        var blanks = 0
        for line in body {
            blanks = line.isEmpty ? blanks + 1 : 0
            if blanks > 2 || (line.isEmpty && lines.isEmpty) { continue }
            lines.append(line)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return (header + ["", "SET LOCAL check_function_bodies = off;", ""]).joined(separator: "\n") + "\n"
            + lines.joined(separator: "\n") + "\n"
    }
}
