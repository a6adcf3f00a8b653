import BellowsPlan
import BellowsSQL
import Foundation

/// What `bellows estimate PLAN` reports (docs/estimate.md): per phase, the table's rows and
/// size, the backfill's expected duration, the table's growth and WAL volume, and the locks each
/// phase takes with their expected hold. Measured by `Engine.estimate`, modelled by the pure
/// functions of ``EstimateModel``.
public struct EstimateReport: Sendable, Codable, Hashable {
    public var plan: String
    /// The table the plan changes, as the plan names it.
    public var table: String
    /// The plan's phase on the database (`planned` when it has no state there).
    public var phase: String
    /// `database "app" (PostgreSQL 15.18)`.
    public var database: String
    public var rows: Rows
    public var size: Sizes
    public var backfill: BackfillEstimate
    public var growth: Growth
    public var wal: WAL
    public var locks: [LockHold]
    /// What the archive of dropped data (issue 24, fourth bullet: contract keeps what it drops)
    /// will take, in bytes (`archive.bytes`); nil when contract drops nothing or archives nothing.
    public var archiveBytes: Int?
    /// The archive contract will fill: its table, columns, rows, size and where the widths came
    /// from, or why it is off; nil when contract drops no column.
    public var archive: ArchiveSize?
    /// What the figures leave out, in words.
    public var notes: [String]

    public struct Rows: Sendable, Codable, Hashable {
        /// The planner's estimate (`pg_class.reltuples`; 0 for a table never analysed).
        public var estimated: Int
        /// `count(*)`, taken when the estimate is under ``EstimateModel/exactCountBelow`` rows.
        public var exact: Int?
        /// The figure the model uses: exact when counted, else estimated.
        public var used: Int { exact ?? estimated }

