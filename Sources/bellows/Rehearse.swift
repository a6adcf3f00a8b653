import ArgumentParser
import BellowsEngine
import Foundation

struct Rehearse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove every plan end to end on a scratch PostgreSQL under simulated traffic, and its rollback from each phase.",
        discussion: """
        Without --database, starts a private PostgreSQL cluster from the server binaries on this machine \
        (also as root) and removes it afterwards unless --keep. Applies migrations/ one by one (running each one's tests of migrations/tests/ after it, rolled back, then its rollback file, the catalog compared with the one before it, and the migration again), fills the tables with \
        synthetic rows (or --seed FILE), or with --from DATABASE starts from that database's schema and \
        ledger (read-only; --sample N copies N rows per table and the rows they reference), then for each \
        plan in order drives expand → backfill → verify → contract while old- and new-version writers run, \
        and on fresh copies rolls back from each phase.

        """ + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.cannotConnect, saying: [
            0: "every invariant holds", ExitStatus.refused: "a violation (or a plan refused before the rehearsal)",
            ExitStatus.cannotConnect: "cannot connect to --database or --from",
        ]))

    @Argument(help: "Plans to rehearse (default: every plan in plans/).")
    var plans: [String] = []

    @Option(help: "Project directory holding plans/ and migrations/.")
    var project: String = "."

    @Option(name: [.customLong("database"), .customShort("d")], help: "An existing, empty scratch database to use instead of a private cluster.")
    var database: String?

    @Flag(help: "Use --database even though it holds other objects.")
    var allowNonempty = false

    @Option(name: .customLong("pg-bindir"), help: ArgumentHelp("The PostgreSQL server binaries (initdb, pg_ctl) of the private cluster, e.g. production's major version; default $BELLOWS_PG_BINDIR, then the machine's.", valueName: "dir"))
    var pgBindir: String?

    @Flag(help: "Keep the private cluster running and print how to connect.")
    var keep = false

    @Option(name: .customLong("from"), help: ArgumentHelp("A live database (conninfo or URI) whose schema the scratch database copies (pg_dump, read-only transaction; its migration ledger too, so only later migrations run).", valueName: "database"))
    var from: String?

    @Option(help: ArgumentHelp("With --from: copy up to N rows of each table (and every row they reference through foreign keys) instead of synthetic rows.", valueName: "n"))
    var sample: Int?

    @Option(help: "Synthetic rows per table.")
    var rows: Int = 2000

    @Option(help: "An SQL file that fills the tables instead of the generator.")
    var seed: String?

    @Option(help: "Backfill batch size.")
    var batchSize: Int = 250

    @Flag(help: "Skip the rollback runs.")
    var noRollbacks = false

    @Flag(help: "Also rehearse the built-in schema feature scenarios (identity, serial, partial and expression indexes, multi-column UNIQUE and foreign key, column grants, collation, comment and statistics, replica identity, row security, user triggers, json; a view and a partitioned table refused before expand), each in its own database, comparing the table's catalog facts before and after.")
    var schemaFeatures = false

    @Option(help: "Output format.")
    var format: OutputFormat = .text

    @Flag(name: .shortAndLong, help: "Show the SQL of every step.")
    var verbose = false

    func validate() throws {
        if database != nil && schemaFeatures {
            throw ValidationError("--schema-features runs in the private cluster; leave out --database")
        }
        if database != nil && pgBindir != nil {
            throw ValidationError("--pg-bindir starts a private cluster; --database uses an existing one: give one of them")
        }
        if sample != nil && from == nil { throw ValidationError("--sample copies rows of the --from database: give --from") }
        if let sample, sample < 0 { throw ValidationError("--sample must not be negative") }
        if sample != nil && seed != nil { throw ValidationError("--sample and --seed both fill the tables: give one of them") }
    }

    func run() throws {
        var options = RehearsalOptions()
        options.database = database
        options.allowNonEmpty = allowNonempty
        options.keep = keep
        options.pgBinDirectory = pgBindir
        options.rows = rows
        options.seedFile = seed
        options.from = from
        options.sample = sample
        options.batchSize = batchSize
        options.rollbacks = !noRollbacks
        options.schemaFeatures = schemaFeatures
        // A directory argument (`bellows rehearse plans/`) names where the plans are.
        var plansDirectory: String?
        var references: [String] = []
        for argument in plans {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                plansDirectory = argument
            } else {
                references.append(argument)
            }
        }
        options.plans = references
        let rehearsal = Rehearsal(project: Project(root: project, plansDirectory: plansDirectory), options: options,
                                  reporter: Terminal.reporter(verbose: verbose, json: format == .json))
        let report: RehearsalReport
        do {
            report = try rehearsal.run()
        } catch let error as BellowsError {
            renderError(error, format: format, command: Self.self)
            throw ExitCode(ExitStatus.code(for: error))
        }
        if format == .json {
            JSONOutput.print(Self.documentName, report.passed ? .ok : .refused, RehearseBody(report),
                             error: report.passed ? nil : ErrorReport(kind: "violations", message: report.violations.joined(separator: "\n")))
        } else {
            Terminal.out("")
            Terminal.out(Terminal.bold(pad("PLAN", 34) + pad("PHASE", 24) + pad("TIME", 8) + pad("ROWS", 8) + pad("TRAFFIC", 9) + pad("FAILED", 8) + pad("LONGEST", 9) + "RESULT"))
            for step in report.steps {
                Terminal.out(pad(step.plan, 34) + pad(step.phase, 24) + pad(String(format: "%.1fs", step.seconds), 8)
                    + pad(step.rows.map(String.init) ?? "", 8) + pad(String(step.traffic.statements), 9)
                    + pad(String(step.traffic.failures.count), 8) + pad(String(format: "%.0fms", step.traffic.longestMilliseconds), 9)
                    + (step.outcome == "ok" ? Terminal.green(step.outcome) : Terminal.red(step.outcome)))
            }
            Terminal.out("")
            for warning in report.warnings { Terminal.out(Terminal.bold("⚠ ") + warning) }
            if report.passed {
                Terminal.out(Terminal.green("✓ rehearsal passed: no row lost, every value as up/down define, schema as intended, rollbacks exact"))
            } else {
                Terminal.out(Terminal.red("✗ rehearsal found \(report.violations.count) violation(s):"))
                for violation in report.violations { Terminal.out("  - " + violation) }
            }
            if let kept = report.keptConninfo { Terminal.out("cluster kept: psql \"\(kept)\"") }
        }
        if !report.passed { throw ExitCode(ExitStatus.refused) }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}

