import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// What `bellows baseline` did.
public struct BaselineResult: Sendable {
    public enum Outcome: String, Sendable {
        /// The file was written and recorded as applied.
        case created
        /// The file existed with the database's schema; it was recorded as applied on this database.
        case recorded
        /// File and ledger already matched the database: nothing changed.
        case unchanged
    }

    public var outcome: Outcome
    public var path: String
    public var checksum: String
    public var pgDump: String
}

extension MigrationRunner {
    /// The baseline migration's file stem.
    public static let baselineName = "000_baseline"

    /// `bellows baseline`: captures the live schema of the database (pg_dump `--schema-only`,
    /// without the `bellows` schema; see ``PgDump``) into `migrations/000_baseline.sql` and
    /// records it in the ledger as applied, with the checksum rules of `migrate`, so that
    /// `migrate` applies only what comes after. Idempotent: when the file already holds the
    /// database's schema it is only recorded (or nothing happens when it is). Refused, with
    /// nothing changed, when the project has other migrations, the file differs from the
    /// database's schema, or a plan is in flight on the database (its transition objects
    /// would become part of the baseline).
    public func baseline(pgBinDirectory: String? = nil) throws -> BaselineResult {
        let path = (project.migrationsDirectory as NSString).appendingPathComponent(Self.baselineName + ".sql")
        let others = project.migrationFiles().filter { $0.name != Self.baselineName }
        if !others.isEmpty {
            let names = others.prefix(5).map(\.name).joined(separator: ", ") + (others.count > 5 ? ", …" : "")
            throw Self.baselineRefusal("existing-migrations", """
                \(Self.display(project.migrationsDirectory)) already holds \(others.count) migration(s) (\(names)): a baseline is the \
                first migration of a project adopting a database that no migration built, and comes before all of them
                """, remedy: """
                if this database was built by these migrations, `bellows migrations status` shows which the ledger records and \
                `bellows migrate` applies the rest; to check or render plans against the database as it is, use \
                `bellows check --database …` and `bellows render PLAN --database …` (no baseline needed); to adopt it as a new \
                project, run `bellows baseline --project DIR` with an empty DIR/migrations
                """)
        }
        return try withConnection(createSchema: false) { connection in
            let major = try connection.query("SELECT current_setting('server_version_num')::int / 10000 AS major").first?.int("major") ?? 0
            let database = try connection.query("SELECT current_database() AS d").first?.string("d") ?? "?"
            try refuseInFlightPlans(connection)
            let contracted = try contractedPlans(connection)
            let pgDump = try PgDump.find(explicit: pgBinDirectory, serverMajor: major)
            let dump = try PgDump.schema(conninfo: options.conninfo, pgDump: pgDump)
            let text = PgDump.migrationText(dump, header: [
                "-- Migration: \(Self.baselineName)",
                "-- Description: the schema the database had when Bellows adopted it (bellows baseline: pg_dump --schema-only)",
                "-- Dependencies: none",
                "-- bellows:ignore-file missing-rollback: the baseline is the starting point; nothing comes before it",
            ] + (contracted.isEmpty ? [] : [
                "-- Contracted Plans: \(contracted.joined(separator: ", "))",
                "-- (contracted on the database before this baseline, which holds their changes; check and rehearse do not apply them again)",
            ]))
            let ledger = try readState(connection).ledger
            let fm = FileManager.default
            var outcome = BaselineResult.Outcome.created
            if fm.fileExists(atPath: path) {
                let existing = try Self.read(path)
                guard existing.text == text else {
                    throw Self.baselineRefusal("drift", """
                        \(Self.display(path)) differs from the schema of database "\(database)" now (- file, + database):
                        \(Self.lineDifference(from: existing.text, to: text).map { "      " + $0 }.joined(separator: "\n"))
                        """, remedy: "a baseline records the schema once; later changes are new migrations (\(Self.display(project.migrationsDirectory))/001_….sql); on another database, baseline only one with the same schema")
                }
                outcome = .recorded
            } else if ledger[Self.baselineName] != nil {
                throw Self.baselineRefusal("missing-file", "database \"\(database)\" records \(Self.baselineName) as applied, but \(Self.display(path)) does not exist",
                                           remedy: "restore the file from version control")
            }
            let checksum = SHA256.hex(Array(text.utf8))
            if let row = ledger[Self.baselineName] {
                guard row.checksum == checksum else {
                    throw Self.baselineRefusal("drift", "database \"\(database)\" records \(Self.baselineName) with checksum \(row.checksum.prefix(12)), the file has \(checksum.prefix(12))",
                                               remedy: "restore the file the ledger records")
                }
                return BaselineResult(outcome: .unchanged, path: Self.display(path), checksum: checksum, pgDump: pgDump)
            }
            var wrote = false
            if outcome == .created {
                do {
                    try fm.createDirectory(atPath: project.migrationsDirectory, withIntermediateDirectories: true)
                    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                    wrote = true
                } catch {
                    throw BellowsError.usage("cannot write \(Self.display(path)): \(error.localizedDescription)")
                }
            }
            do {
                try recordBaseline(connection, path: path)
            } catch {
                if wrote { try? fm.removeItem(atPath: path) }
                throw error
            }
            report(.info("\(Self.baselineName): recorded as applied on database \"\(database)\" (\(pgDump))"))
            return BaselineResult(outcome: outcome, path: Self.display(path), checksum: checksum, pgDump: pgDump)
        }
    }