        enum CodingKeys: String, CodingKey { case estimated, exact }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(estimated, forKey: .estimated)
            try container.encode(exact, forKey: .exact)
        }
    }

    public struct Sizes: Sendable, Codable, Hashable {
        /// The main fork (`pg_relation_size`).
        public var heapBytes: Int
        /// Every index of the table (`pg_indexes_size`).
        public var indexBytes: Int
        /// The TOAST table and its index.
        public var toastBytes: Int

        enum CodingKeys: String, CodingKey {
            case heapBytes = "heap_bytes", indexBytes = "index_bytes", toastBytes = "toast_bytes"
        }
    }

    /// The sample: expand's transaction and a few backfill batches in one transaction that is
    /// always rolled back.
    public struct Sample: Sendable, Codable, Hashable {
        /// Each batch: rows walked and milliseconds (its two statements).
        public var batches: [SampleBatch]
        /// Expand's transaction (lock, new columns, trigger…) in milliseconds, under its lock.
        public var expandMilliseconds: Double
        /// WAL written by the batches (`pg_current_wal_insert_lsn()` before and after).
        public var walBytes: Int
        /// What the batches added to the heap, the indexes and TOAST.
        public var heapBytes: Int
        public var indexBytes: Int
        public var toastBytes: Int
        /// How long the sample held expand's lock, in milliseconds (expand and the batches).
        public var heldMilliseconds: Double

        public var rows: Int { batches.reduce(0) { $0 + $1.rows } }

        enum CodingKeys: String, CodingKey {
            case batches, expandMilliseconds = "expand_ms", walBytes = "wal_bytes", heapBytes = "heap_bytes",
                 indexBytes = "index_bytes", toastBytes = "toast_bytes", heldMilliseconds = "held_ms"
        }
    }

    public struct SampleBatch: Sendable, Codable, Hashable {
        public var rows: Int
        public var milliseconds: Double

        public init(rows: Int, milliseconds: Double) {
            self.rows = rows
            self.milliseconds = milliseconds
        }

        enum CodingKeys: String, CodingKey { case rows, milliseconds = "ms" }
    }

    /// Earlier backfills on the same table, recorded in `bellows.events`.
    public struct History: Sendable, Codable, Hashable {
        /// The plans whose finished backfills were read, newest first.
        public var plans: [String]
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }

        enum CodingKeys: String, CodingKey { case plans, rows, seconds }
    }

    public struct BackfillEstimate: Sendable, Codable, Hashable {
        /// Whether the plan has a backfill at all (a drop or a plain add has none).
        public var needed: Bool
        /// Rows the walk will pass: every row up to the largest key when it starts.
        public var rows: Int
        /// `sample`, `history`, or `none` (no figure).
        public var source: String
        public var seconds: Double?
        public var rowsPerSecond: Double?
        public var sample: Sample?
        /// Why no sample was taken, when none was.
        public var sampleSkipped: String?
        /// How long a sample that failed held expand's lock before its rollback (nil when it
        /// took none): the application waited as long.
        public var failedSampleHeldMilliseconds: Double?
        public var history: History?

        enum CodingKeys: String, CodingKey {
            case needed, rows, source, seconds, rowsPerSecond = "rows_per_second", sample, sampleSkipped = "sample_skipped",
                 failedSampleHeldMilliseconds = "failed_sample_held_ms", history
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(needed, forKey: .needed)
            try container.encode(rows, forKey: .rows)
            try container.encode(source, forKey: .source)
            try container.encode(seconds, forKey: .seconds)
            try container.encode(rowsPerSecond, forKey: .rowsPerSecond)
            try container.encode(sample, forKey: .sample)
            try container.encode(sampleSkipped, forKey: .sampleSkipped)
            try container.encode(failedSampleHeldMilliseconds, forKey: .failedSampleHeldMilliseconds)
            try container.encode(history, forKey: .history)
        }
    }

    public struct Growth: Sendable, Codable, Hashable {
        /// Bytes the heap grows by if nothing gave space back: one new row version per row.
        public var heapBytesWithoutVacuum: Int?
        /// Bytes the heap grows by with the backfill's periodic VACUUM reusing the old versions' space.
        public var heapBytes: Int?
        public var indexBytes: Int?
        public var toastBytes: Int?
        /// The backfill's VACUUM interval in rows (`backfill.vacuum_every_rows`; 0: none).
        public var vacuumEveryRows: Int
        public var model: String

        enum CodingKeys: String, CodingKey {
            case heapBytesWithoutVacuum = "heap_bytes_without_vacuum", heapBytes = "heap_bytes", indexBytes = "index_bytes",
                 toastBytes = "toast_bytes", vacuumEveryRows = "vacuum_every_rows", model
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(heapBytesWithoutVacuum, forKey: .heapBytesWithoutVacuum)
            try container.encode(heapBytes, forKey: .heapBytes)
            try container.encode(indexBytes, forKey: .indexBytes)
            try container.encode(toastBytes, forKey: .toastBytes)
            try container.encode(vacuumEveryRows, forKey: .vacuumEveryRows)
            try container.encode(model, forKey: .model)
        }
    }

    public struct WAL: Sendable, Codable, Hashable {
        public var bytes: Int?
        public var bytesPerRow: Double?
        public var model: String

        enum CodingKeys: String, CodingKey { case bytes, bytesPerRow = "bytes_per_row", model }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(bytesPerRow, forKey: .bytesPerRow)
            try container.encode(model, forKey: .model)
        }
    }

    enum CodingKeys: String, CodingKey {
        case plan, table, phase, database, rows, size, backfill, growth, wal, locks, notes
        case archiveBytes = "archive_bytes", archive
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plan, forKey: .plan)
        try container.encode(table, forKey: .table)
        try container.encode(phase, forKey: .phase)
        try container.encode(database, forKey: .database)
        try container.encode(rows, forKey: .rows)
        try container.encode(size, forKey: .size)
        try container.encode(backfill, forKey: .backfill)
        try container.encode(growth, forKey: .growth)
        try container.encode(wal, forKey: .wal)
        try container.encode(locks, forKey: .locks)
        try container.encode(archiveBytes, forKey: .archiveBytes)
        try container.encode(archive, forKey: .archive)
        try container.encode(notes, forKey: .notes)
    }
}

