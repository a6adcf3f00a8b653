import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// `bellows estimate` of a `move_columns` plan (`ColumnMove`, `MoveSQL`): its backfill is a
/// keyset copy of the moved columns into the new table, not an UPDATE of the source, so the
/// sample runs the move's own expand transaction and copy batches (rolled back), the growth is
/// the new table's, and the locks are the move's statements'.
extension Engine {
    func estimateMove(_ plan: Plan, state: PlanState?, options estimateOptions: EstimateOptions, connection: Connection) throws -> EstimateReport {
        let before = EstimateModel.beforeExpand(state)
        var notes: [String] = []

        // The move as expand would compile it now, or as expand stored it.
        var move: ColumnMove
        if before {
            guard let table = try CatalogReader.table(connection, plan.table.value) else { throw unknownTable(plan, connection: connection) }
            let compiled = MoveCompiler.compile(plan, table: table)
            guard var compiledMove = compiled.move, !compiled.findings.contains(where: { $0.severity == .error }) else {
                throw BellowsError.planInvalid(compiled.findings)
            }
            compiledMove.searchPath = try sessionSearchPath(connection)
            compiledMove.typesWithoutEquality = try CatalogReader.typesWithoutEquality(connection, Set(compiledMove.moved.map(\.type)))
            move = compiledMove
        } else {
            move = try columnMove(plan, connection: connection)
        }
        let sql = MoveSQL(move)
        let table = move.quotedSource
        let (rows, size) = try rowsAndSize(table, options: estimateOptions, notes: &notes, connection: connection)

        var backfill = EstimateReport.BackfillEstimate(needed: true, rows: rows.used, source: "none")
        if let skipped = EstimateModel.sampleSkipped(state, sample: estimateOptions.sample, rows: rows.used) {
            backfill.sampleSkipped = skipped
        } else {
            do {
                // The first batch reads at most `sampleBatchBytes` at the table's average row (hostile-h 20).
                let firstBatchRows = EstimateModel.firstSampleBatchRows(heapBytes: size.heapBytes, toastBytes: size.toastBytes, rows: rows.used)
                backfill.sample = try sampleMove(plan, sql: sql, options: estimateOptions, firstBatchRows: firstBatchRows, connection: connection)
            } catch let failed as SampleFailed {
                sampleFailed(failed, table: table, options: estimateOptions, backfill: &backfill, notes: &notes, connection: connection)
            }
        }
        backfill.history = try earlierBackfills(on: plan.table.value, connection: connection)

        // No VACUUM: the copy updates no row of the source (it locks each batch's keys FOR KEY SHARE).
        var timings = EstimateModel.Timings()
        let growthModel = "the new table \(move.targetName): its heap, key index and TOAST per row in the sample, times the rows; the source does not grow"
        var growth = EstimateReport.Growth(vacuumEveryRows: 0, model: "not measured: no sample")
        var wal = EstimateReport.WAL(model: "not measured: no sample")
        if let sample = backfill.sample, let rate = EstimateModel.rowsPerSecond(sample.batches) {
            let batchSize = options.batchSize ?? EstimateModel.settledBatchSize(sample.batches, settings: plan.backfill)
            backfill.source = "sample"
            backfill.rowsPerSecond = rate
            backfill.seconds = EstimateModel.backfillSeconds(rows: rows.used, rowsPerSecond: rate, batchSize: batchSize)
            growth = EstimateModel.growth(rows: rows.used, sample: sample, heapBytes: size.heapBytes, vacuumEvery: 0)
            growth.model = growthModel
            wal = EstimateModel.wal(rows: rows.used, sample: sample)
            timings = EstimateModel.Timings(expandTransactionMilliseconds: sample.expandMilliseconds,
                                            batchMilliseconds: Double(batchSize) / rate * 1000,
                                            batches: Int((Double(rows.used) / Double(max(1, batchSize))).rounded(.up)))
        } else if let history = backfill.history, history.rowsPerSecond > 0 {
            backfill.source = "history"
            backfill.rowsPerSecond = history.rowsPerSecond
            backfill.seconds = Double(rows.used) / history.rowsPerSecond
        }
        notes.append("a move_columns plan: the backfill copies \(move.movedNames.joined(separator: ", ")) of every row into \(move.targetName) in keyset batches "
                     + "(INSERT … ON CONFLICT DO NOTHING, the source's rows locked FOR KEY SHARE), which also writes ROW EXCLUSIVE on \(move.targetName); contract drops the moved columns from the source")
        if backfill.sample != nil {
            notes.append("the sample held expand's locks on \(table) while it ran (its held_ms), and the rows it copied were rolled back")
            notes.append("the duration is the copy at full speed: pacing while the application is active, pauses and throttles add to it")
        }
        // Contract keeps no archive of a move: the moved values live on in the new table.
        let report = EstimateReport(
            plan: plan.id, table: plan.table.value.description, phase: (state?.phase ?? .planned).rawValue, database: try databaseLine(connection),
            rows: rows, size: size, backfill: backfill, growth: growth, wal: wal,
            locks: EstimateModel.locks(sql, timings: timings), archiveBytes: nil, archive: nil, notes: notes)
        if estimateOptions.record {
            try StateStore.record(connection, plan: plan.id, actor: options.actor, command: "estimate", from: state?.phase, to: nil, outcome: "succeeded",
                                  details: Self.estimateDetails(report))
        }
        return report
    }