    /// A plan between expand and contract has its transition objects in the tables: a baseline
    /// taken now would make them part of the schema.
    func refuseInFlightPlans(_ connection: Connection) throws {
        let exists = try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS e").first?.bool("e") ?? false
        guard exists else { return }
        let active = try connection.query("""
            SELECT id, phase FROM bellows.plans WHERE expanding OR phase IN ('expanded', 'backfilled', 'verified') ORDER BY id
            """).map { "\(try $0.string("id")) (\(try $0.string("phase")))" }
        guard active.isEmpty else {
            throw Self.baselineRefusal("plans", "plans are between expand and contract on this database: \(active.joined(separator: ", ")); their transition columns and triggers would become part of the baseline",
                                       remedy: "contract or roll them back first")
        }
    }

    /// The plans contracted on the database, in order: the baseline records them (its
    /// `-- Contracted Plans:` header) since the schema it captures is the one after them.
    func contractedPlans(_ connection: Connection) throws -> [String] {
        let exists = try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS e").first?.bool("e") ?? false
        guard exists else { return [] }
        return try connection.query("SELECT id FROM bellows.plans WHERE phase = 'contracted' ORDER BY id").map { try $0.string("id") }
    }

    /// Records the baseline file as applied, as `migrate` records a file (its checksum, the
    /// ledger row and a `baseline` event in one transaction), holding the runners' lock.
    func recordBaseline(_ connection: Connection, path: String) throws {
        try StateStore.ensure(connection)
        let ref = MigrationFileRef(name: Self.baselineName, number: 0, path: path, rollbackPath: nil)
        let file = try Self.load(ref)
        try withRunnerLock(connection, command: "baseline") { _ in
            // Read under the lock: another runner may have recorded it meanwhile.
            if let row = try readState(connection).ledger[Self.baselineName] {
                guard row.checksum == file.checksum else { throw BellowsError.usage("another run recorded \(Self.baselineName) with checksum \(row.checksum.prefix(12)) meanwhile") }
                return
            }
            let pending = PendingMigration(name: file.name, number: 0, path: file.displayPath, checksum: file.checksum,
                                           description: file.analysis.header.description, dependencies: [], transactional: true,
                                           nonTransactionalReason: nil, ownTransactionControl: false, statements: file.statements,
                                           completedStatements: [], outOfOrder: false, startedStatement: nil)
            try database {
                try connection.withTransaction {
                    try actAsRunner(connection)
                    try insertLedgerRow(connection, pending, milliseconds: 0)
                    try record(connection, migration: file.name, command: "baseline", outcome: "succeeded", details: [
                        "checksum": .string(file.checksum), "statements": .int(file.statements.count)])
                }
            }
        }
    }

    static func baselineRefusal(_ gate: String, _ message: String, remedy: String) -> MigrationRefusal {
        MigrationRefusal(command: "baseline", problems: [MigrationProblem(gate: gate, migration: baselineName, message: message, remedy: remedy)])
    }

    /// Lines only in `old` (`-`) and only in `new` (`+`), at most 20 of each. Pure.
    static func lineDifference(from old: String, to new: String, limit: Int = 20) -> [String] {
        let a = old.split(separator: "\n").map(String.init), b = new.split(separator: "\n").map(String.init)
        let inA = Set(a), inB = Set(b)
        let removed = a.filter { !inB.contains($0) }, added = b.filter { !inA.contains($0) }
        return removed.prefix(limit).map { "- " + $0 } + (removed.count > limit ? ["- … \(removed.count - limit) more"] : [])
            + added.prefix(limit).map { "+ " + $0 } + (added.count > limit ? ["+ … \(added.count - limit) more"] : [])
    }
}