/// One lock a phase takes: its mode, on what, which statements, and how long it is expected to
/// be held. Derived from the statements the phase renders (``EstimateModel/locks(_:table:timings:)``).
public struct LockHold: Sendable, Codable, Hashable {
    public var phase: String
    /// `ACCESS EXCLUSIVE`, `SHARE UPDATE EXCLUSIVE`, …
    public var mode: String
    /// The relation, as the statement names it.
    public var relation: String
    /// The purposes of the statements that take it (those of one transaction together).
    public var statements: [String]
    /// Held until the phase's transaction commits (true), or for one statement outside any transaction block.
    public var transaction: Bool
    /// The expected hold in milliseconds, when there is a measurement to base it on.
    public var holdMilliseconds: Double?
    /// How the hold was estimated, or what it depends on.
    public var hold: String

    enum CodingKeys: String, CodingKey {
        case phase, mode, relation, statements, transaction, holdMilliseconds = "hold_ms", hold
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(phase, forKey: .phase)
        try container.encode(mode, forKey: .mode)
        try container.encode(relation, forKey: .relation)
        try container.encode(statements, forKey: .statements)
        try container.encode(transaction, forKey: .transaction)
        try container.encode(holdMilliseconds, forKey: .holdMilliseconds)
        try container.encode(hold, forKey: .hold)
    }

    /// Blocks the application's reads (ACCESS EXCLUSIVE) or writes (SHARE and stronger).
    public var blocks: String {
        switch EstimateModel.strength(mode) {
        case 7: return "reads and writes"
        case 4...6: return "writes"
        default: return "no reads or writes"
        }
    }
}

/// The pure model of `bellows estimate`: extrapolation from the sample, growth, and the locks
/// of each phase from its rendered statements. No I/O.
public enum EstimateModel {
    /// A table whose planner estimate is under this many rows is counted exactly.
    public static let exactCountBelow = 200_000

    /// The bytes (heap and TOAST, at the table's average) the sample's first batch reads at
    /// most: the pacer's first batch of wide rows would hold expand's lock for seconds.
    public static let sampleBatchBytes = 8 << 20

    /// The sample's first batch in rows: `sampleBatchBytes` at the table's average row (heap and
    /// TOAST), at least one (hostile-h 20).
    public static func firstSampleBatchRows(heapBytes: Int, toastBytes: Int, rows: Int) -> Int {
        max(1, sampleBatchBytes / max(1, (heapBytes + toastBytes) / max(1, rows)))
    }

    /// Whether the plan is estimated as before expand; an interrupted expand (its transaction
    /// committed, its index builds not) has its columns and trigger already, and is estimated
    /// from the shape it stored.
    static func beforeExpand(_ state: PlanState?) -> Bool {
        let phase = state?.phase ?? .planned
        return (phase == .planned || phase == .rolledBack) && !(state?.expanding ?? false)
    }

    /// Why the sample is not taken, for the reasons every kind of plan shares; nil to take it.
    static func sampleSkipped(_ state: PlanState?, sample: Bool, rows: Int) -> String? {
        if !beforeExpand(state) {
            return "the plan is \(state?.expanding == true ? "being expanded" : (state?.phase ?? .planned).rawValue): the sample runs expand's transaction, so it is taken only before expand"
        }
        if !sample { return "--no-sample" }
        if rows == 0 { return "the table is empty" }
        return nil
    }

    // MARK: duration

    /// Rows per second of the sample's batches. The first batch is left out when there are
    /// others: it plans the statements and reads cold pages for the first time, which the
    /// backfill's thousands of batches amortise. Nil without a measured batch.
    public static func rowsPerSecond(_ batches: [EstimateReport.SampleBatch]) -> Double? {
        let measured = batches.count > 1 ? Array(batches.dropFirst()) : batches
        let rows = measured.reduce(0) { $0 + $1.rows }
        let milliseconds = measured.reduce(0.0) { $0 + $1.milliseconds }
        guard rows > 0, milliseconds > 0 else { return nil }
        return Double(rows) / (milliseconds / 1000)
    }