    /// The move's expand transaction and a few copy batches, timed, in one transaction that is
    /// always rolled back: `MoveSQL`'s statements, as expand and the backfill run them.
    /// Like the column sample, it holds expand's lock (SHARE ROW EXCLUSIVE on the source: its
    /// writes wait) no longer than twice `--sample-ms`: each batch runs under the time left of
    /// that budget, and a batch cut by it ends the sample with the batches before it.
    func sampleMove(_ plan: Plan, sql: MoveSQL, options estimateOptions: EstimateOptions, firstBatchRows: Int,
                    connection: Connection) throws -> EstimateReport.Sample {
        let target = sql.move.quotedTarget
        try connection.execute("BEGIN")
        defer { _ = try? connection.execute("ROLLBACK") }
        try connection.execute("SET LOCAL lock_timeout = '\(estimateOptions.lockTimeoutMilliseconds)ms'")
        try connection.execute("SET LOCAL statement_timeout = '\(estimateOptions.statementTimeoutMilliseconds)ms'")
        var stage = SampleFailed.expandStage
        let held = Date()
        var progress = SampleProgress()
        do {
            for statement in sql.expandTransaction { try connection.execute(statement.sql) }
            let expandMilliseconds = Date().timeIntervalSince(held) * 1000
            guard let upperBound = try connection.query(sql.backfillUpperBound).first?.stringArray("max_key") else {
                return EstimateReport.Sample(batches: [], expandMilliseconds: expandMilliseconds, walBytes: 0, heapBytes: 0, indexBytes: 0, toastBytes: 0,
                                             heldMilliseconds: Date().timeIntervalSince(held) * 1000)
            }
            stage = "a backfill batch"
            try connection.execute("SELECT set_config('bellows.backfill', $1, true)", [sql.marker])
            let firstBatch = sql.backfillBatch(first: true), nextBatch = sql.backfillBatch(first: false)
            let walk = try sampleBatches(plan, options: estimateOptions, firstBatchRows: firstBatchRows, held: held, upperBound: upperBound,
                                         relation: target, progress: &progress, connection: connection) { cursor, size in
                let parameters: [(any PostgresBindable)?] = (cursor ?? []).map { $0 } + upperBound.map { $0 } + [size]
                return Result { () throws(PostgresError) -> (scanned: Int, lastKey: [String])? in
                    guard let row = try connection.query(cursor == nil ? firstBatch : nextBatch, parameters).first,
                          let last = try row.raw("last_key").map({ PostgresArray.parse($0).map { $0 ?? "" } }) else { return nil }
                    return (try row.int("scanned"), last)
                }
            }
            return EstimateReport.Sample(batches: walk.batches, expandMilliseconds: expandMilliseconds, walBytes: walk.walBytes,
                                         heapBytes: walk.heapBytes, indexBytes: walk.indexBytes, toastBytes: walk.toastBytes,
                                         heldMilliseconds: Date().timeIntervalSince(held) * 1000)
        } catch let error as PostgresError {
            // Held from the first statement of expand's transaction; a lock never granted (55P03) was not held.
            let heldFor = error.sqlState == .lockNotAvailable ? nil : Date().timeIntervalSince(held) * 1000
            throw SampleFailed(stage: stage, error: error, heldMilliseconds: heldFor, lock: heldFor == nil ? nil : "SHARE ROW EXCLUSIVE",
                               batchRows: stage == SampleFailed.expandStage ? nil : progress.batchRows, timeoutMilliseconds: progress.timeoutMilliseconds)
        }
    }
}
