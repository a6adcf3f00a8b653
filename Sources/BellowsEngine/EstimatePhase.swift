import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// How `bellows estimate` samples (docs/estimate.md).
public struct EstimateOptions: Sendable {
    /// Take the sample (expand's transaction and a few backfill batches, rolled back).
    public var sample = true
    /// The batches stop once they took this long (at least `minimumBatches` run).
    public var sampleMilliseconds = 1000
    public var minimumBatches = 3
    public var maximumBatches = 20
    /// The sample's `lock_timeout`: it never queues long behind the application.
    public var lockTimeoutMilliseconds = 1000
    /// The sample's `statement_timeout`, for each of its statements.
    public var statementTimeoutMilliseconds = 10_000
    /// Record the estimate in `bellows.events` (`status` compares the backfill with it).
    public var record = true

    public init() {}
}

extension Engine {
    /// Estimates each phase of a plan on the database (docs/estimate.md): reads the table's rows
    /// and sizes, runs expand's transaction and a few backfill batches in a transaction that is
    /// always rolled back (under short lock and statement timeouts), reads earlier backfills on
    /// the table from `bellows.events`, and models duration, growth, WAL and locks
    /// (``EstimateModel``, pure). Records the estimate as an `estimate` event of the plan, which
    /// `status` compares a running or finished backfill with; changes nothing else.
    public func estimate(plan reference: String, options estimateOptions: EstimateOptions = EstimateOptions()) throws -> EstimateReport {
        try requireProject(for: reference)
        let connection = try connect()
        defer { connection.close() }
        let plan = try resolvePlan(reference, connection: connection)
        do {
            return try estimate(plan, options: estimateOptions, connection: connection)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The plan's table is not in the database: located at the plan's `table:`.
    func unknownTable(_ plan: Plan, connection: Connection) -> BellowsError {
        let database = (try? connection.query("SELECT current_database() AS d").first?.string("d")) ?? "database"
        return BellowsError.planInvalid([Finding(
            at: plan.table.location, severity: .error, rule: "plan-unknown-table",
            message: "table \(plan.table.value) does not exist in database \"\(database)\" (SQLSTATE 42P01 undefined_table): "
                + "estimate measures the table the plan changes; hint: connect to the database the plan will run on (-d), or create the table first (migrate)")])
    }

    func estimate(_ plan: Plan, options estimateOptions: EstimateOptions, connection: Connection) throws -> EstimateReport {
        let state = try StateStore.plan(connection, id: plan.id)
        if plan.moveColumns != nil { return try estimateMove(plan, state: state, options: estimateOptions, connection: connection) }
        let before = EstimateModel.beforeExpand(state)
        var notes: [String] = []

        // The transition as expand would compile it now, or as expand stored it.
        var transition: Transition
        if before {
            guard let table = try CatalogReader.table(connection, plan.table.value) else { throw unknownTable(plan, connection: connection) }
            var compiled = TransitionCompiler.compile(plan, table: table)
            compiled.transition?.notNullShape = NotNullShape.preferred(serverVersion: connection.serverVersion)
            guard var compiledTransition = compiled.transition, !compiled.findings.contains(where: { $0.severity == .error }) else {
                throw BellowsError.planInvalid(compiled.findings)
            }
            compiledTransition.searchPath = try sessionSearchPath(connection)
            compiledTransition.typesWithoutEquality = try CatalogReader.typesWithoutEquality(connection, compiledTransition.comparedTypes)
            compiledTransition.volatileFunctions = try CatalogReader.volatileFunctions(connection, compiledTransition.calledFunctions)
            transition = compiledTransition
        } else {
            transition = try self.transition(for: plan, connection: connection, storedOnly: true)
        }
        let sql = PhaseSQL(transition)
        let table = transition.quotedTable

        let (rows, size) = try rowsAndSize(table, options: estimateOptions, notes: &notes, connection: connection)

        // The sample, then earlier backfills on the table.
        var backfill = EstimateReport.BackfillEstimate(needed: sql.needsBackfill, rows: rows.used, source: "none")
        if !sql.needsBackfill {
            notes.append("the plan has no backfill (no new column computed from the old ones)")
        } else if let skipped = EstimateModel.sampleSkipped(state, sample: estimateOptions.sample, rows: rows.used) {
            backfill.sampleSkipped = skipped
        } else if let sequences = Self.sequenceCalls(transition) {
            // A sequence is not rolled back with the sample's transaction (hostile-h 11).
            backfill.sampleSkipped = "the backfill calls \(sequences): a sample would draw from the sequence, which no rollback gives back"
        } else {
            do {
                // The first batch's rows, from the table's bytes per row: a batch of wide rows
                // (large documents in TOAST) would hold expand's lock long (hostile-h 20).
                let firstBatchRows = EstimateModel.firstSampleBatchRows(heapBytes: size.heapBytes, toastBytes: size.toastBytes, rows: rows.used)
                backfill.sample = try sample(plan, transition: transition, options: estimateOptions, firstBatchRows: firstBatchRows, connection: connection)
            } catch let failed as SampleFailed {
                sampleFailed(failed, table: table, options: estimateOptions, backfill: &backfill, notes: &notes, connection: connection)
            }
        }
        backfill.history = try earlierBackfills(on: transition.tableName, connection: connection)

        let settings = plan.backfill
        let vacuumEvery = EstimateModel.vacuumEvery(rows: rows.used, settings: settings)
        var timings = EstimateModel.Timings()
        var growth = EstimateReport.Growth(vacuumEveryRows: vacuumEvery, model: "not measured: no sample")
        var wal = EstimateReport.WAL(model: "not measured: no sample")
        if let sample = backfill.sample, let rate = EstimateModel.rowsPerSecond(sample.batches) {
            let batchSize = options.batchSize ?? EstimateModel.settledBatchSize(sample.batches, settings: settings)
            backfill.source = "sample"
            backfill.rowsPerSecond = rate
            backfill.seconds = EstimateModel.backfillSeconds(rows: rows.used, rowsPerSecond: rate, batchSize: batchSize)
            growth = EstimateModel.growth(rows: rows.used, sample: sample, heapBytes: size.heapBytes, vacuumEvery: vacuumEvery)
            wal = EstimateModel.wal(rows: rows.used, sample: sample)
            timings = EstimateModel.Timings(expandTransactionMilliseconds: sample.expandMilliseconds,
                                            batchMilliseconds: Double(batchSize) / rate * 1000,
                                            batches: Int((Double(rows.used) / Double(max(1, batchSize))).rounded(.up)))
        } else if sql.needsBackfill, let history = backfill.history, history.rowsPerSecond > 0 {
            backfill.source = "history"
            backfill.rowsPerSecond = history.rowsPerSecond
            backfill.seconds = Double(rows.used) / history.rowsPerSecond
        } else if !sql.needsBackfill {
            backfill.seconds = 0
        }
        if backfill.sample != nil, !sql.addedIndexes.isEmpty {
            notes.append("the sample does not build the \(sql.addedIndexes.count) index\(sql.addedIndexes.count == 1 ? "" : "es") expand builds CONCURRENTLY, "
                         + "which every backfill batch then updates too: expect the backfill to be slower than estimated")
        }
        if backfill.sample != nil {
            notes.append("the sample held expand's lock on \(table) while it ran (its held_ms), and its rolled-back row versions stay in the table until VACUUM")
            notes.append("the duration is the backfill at full speed, its VACUUM runs modelled as a tenth of its batches' time: pacing while the application is active, pauses and throttles add to it")
        }
        // The archive of what contract drops (issue 24): every row's key and dropped columns.
        let archiveSQL = ArchiveSQL(transition)
        var archive = archiveSQL.size(off: ArchiveSQL.off(plan: plan, projectDefault: archiveSettings.archive), statistics: nil)
        if archive?.enabled == true {
            let statistics = try ArchiveSizing.statistics(connection, table: table, columns: archiveSQL.key.map(\.name) + archiveSQL.columns.map(\.name),
                                                          rows: (rows.used, rows.exact != nil))
            archive = archiveSQL.size(off: nil, statistics: statistics, withoutStatistics: "table \(table) is gone")
        }
        let report = EstimateReport(
            plan: plan.id, table: plan.table.value.description, phase: (state?.phase ?? .planned).rawValue,
            database: try databaseLine(connection),
            rows: rows, size: size, backfill: backfill, growth: growth, wal: wal,
            locks: EstimateModel.locks(sql, timings: timings), archiveBytes: archive?.bytes, archive: archive, notes: notes)
        if estimateOptions.record {
            try StateStore.record(connection, plan: plan.id, actor: options.actor, command: "estimate", from: state?.phase, to: nil, outcome: "succeeded",
                                  details: Self.estimateDetails(report))
        }
        return report
    }

    /// The sequence functions the backfill's expressions call (`nextval`, `setval`), as
    /// "nextval()"; nil when none.
    static func sequenceCalls(_ transition: Transition) -> String? {
        let called = transition.allTargets.compactMap(\.up).reduce(into: Set<String>()) { $0.formUnion(Repeatability.calledFunctions(in: $1)) }
        let sequences = called.intersection(["nextval", "setval"]).sorted()
        return sequences.isEmpty ? nil : sequences.map { "\($0)()" }.joined(separator: " and ")
    }

    /// The table's rows (counted when small) and sizes.
    func rowsAndSize(_ table: String, options estimateOptions: EstimateOptions, notes: inout [String],
                     connection: Connection) throws -> (EstimateReport.Rows, EstimateReport.Sizes) {
        guard let sizes = try connection.query("""
            SELECT c.reltuples::bigint AS estimated, pg_relation_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes,
                   coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [table]).first else {
            throw BellowsError.usage("table \(table) is gone")
        }
        var rows = EstimateReport.Rows(estimated: max(0, try sizes.int("estimated")), exact: nil)
        let size = EstimateReport.Sizes(heapBytes: try sizes.int("heap"), indexBytes: try sizes.int("indexes"), toastBytes: try sizes.int("toast"))
        if try sizes.int("estimated") < 0 { notes.append("\(table) was never analysed: its row estimate is 0 until ANALYZE") }
        if rows.estimated < EstimateModel.exactCountBelow && size.heapBytes < 256 << 20 {
            try connection.withTransaction {
                try connection.execute("SET LOCAL statement_timeout = '\(estimateOptions.statementTimeoutMilliseconds)ms'")
                rows.exact = try connection.query("SELECT count(*) AS n FROM \(table)").first?.int("n")
            }
        }
        return (rows, size)
    }

    /// Why the sample was not taken, from its failure: in `backfill.sampleSkipped`, and a note
    /// when expand or the backfill would fail the same way.
    func sampleFailed(_ failed: SampleFailed, table: String, options estimateOptions: EstimateOptions,
                      backfill: inout EstimateReport.BackfillEstimate, notes: inout [String], connection: Connection) {
        let error = failed.error
        backfill.failedSampleHeldMilliseconds = failed.heldMilliseconds
        if failed.heldMilliseconds != nil, let lock = failed.lock {
            notes.append("the sample held \(lock) on \(table) until its rollback (failed_sample_held_ms): the application's queries on it waited as long")
        }
        if error.sqlState == .lockNotAvailable {
            let blockers = LockSafety.blockers(connection, table: table)
            backfill.sampleSkipped = "expand's lock on \(table) was not granted within \(estimateOptions.lockTimeoutMilliseconds) ms (lock_timeout)"
                + (blockers.isEmpty ? "" : "; held by " + blockers.map(\.description).joined(separator: "; "))
        } else if error.sqlState == .queryCanceled && !self.options.shouldStop() {
            backfill.sampleSkipped = "\(failed.stage) ran into the sample's statement_timeout (\(failed.timeoutMilliseconds ?? estimateOptions.statementTimeoutMilliseconds) ms)"
            if let rows = failed.batchRows {
                notes.append("a first batch of \(rows) rows did not finish within the sample's time: the backfill's first batches will be halved until one fits its statement_timeout")
            }
        } else {
            backfill.sampleSkipped = "the sample failed in \(failed.stage): \(error.sqlState.map { "ERROR \($0.rawValue): " } ?? "")\(error.message)"
            notes.append("the sample failed in \(failed.stage) (\(error.sqlState?.rawValue ?? "no SQLSTATE"): \(error.message)): "
                         + (failed.stage == SampleFailed.expandStage ? "expand" : "the backfill") + " would fail the same way; fix the plan before deploying it")
        }
    }

    /// The report's database line.
    func databaseLine(_ connection: Connection) throws -> String {
        try connection.query("SELECT format('database \"%s\" (PostgreSQL %s)', current_database(), current_setting('server_version')) AS d").first?.string("d") ?? ""
    }

    /// What the `estimate` event keeps: what `status` compares the backfill with.
    static func estimateDetails(_ report: EstimateReport) -> [String: JSONValue] {
        [
            "source": .string(report.backfill.source), "rows": .int(report.backfill.rows),
            "seconds": report.backfill.seconds.map(JSONValue.double) ?? .null,
            "rows_per_second": report.backfill.rowsPerSecond.map(JSONValue.double) ?? .null,
            "wal_bytes": report.wal.bytes.map(JSONValue.int) ?? .null, "heap_growth_bytes": report.growth.heapBytes.map(JSONValue.int) ?? .null,
        ]
    }

    /// Expand's transaction and a few backfill batches, timed, in one transaction that is always
    /// rolled back: the statements are `PhaseSQL`'s, as expand and the backfill run them.
    func sample(_ plan: Plan, transition: Transition, options estimateOptions: EstimateOptions, firstBatchRows: Int? = nil,
                connection: Connection) throws -> EstimateReport.Sample {
        let sql = PhaseSQL(transition)
        let table = transition.quotedTable
        let triggers = try triggersTheBackfillFires(transition, connection: connection)
        try connection.execute("BEGIN")
        defer { _ = try? connection.execute("ROLLBACK") }
        try connection.execute("SET LOCAL lock_timeout = '\(estimateOptions.lockTimeoutMilliseconds)ms'")
        try connection.execute("SET LOCAL statement_timeout = '\(estimateOptions.statementTimeoutMilliseconds)ms'")
        // SET inside the transaction: the rollback undoes it.
        try pinSearchPath(transition, connection: connection)
        var stage = SampleFailed.expandStage
        let lock = !transition.newTargets.isEmpty || transition.needsTrigger
            ? (transition.newTargets.isEmpty ? "SHARE ROW EXCLUSIVE" : "ACCESS EXCLUSIVE") : nil
        var held: Date?
        var progress = SampleProgress()
        do {
            held = Date()
            if let lock { try connection.execute("LOCK TABLE \(table) IN \(lock) MODE") }
            let held = held ?? Date()
            for statement in sql.expandTransaction { try connection.execute(statement.sql) }
            let expandMilliseconds = Date().timeIntervalSince(held) * 1000
            guard let upperBound = try connection.query(sql.backfillUpperBound).first?.stringArray("max_key") else {
                return EstimateReport.Sample(batches: [], expandMilliseconds: expandMilliseconds, walBytes: 0, heapBytes: 0, indexBytes: 0, toastBytes: 0,
                                             heldMilliseconds: Date().timeIntervalSince(held) * 1000)
            }
            stage = "a backfill batch"
            try connection.execute("SELECT set_config('bellows.backfill', $1, true)" + (triggers.replica ? ", set_config('session_replication_role', 'replica', true)" : ""),
                                   [sql.backfillMarker])
            let firstBatch = sql.backfillBatch(first: true), nextBatch = sql.backfillBatch(first: false)
            let walk = try sampleBatches(plan, options: estimateOptions, firstBatchRows: firstBatchRows, held: held, upperBound: upperBound,
                                         relation: table, progress: &progress, connection: connection) { cursor, size in
                Self.sampleBatch(cursor == nil ? firstBatch : nextBatch, after: (cursor ?? []).map { $0 }, size: size, upperBound: upperBound, connection: connection)
            }
            return EstimateReport.Sample(batches: walk.batches, expandMilliseconds: expandMilliseconds, walBytes: walk.walBytes,
                                         heapBytes: walk.heapBytes, indexBytes: walk.indexBytes, toastBytes: walk.toastBytes,
                                         heldMilliseconds: Date().timeIntervalSince(held) * 1000)
        } catch let error as PostgresError {
            // Held from LOCK TABLE's grant; a lock never granted (55P03) was not held.
            let heldFor = error.sqlState == .lockNotAvailable || lock == nil ? nil : held.map { Date().timeIntervalSince($0) * 1000 }
            throw SampleFailed(stage: stage, error: error, heldMilliseconds: heldFor, lock: lock,
                               batchRows: stage == SampleFailed.expandStage ? nil : progress.batchRows, timeoutMilliseconds: progress.timeoutMilliseconds)
        }
    }

    /// How far a sample's batches got: the size of the last one tried and the statement_timeout
    /// it ran under, for a failed sample's report.
    struct SampleProgress {
        var batchRows: Int?
        var timeoutMilliseconds: Int?
    }

    /// What a sample's batches measured: each batch, and the WAL and growth of `relation` they
    /// made, up to the last batch that finished.
    struct SampleWalk {
        var batches: [EstimateReport.SampleBatch] = []
        var walBytes = 0
        var heapBytes = 0
        var indexBytes = 0
        var toastBytes = 0
    }

    /// A sample's keyset batches (a column plan's backfill, a move's copy), under the lock the
    /// sample took at `held`: sized by the backfill's pacer at full speed (the first at most
    /// `firstBatchRows`) until they took `--sample-ms`; each runs in a savepoint under the time
    /// left of twice `--sample-ms` (never the full timeout of each statement), and one cut by it
    /// ends the walk with the batches before it (hostile-h 20). `batch` runs one batch after
    /// `cursor` (nil: the first) and gives the rows it walked and its last key, nil past the end.
    func sampleBatches(_ plan: Plan, options estimateOptions: EstimateOptions, firstBatchRows: Int?, held: Date, upperBound: [String],
                       relation: String, progress: inout SampleProgress, connection: Connection,
                       batch: (_ cursor: [String]?, _ size: Int) -> Result<(scanned: Int, lastKey: [String])?, PostgresError>) throws -> SampleWalk {
        let budget = Double(min(2 * estimateOptions.sampleMilliseconds, estimateOptions.statementTimeoutMilliseconds))
        let start = try Self.relationSizes(relation, connection: connection)
        let lsn = try connection.query("SELECT pg_current_wal_insert_lsn()::text AS l").first?.string("l") ?? "0/0"
        var pacer = BackfillPacer(settings: plan.backfill, pacing: .full, fixedBatchSize: options.batchSize, pauseMilliseconds: 0)
        var walk = SampleWalk()
        var cursor: [String]?
        var spent = 0.0
        while walk.batches.count < estimateOptions.maximumBatches
                && (walk.batches.count < estimateOptions.minimumBatches || spent < Double(estimateOptions.sampleMilliseconds)) {
            if self.options.shouldStop() { break }
            let left = Int(budget - Date().timeIntervalSince(held) * 1000)
            if left < 50 && !walk.batches.isEmpty { break }
            progress.timeoutMilliseconds = max(left, 50)
            try connection.execute("SET LOCAL statement_timeout = '\(max(left, 50))ms'")
            let size = walk.batches.isEmpty ? min(pacer.nextBatchSize, firstBatchRows ?? pacer.nextBatchSize) : pacer.nextBatchSize
            progress.batchRows = size
            let batchStart = Date()
            try connection.execute("SAVEPOINT bellows_sample_batch")
            let outcome = batch(cursor, size)
            if case .failure(let error) = outcome {
                guard error.sqlState == .queryCanceled, !walk.batches.isEmpty, !self.options.shouldStop() else { throw error }
                try connection.execute("ROLLBACK TO SAVEPOINT bellows_sample_batch")
                break
            }
            let milliseconds = Date().timeIntervalSince(batchStart) * 1000
            guard case .success(let done?) = outcome, done.scanned > 0 else { break }
            walk.batches.append(EstimateReport.SampleBatch(rows: done.scanned, milliseconds: milliseconds))
            pacer.batchDone(rows: done.scanned, milliseconds: milliseconds)
            spent += milliseconds
            cursor = done.lastKey
            // What the batches so far wrote, before a next one that may be cut.
            walk.walBytes = try connection.query("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint AS b", [lsn]).first?.int("b") ?? 0
            let end = try Self.relationSizes(relation, connection: connection)
            (walk.heapBytes, walk.indexBytes, walk.toastBytes) = (end.heap - start.heap, end.indexes - start.indexes, end.toast - start.toast)
            if PostgresArray.sameKey(done.lastKey, upperBound) { break }
        }
        return walk
    }

    /// The heap, index and TOAST bytes of `relation` (quoted).
    static func relationSizes(_ relation: String, connection: Connection) throws -> (heap: Int, indexes: Int, toast: Int) {
        let row = try connection.query("""
            SELECT pg_relation_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes,
                   coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, [relation]).first
        return (try row?.int("heap") ?? 0, try row?.int("indexes") ?? 0, try row?.int("toast") ?? 0)
    }

    /// One batch of the sample: the rows it walked and its last key, nil past the end.
    private static func sampleBatch(_ batch: PhaseSQL.BackfillBatch, after: [(any PostgresBindable)?], size: Int, upperBound: [String],
                                    connection: Connection) -> Result<(scanned: Int, lastKey: [String])?, PostgresError> {
        Result { () throws(PostgresError) -> (scanned: Int, lastKey: [String])? in
            guard let row = try connection.query(batch.bound, after + [size] + upperBound.map { $0 }).first else { return nil }
            let lastKey = try row.stringArray("last_key")
            _ = try connection.execute(batch.update, after + lastKey.map { $0 })
            return (try row.int("scanned"), lastKey)
        }
    }

    /// A statement of the sample failed (its transaction rolled back): in which part, and why.
    struct SampleFailed: Error {
        static let expandStage = "expand's transaction"
        var stage: String
        var error: PostgresError
        /// How long the sample held `lock` on the table until it failed.
        var heldMilliseconds: Double? = nil
        var lock: String? = nil
        /// The rows of the batch that failed.
        var batchRows: Int? = nil
        /// The statement_timeout the failed statement ran under, when the sample set its own.
        var timeoutMilliseconds: Int? = nil
    }

    /// The finished backfills of plans on `table` recorded in `bellows.events` (their rows walked
    /// and seconds, the last five), nil when there are none.
    func earlierBackfills(on table: TableName, connection: Connection) throws -> EstimateReport.History? {
        let rows = try connection.query("""
            SELECT e.plan_id, (e.details->>'rows_scanned_this_run')::bigint AS rows, (e.details->>'seconds')::float8 AS seconds
            FROM bellows.events e JOIN bellows.plans p ON p.id = e.plan_id
            WHERE e.command = 'backfill' AND e.outcome = 'succeeded' AND p.table_name IN ($1, $2)
              AND (e.details->>'rows_scanned_this_run')::bigint > 0 AND (e.details->>'seconds')::float8 > 0
              AND NOT coalesce((e.details->>'rescan')::boolean, false)
            ORDER BY e.id DESC LIMIT 5
            """, [table.description, table.name])
        guard !rows.isEmpty else { return nil }
        var plans: [String] = []
        var total = 0
        var seconds = 0.0
        for row in rows {
            let id = try row.string("plan_id")
            if !plans.contains(id) { plans.append(id) }
            total += try row.int("rows")
            seconds += try row.double("seconds")
        }
        return EstimateReport.History(plans: plans, rows: total, seconds: seconds)
    }
}