    /// The backfill's VACUUM interval: `Engine.vacuumEveryRows`, the backfill's own.
    public static func vacuumEvery(rows: Int, settings: BackfillSettings) -> Int {
        Engine.vacuumEveryRows(settings, estimate: rows)
    }

    /// Seconds for `rows` at `rate`, plus what the real backfill adds to the sample's batches:
    /// a commit, the saved cursor and the pacer's reads per batch (`perBatchMilliseconds` each,
    /// batches of `batchSize` rows). Its VACUUM runs add nothing: they run beside the batches on
    /// a session of their own (BackgroundVacuum), none after the last batch.
    public static func backfillSeconds(rows: Int, rowsPerSecond rate: Double, batchSize: Int, perBatchMilliseconds: Double = 3) -> Double {
        guard rows > 0, rate > 0 else { return 0 }
        let batches = (Double(rows) / Double(max(1, batchSize))).rounded(.up)
        return Double(rows) / rate + batches * perBatchMilliseconds / 1000
    }

    /// The batch size the backfill settles at: the pacer's size after the sample's batches.
    public static func settledBatchSize(_ batches: [EstimateReport.SampleBatch], settings: BackfillSettings) -> Int {
        guard let rate = rowsPerSecond(batches) else { return settings.batchSize }
        let size = rate * Double(settings.targetBatchMilliseconds) / 1000
        return Int(min(Double(BackfillPacer.maximumBatchSize), max(Double(BackfillPacer.minimumBatchSize), size)))
    }

    // MARK: growth and WAL

    /// The table's growth: what the sample's rows added to the heap, indexes and TOAST, per row,
    /// times the rows. A copying change writes one new version of every row; without VACUUM the
    /// heap grows by all of them. The backfill's VACUUM every `vacuumEvery` rows frees the old
    /// versions of the rows updated before it, whose space the next batches reuse: the heap
    /// grows by the first interval's new versions, then only by what a new version is larger
    /// than the old one. Indexes grow by one entry per row and index (VACUUM runs without index
    /// cleanup), TOAST by the new out-of-line values.
    public static func growth(rows: Int, sample: EstimateReport.Sample, heapBytes: Int, vacuumEvery: Int) -> EstimateReport.Growth {
        let model = "per row as in the sample (its new row versions), times the rows; the backfill's VACUUM every \(vacuumEvery) rows lets later batches reuse the old versions' space"
        let sampled = sample.rows
        guard sampled > 0, rows > 0 else {
            return EstimateReport.Growth(heapBytesWithoutVacuum: 0, heapBytes: 0, indexBytes: 0, toastBytes: 0, vacuumEveryRows: vacuumEvery, model: model)
        }
        let perRow = Double(sample.heapBytes) / Double(sampled)
        let oldPerRow = Double(heapBytes) / Double(rows)
        let without = perRow * Double(rows)
        let with: Double
        if vacuumEvery > 0 && vacuumEvery < rows {
            with = perRow * Double(vacuumEvery) + max(0, perRow - oldPerRow) * Double(rows - vacuumEvery)
        } else {
            with = without
        }
        return EstimateReport.Growth(
            heapBytesWithoutVacuum: Int(without.rounded()), heapBytes: Int(with.rounded()),
            indexBytes: Int((Double(sample.indexBytes) / Double(sampled) * Double(rows)).rounded()),
            toastBytes: Int((Double(sample.toastBytes) / Double(sampled) * Double(rows)).rounded()),
            vacuumEveryRows: vacuumEvery, model: model)
    }