/// `rehearse`'s JSON fields: the report's table, its violations, the rows seeded.
struct RehearseBody: Encodable {
    struct Step: Encodable {
        var plan: String
        var phase: String
        var seconds: Double
        var rows: Int?
        var trafficStatements: Int
        var trafficFailures: Int
        var longestTrafficMs: Double
        /// `ok`, or what went wrong.
        var outcome: String

        enum CodingKeys: String, CodingKey {
            case plan, phase, seconds, rows, outcome
            case trafficStatements = "traffic_statements", trafficFailures = "traffic_failures", longestTrafficMs = "longest_traffic_ms"
        }
    }

    var passed: Bool
    var violations: [String]
    /// What could not be proven but is no violation (a migration without rollback file).
    var warnings: [String]
    var steps: [Step]
    /// Rows per table the scratch database started with.
    var seededRows: [String: Int]
    /// Each migration applied, with its tests.
    var migrations: [MigrationRehearsalJSON]
    /// With --keep: how to connect to the cluster.
    var kept: String?

    enum CodingKeys: String, CodingKey {
        case passed, violations, warnings, steps, kept, migrations
        case seededRows = "seeded_rows"
    }

    init(_ report: RehearsalReport) {
        passed = report.passed
        violations = report.violations
        warnings = report.warnings
        steps = report.steps.map {
            Step(plan: $0.plan, phase: $0.phase, seconds: $0.seconds, rows: $0.rows, trafficStatements: $0.traffic.statements,
                 trafficFailures: $0.traffic.failures.count, longestTrafficMs: $0.traffic.longestMilliseconds, outcome: $0.outcome)
        }
        seededRows = report.tableRows
        migrations = report.migrations.map(MigrationRehearsalJSON.init)
        kept = report.keptConninfo
    }
}