    /// WAL for the whole backfill: the sample's bytes per row times the rows.
    public static func wal(rows: Int, sample: EstimateReport.Sample) -> EstimateReport.WAL {
        let model = "WAL the sample's batches wrote (pg_current_wal_insert_lsn() before and after), per row, times the rows; "
            + "includes the full-page images of pages first written after a checkpoint, and whatever other sessions wrote meanwhile"
        guard sample.rows > 0 else { return EstimateReport.WAL(bytes: 0, bytesPerRow: nil, model: model) }
        let perRow = Double(sample.walBytes) / Double(sample.rows)
        return EstimateReport.WAL(bytes: Int((perRow * Double(rows)).rounded()), bytesPerRow: perRow, model: model)
    }

    // MARK: locks

    static let modes = ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"]

    /// 0 (ACCESS SHARE) … 7 (ACCESS EXCLUSIVE); -1 for an unknown mode.
    public static func strength(_ mode: String) -> Int { modes.firstIndex(of: mode) ?? -1 }

    /// The table-level lock one statement takes, and on which relation; nil for a statement
    /// that locks no table (a function, a schema, a setting). PostgreSQL's documented modes
    /// ("Explicit Locking"), for the statement forms `PhaseSQL` renders.
    public static func lock(of sql: String) -> (mode: String, relation: String)? {
        let words = sql.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        let upper = words.map { $0.uppercased() }
        func after(_ sequence: [String]) -> String? {
            guard sequence.count <= upper.count else { return nil }
            for start in 0...(upper.count - sequence.count) where Array(upper[start..<start + sequence.count]) == sequence {
                return start + sequence.count < words.count ? words[start + sequence.count] : nil
            }
            return nil
        }
        let text = sql.uppercased()
        switch (upper.first ?? "", upper.count > 1 ? upper[1] : "") {
        case ("LOCK", _):
            guard let relation = after(["TABLE"]) ?? (upper.count > 1 ? words[1] : nil) else { return nil }
            let mode = modes.sorted { $0.count > $1.count }.first { text.contains(" IN \($0) MODE") } ?? "ACCESS EXCLUSIVE"
            return (mode, relation)
        case ("ALTER", "TABLE"):
            guard let relation = after(["ALTER", "TABLE"]) else { return nil }
            let clauses = text.components(separatedBy: ",\n")
            let weaker: [(String, String)] = [("VALIDATE CONSTRAINT", "SHARE UPDATE EXCLUSIVE"), ("ENABLE ALWAYS TRIGGER", "SHARE ROW EXCLUSIVE"),
                                              ("ENABLE TRIGGER", "SHARE ROW EXCLUSIVE"), ("DISABLE TRIGGER", "SHARE ROW EXCLUSIVE"),
                                              ("SET STATISTICS", "SHARE UPDATE EXCLUSIVE")]
            var strongest = -1
            for clause in clauses {
                let mode: String
                if let match = weaker.first(where: { clause.contains($0.0) }) { mode = match.1 }
                else if clause.contains("FOREIGN KEY") && clause.contains("NOT VALID") && !clause.contains("ADD COLUMN") { mode = "SHARE ROW EXCLUSIVE" }
                else { mode = "ACCESS EXCLUSIVE" }
                strongest = max(strongest, strength(mode))
            }
            return (modes[max(0, strongest)], relation)
        case ("CREATE", "TRIGGER"), ("CREATE", "CONSTRAINT"):
            return after(["ON"]).map { ("SHARE ROW EXCLUSIVE", $0) }
        case ("DROP", "TRIGGER"):
            return after(["ON"]).map { ("ACCESS EXCLUSIVE", $0) }
        case ("CREATE", "INDEX"), ("CREATE", "UNIQUE"):
            return after(["ON"]).map { (text.contains(" CONCURRENTLY ") ? "SHARE UPDATE EXCLUSIVE" : "SHARE", $0) }
        case ("DROP", "INDEX"):
            return words.last.map { (text.contains(" CONCURRENTLY ") ? "SHARE UPDATE EXCLUSIVE" : "ACCESS EXCLUSIVE", $0) }
        case ("ALTER", "INDEX"):
            return (after(["EXISTS"]) ?? (words.count > 2 ? words[2] : nil)).map { ("SHARE UPDATE EXCLUSIVE", $0) }
        case ("UPDATE", _):
            return words.count > 1 ? ("ROW EXCLUSIVE", words[1]) : nil
        case ("COMMENT", _):
            return nil
        case ("SELECT", _), ("WITH", _), ("CREATE", "VIEW"):
            // The first FROM that names a relation (not `IS DISTINCT FROM (…)`, `substring(… FROM …)`).
            // A view being created reads the table's definition under ACCESS SHARE (the new
            // view itself is locked too, but nobody else can use it before the commit).
            let relation = upper.indices.dropLast().first { upper[$0] == "FROM" && !words[$0 + 1].hasPrefix("(") && !upper[$0 - 1].hasSuffix("DISTINCT") }
            // A read that locks its rows (a move's batch: FOR KEY SHARE) takes ROW SHARE.
            let locksRows = [" FOR KEY SHARE", " FOR SHARE", " FOR UPDATE", " FOR NO KEY UPDATE"].contains { text.contains($0) }
            return relation.map { (locksRows ? "ROW SHARE" : "ACCESS SHARE", words[$0 + 1]) }
        case ("DROP", "TABLE"):
            return words.last.map { ("ACCESS EXCLUSIVE", $0.hasSuffix(";") ? String($0.dropLast()) : $0) }
        case ("DROP", "VIEW"):
            // Its own ACCESS EXCLUSIVE, none on the tables it reads.
            return words.last.map { ("ACCESS EXCLUSIVE", $0.hasSuffix(";") ? String($0.dropLast()) : $0) }
        case ("DROP", "SCHEMA"):
            // A versioned schema's view (`_bellows_…`), CASCADE: ACCESS EXCLUSIVE on the views in it, none on the table.
            guard let schema = upper.last == "CASCADE" && words.count >= 2 ? words[words.count - 2] : nil else { return nil }
            return ("ACCESS EXCLUSIVE", schema + ".*")
        case ("ALTER", "SEQUENCE"):
            // RENAME takes ACCESS EXCLUSIVE (nextval waits); OWNED BY and AS, SHARE ROW EXCLUSIVE.
            guard upper.count > 2 else { return nil }
            let relation = upper[2] == "IF" && words.count > 4 ? words[4] : words[2]
            return (upper.contains("RENAME") ? "ACCESS EXCLUSIVE" : "SHARE ROW EXCLUSIVE", relation)
        default:
            return nil
        }
    }

    /// What the estimate measured, for the hold times.
    public struct Timings: Sendable, Hashable {
        /// Expand's transaction in the sample (its DDL under its lock).
        public var expandTransactionMilliseconds: Double?
        /// A backfill batch at the settled size.
        public var batchMilliseconds: Double?
        public var batches: Int?
        public init(expandTransactionMilliseconds: Double? = nil, batchMilliseconds: Double? = nil, batches: Int? = nil) {
            self.expandTransactionMilliseconds = expandTransactionMilliseconds
            self.batchMilliseconds = batchMilliseconds
            self.batches = batches
        }
    }

    /// The locks of every phase, from the statements `sql` renders for it: consecutive
    /// statements of a phase's transaction together (held to its commit, at the strongest mode
    /// on each relation), each statement outside a transaction block alone. Pure.
    public static func locks(_ sql: PhaseSQL, timings: Timings) -> [LockHold] {
        let schemas = VersionSchemas(sql.transition)
        let versionView = sql.transition.plan.versionedSchemas
            ? Dictionary(SchemaVersion.allCases.map { (SQLQuote.identifier(schemas.schema($0)) + ".*", schemas.qualifiedView($0)) }, uniquingKeysWith: { a, _ in a })
            : [:]
        return locks(statements: { sql.statements(for: $0) }, versionView: versionView, timings: timings)
    }

    /// The locks of every phase of a `move_columns` plan, from the statements `MoveSQL` renders.
    public static func locks(_ sql: MoveSQL, timings: Timings) -> [LockHold] {
        locks(statements: { sql.statements(for: $0) }, versionView: [:], timings: timings)
    }

    /// `versionView`: each versioned schema (`"schema".*`, as `lock(of:)` names a `DROP SCHEMA`'s
    /// relation) the plan made, and its view.
    static func locks(statements statementsOf: (PhaseCommand) -> [PhaseStatement], versionView: [String: String], timings: Timings) -> [LockHold] {
        var holds: [LockHold] = []
        for command in PhaseCommand.allCases {
            var statements = statementsOf(command)
            if command == .verify { statements = statements.map { PhaseStatement(.standalone, $0.purpose, $0.sql) } }
            var index = 0
            while index < statements.count {
                var group = [statements[index]]
                if statements[index].mode == .transaction && command != .verify {
                    while index + group.count < statements.count, statements[index + group.count].mode == .transaction {
                        group.append(statements[index + group.count])
                    }
                }
                index += group.count
                var byRelation: [(relation: String, mode: String, purposes: [String])] = []
                for statement in group {
                    guard var (mode, relation) = lock(of: statement.sql) else { continue }
                    if statement.sql.uppercased().hasPrefix("DROP SCHEMA") {
                        // Rollback drops the versioned schemas whether or not the plan made them:
                        // only those it made hold a view (of the table's name) to lock.
                        guard let view = versionView[relation] else { continue }
                        relation = view
                    }
                    if let at = byRelation.firstIndex(where: { $0.relation == relation }) {
                        if strength(mode) > strength(byRelation[at].mode) { byRelation[at].mode = mode }
                        if !byRelation[at].purposes.contains(statement.purpose) { byRelation[at].purposes.append(statement.purpose) }
                    } else {
                        byRelation.append((relation, mode, [statement.purpose]))
                    }
                }
                let inTransaction = group.first?.mode == .transaction && command != .verify
                for entry in byRelation {
                    let (milliseconds, how) = hold(command, mode: entry.mode, transaction: inTransaction, sql: group.map(\.sql), timings: timings)
                    holds.append(LockHold(phase: command.rawValue, mode: entry.mode, relation: entry.relation, statements: entry.purposes,
                                          transaction: inTransaction, holdMilliseconds: milliseconds, hold: how))
                }
            }
        }
        return holds
    }

    static func hold(_ command: PhaseCommand, mode: String, transaction: Bool, sql: [String], timings: Timings) -> (Double?, String) {
        let ddl = timings.expandTransactionMilliseconds
        switch command {
        case .expand where transaction:
            return (ddl, ddl == nil ? "catalog changes only; not measured (no sample)"
                         : "measured: expand's transaction in the sample; add the writability proof's few row writes")
        case .backfill:
            let each = timings.batchMilliseconds
            let count = timings.batches.map { ", about \($0) batches" } ?? ""
            return (each, "each batch, committed with its cursor\(count); row locks on the batch's rows only")
        case .contract where transaction, .rollback where transaction:
            return (ddl, ddl == nil ? "catalog changes only (no table scan); not measured (no sample)"
                         : "catalog changes only, like expand's: its transaction's time in the sample, as a proxy; add the writability proof's few row writes")
        default:
            if sql.contains(where: { $0.uppercased().contains("CREATE") && $0.uppercased().contains("INDEX") }) {
                return (nil, "the index build: a scan and sort of the table; writes go on (CONCURRENTLY)")
            }
            if sql.contains(where: { $0.uppercased().contains("VALIDATE CONSTRAINT") }) {
                return (nil, "a scan of the table; writes go on")
            }
            if sql.contains(where: { $0.uppercased().hasPrefix("DROP INDEX") }) {
                return (nil, "waits for the transactions using the index; writes go on")
            }
            if command == .verify { return (nil, "one scan of the table; writes go on") }
            return (nil, "not measured")
        }
    }
}

/// A plan's backfill against its latest estimate (`status`; docs/estimate.md): the estimate
/// `bellows estimate` recorded, and the rate of the running backfill run, or of the last finished
/// one. Built by ``compare(estimate:running:finished:)`` (pure).
public struct EstimateComparison: Sendable, Hashable, Codable {
    /// When the estimate was made (UTC, as the audit trail prints it).
    public var estimatedAt: String
    /// `sample`, `history` or `none`.
    public var source: String
    public var estimatedRows: Int
    public var estimatedSeconds: Double?
    public var estimatedRowsPerSecond: Double?
    /// `running` (the backfill's current or interrupted run), `finished` (its last run), `not started`.
    public var backfill: String
    /// The run's rows per second so far (running) or over the run (finished).
    public var rowsPerSecond: Double?
    /// Rows still to do at that rate (running only), in seconds.
    public var etaSeconds: Double?
    /// The backfill's time over the estimate's for the same rows (the estimate's rate over the
    /// run's): 1.2 means 20 % slower than estimated. Nil without both rates.
    public var ratio: Double?

    enum CodingKeys: String, CodingKey {
        case estimatedAt = "estimated_at", source, estimatedRows = "estimated_rows", estimatedSeconds = "estimated_seconds",
             estimatedRowsPerSecond = "estimated_rows_per_second", backfill, rowsPerSecond = "rows_per_second", etaSeconds = "eta_seconds", ratio
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(estimatedAt, forKey: .estimatedAt)
        try container.encode(source, forKey: .source)
        try container.encode(estimatedRows, forKey: .estimatedRows)
        try container.encode(estimatedSeconds, forKey: .estimatedSeconds)
        try container.encode(estimatedRowsPerSecond, forKey: .estimatedRowsPerSecond)
        try container.encode(backfill, forKey: .backfill)
        try container.encode(rowsPerSecond, forKey: .rowsPerSecond)
        try container.encode(etaSeconds, forKey: .etaSeconds)
        try container.encode(ratio, forKey: .ratio)
    }

    /// What the estimate recorded.
    public struct Recorded: Sendable, Hashable {
        public var at: String
        public var source: String
        public var rows: Int
        public var seconds: Double?
        public var rowsPerSecond: Double?
        public init(at: String, source: String, rows: Int, seconds: Double?, rowsPerSecond: Double?) {
            self.at = at
            self.source = source
            self.rows = rows
            self.seconds = seconds
            self.rowsPerSecond = rowsPerSecond
        }
    }

    /// A backfill run: rows done in it and seconds it took (so far); `done` the plan's rows
    /// updated in all runs (for the ETA).
    public struct Run: Sendable, Hashable {
        public var rows: Int
        public var seconds: Double
        public var done: Int
        public init(rows: Int, seconds: Double, done: Int = 0) {
            self.rows = rows
            self.seconds = seconds
            self.done = done
        }
        var rate: Double? { seconds > 0 && rows > 0 ? Double(rows) / seconds : nil }
    }

    public static func compare(estimate: Recorded, running: Run?, finished: Run?) -> EstimateComparison {
        var comparison = EstimateComparison(estimatedAt: estimate.at, source: estimate.source, estimatedRows: estimate.rows,
                                            estimatedSeconds: estimate.seconds, estimatedRowsPerSecond: estimate.rowsPerSecond, backfill: "not started")
        let run: Run?
        if let running {
            comparison.backfill = "running"
            run = running
            if let rate = running.rate { comparison.etaSeconds = Double(max(0, estimate.rows - running.done)) / rate }
        } else if let finished {
            comparison.backfill = "finished"
            run = finished
        } else {
            run = nil
        }
        comparison.rowsPerSecond = run?.rate
        if let rate = run?.rate, let estimated = estimate.rowsPerSecond, estimated > 0 {
            comparison.ratio = estimated / rate
        }
        return comparison
    }
}
