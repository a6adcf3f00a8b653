import BellowsSQL
import Foundation

/// What contract keeps of what it destroys (issue 24): the values of every column it drops —
/// the old column of a rename or type change, a dropped column, the sources of a merge —
/// copied into `bellows_archive."<plan id>_<table>"`, keyed by the table's batch key (its
/// primary key, or the unique key the backfill walks).
///
/// How the archive equals the dropped columns at the moment of the drop:
/// 1. `prepare` (one short transaction): the archive table, and an `AFTER INSERT OR UPDATE OR
///    DELETE` row trigger on the table (`ENABLE ALWAYS`) whose every event writes the row of its
///    key as the table then holds it into the archive (`ON CONFLICT … DO UPDATE`; a deleted row leaves a tombstone,
///    `_bellows_gone`). Plain `UPDATE`, not `UPDATE OF`: the dual-write trigger changes the
///    old columns of rows new code writes.
/// 2. `batch` (keyset batches from the first key up to the largest key once the trigger is in
///    place, paced as the backfill): copies each row `ON CONFLICT DO NOTHING`, so a row the
///    trigger wrote meanwhile (newer than the batch's snapshot) is kept as the trigger wrote it.
///    An `INSERT … ON CONFLICT` sees rows committed after its snapshot and waits for ones in
///    progress, so either the trigger's write comes first and the batch's is skipped, or the
///    batch's comes first and the trigger's overwrites it.
/// 3. `proof`, after the batches and before the lock: one scan of the table joined to the
///    archive, which must hold each row's values (a walk that ended short refuses contract).
/// 4. `complete`, inside contract's transaction under its ACCESS EXCLUSIVE lock (no write
///    can happen any more): the trigger and its function dropped, the tombstones deleted
///    (through a partial index: no scan of the archive under the lock), the tombstone column
///    dropped. Nothing under the lock reads the table.
public struct ArchiveSQL: Sendable {
    public static let schema = "bellows_archive"
    /// The tombstone column while the archive is being filled (reserved prefix: no user column).
    public static let goneColumn = "_bellows_gone"

    public let transition: Transition
    /// Dropped columns of a type of the database's own (an enum, a domain, a composite, an
    /// extension's type, an array of one), by name, with that type schema-qualified: kept as
    /// `text`, so that the archive does not depend on the type (a later `DROP TYPE` would fail
    /// on it, or with `CASCADE` empty the archive, hostile-h 13); restore casts back while the
    /// type exists. The engine reads them from the catalog at contract; empty offline.
    public let keptAsText: [String: String]

    /// The settings values kept as text are written under (the trigger's `SET` clauses, the
    /// batches' session) and read back under by restore, whatever the writer's or restorer's:
    /// under `DateStyle = 'SQL, DMY'` a date's text read back under ISO swapped day and month,
    /// a Dublin summer `timestamptz` printed `IST` and came back an hour early, an interval's
    /// signs flipped under `sql_standard` (hostile-n 01, 02). The walks' keys' (`KeysetSQL.textSettings`).
    public static var textSettings: [(name: String, value: String)] { KeysetSQL.textSettings }

    /// The archive table's comment when its text values were written under `textSettings`
    /// (an archive made before has none: restore reads its text under the session's settings).
    public static let textSettingsComment = "bellows: values kept as text are written under DateStyle 'ISO, MDY', IntervalStyle 'postgres', extra_float_digits 1"

    /// The built-in types whose text is a name looked up under the search path: a value of a
    /// type that holds one of them (a domain over it, a composite, an array or a range of one)
    /// is read back under the path it was written under (`restoreCast`).
    public static let nameTypes = ["regclass", "regtype", "regproc", "regprocedure", "regoper", "regoperator",
                                   "regconfig", "regdictionary", "regcollation"]

    /// A function of restore's session (in `pg_temp`) that reads one archived text back into
    /// `type` under the search path the session has while it is made (`SET search_path FROM
    /// CURRENT`: the engine sets the archive's for that transaction alone). Only this cast runs
    /// under that path: restore's own statements stay under the restorer's, so that no function
    /// in a schema of the plan's path stands in for one restore calls (hostile-v 1).
    public static func restoreCast(name: String, type: String) -> String {
        let body = "SELECT $1::\(type)"
        let tag = PhaseSQL.dollarTag(notIn: body)
        return "CREATE OR REPLACE FUNCTION pg_temp.\(SQLQuote.identifier(name))(text) RETURNS \(type) LANGUAGE sql STABLE STRICT "
            + "SET search_path FROM CURRENT AS \(tag)\(body)\(tag)"
    }

    /// Each dropped column's type on the table now, by name (the engine reads them at contract):
    /// the archive keeps that type, not the one expand recorded. A migration that widened
    /// `numeric(10,2)` to `numeric(12,4)` since expand had its values rounded into the archive,
    /// and the proof, comparing under the recorded type too, passed (hostile-o 04). Empty offline.
    public let liveTypes: [String: String]

    /// The type the proof reads a value kept as text back into, by name, where it is not the
    /// kept type: a domain with a constraint (or an array of one) reads back into its base
    /// type, whose text is the same, so that a value its NOT VALID CHECK exempts does not fail
    /// the proof (hostile-q 06). Empty offline.
    public let readBackTypes: [String: String]

    public init(_ transition: Transition, keptAsText: [String: String] = [:], liveTypes: [String: String] = [:],
                readBackTypes: [String: String] = [:]) {
        self.transition = transition
        self.keptAsText = keptAsText
        self.liveTypes = liveTypes
        self.readBackTypes = readBackTypes
    }

    private func q(_ name: String) -> String { SQLQuote.identifier(name) }

    /// Whether contract archives for `plan`: the plan's `archive:` key, else `bellows.yaml`'s
    /// `archive:`, else yes.
    public static func enabled(plan: Plan, projectDefault: Bool?) -> Bool {
        plan.archive?.value ?? projectDefault ?? true
    }

    /// The archive table's name within `bellows_archive`, fitted to 63 bytes.
    public static func tableName(owner: String, table: String) -> String { TransitionNames.fitted("\(owner)_\(table)") }

    public var tableName: String { Self.tableName(owner: transition.plan.id, table: transition.table.name) }
    public var qualifiedTable: String { SQLQuote.qualified(schema: Self.schema, name: tableName) }
    public var triggerName: String { Self.triggerName(planID: transition.plan.id) }
    /// The trigger that keeps a plan's archive up to date while contract copies it. Its `!`
    /// makes it fire before the table's own AFTER triggers (they fire in name order, byte by
    /// byte); its events read the table's row as it is when they fire, so their order no longer
    /// decides what the archive holds (hostile-o 05, hostile-q 01–03).
    public static func triggerName(planID: String) -> String { TransitionNames.fitted(TransitionNames.firstTriggerPrefix + "archive_\(planID)") }
    /// Its name before: a contract killed during its archive by an earlier Bellows left it.
    public static func legacyTriggerName(planID: String) -> String { TransitionNames.transitional("archive_\(planID)") }
    public var legacyTriggerName: String { Self.legacyTriggerName(planID: transition.plan.id) }

    public var functionName: String { TransitionNames.fitted("archive_\(transition.plan.id)") }
    public var qualifiedFunction: String { SQLQuote.qualified(schema: "bellows", name: functionName) }

    /// The columns contract drops, with their types as expand recorded them, in plan order:
    /// what the archive keeps. Empty when contract drops nothing (an added column, a default,
    /// NOT NULL on a column kept in place).
    public var columns: [ColumnInfo] {
        var seen = Set<String>()
        return transition.droppedColumns.compactMap { name in
            guard seen.insert(name).inserted else { return nil }
            var column = transition.table.column(name) ?? ColumnInfo(name: name, type: "text", notNull: false)
            if let live = liveTypes[name] { column.type = live }
            return column
        }
    }

    /// Each kept column's type on the table, in `columns` order (what `bellows.archives` records).
    public var recordedTypes: [String] { columns.map { keptAsText[$0.name] ?? $0.type } }

    /// A kept column's type in the archive: `text` for one of `keptAsText`.
    func archivedType(_ column: ColumnInfo) -> String { keptAsText[column.name] == nil ? column.type : "text" }

    /// A kept column's value as the archive stores it (`prefix` `NEW.` in the trigger).
    func archivedValue(_ column: ColumnInfo, prefix: String = "") -> String {
        prefix + q(column.name) + (keptAsText[column.name] == nil ? "" : "::text")
    }

    /// The archive's key: the table's batch key.
    public var key: [ColumnInfo] { transition.key }

    /// ` COLLATE …` for a key column whose collation is not its type's default.
    func keyCollation(_ column: ColumnInfo) -> String {
        transition.table.details?.columns[column.name]?.collation.map { " COLLATE \($0)" } ?? ""
    }

    /// Whether there is anything to archive.
    public var isEmpty: Bool { columns.isEmpty }

    /// The batches' keyset over the table (the backfill's).
    public var keyset: KeysetSQL { KeysetSQL(table: transition.quotedTable, key: key) }

    private var keyList: String { key.map { q($0.name) }.joined(separator: ", ") }
    private var columnList: String { columns.map { q($0.name) }.joined(separator: ", ") }

    /// The archive table, its tombstone index, and the trigger that keeps it up to date while the
    /// batches run: `prepareTable` then `prepareTrigger`, two short transactions before
    /// contract's. A leftover of an earlier attempt that never committed (an unrecorded archive:
    /// the engine checks; the trigger of a contract killed during its batches, hostile-h 15) is
    /// dropped first.
    public var prepare: [PhaseStatement] { prepareTable + prepareTrigger }

    /// The trigger, in a transaction of its own: `CREATE TRIGGER` blocks the table's writers
    /// until it commits, so nothing slower (the archive table's files) shares that transaction.
    /// The leftover's `DROP TRIGGER IF EXISTS` (ACCESS EXCLUSIVE when there is one) runs only
    /// when the engine finds one.
    public var prepareTrigger: [PhaseStatement] {
        [
            PhaseStatement(.transaction, "the trigger a contract killed during its archive left, when there is one (its function is replaced)",
                           "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "the same, under the name an earlier Bellows gave it",
                           "DROP TRIGGER IF EXISTS \(q(legacyTriggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "every write from now on reaches the archive, before the table's own AFTER triggers",
                           "CREATE TRIGGER \(q(triggerName)) AFTER INSERT OR UPDATE OR DELETE ON \(transition.quotedTable)\n  FOR EACH ROW EXECUTE FUNCTION \(qualifiedFunction)()"),
            PhaseStatement(.transaction, "every write from now on reaches the archive, in every session mode",
                           "ALTER TABLE \(transition.quotedTable) ENABLE ALWAYS TRIGGER \(q(triggerName))"),
        ]
    }

    /// The archive table, its index and the trigger's function: nothing here locks the table.
    public var prepareTable: [PhaseStatement] {
        // The key in its columns' own collations: under a case-insensitive one, a write changing
        // `k1` to `K1` upserted a second archive row beside the stale `k1` (hostile-o 03).
        let definitions = key.map { "\(q($0.name)) \($0.type)\(keyCollation($0)) NOT NULL" } + columns.map { "\(q($0.name)) \(archivedType($0))" }
            + ["\(q(Self.goneColumn)) boolean NOT NULL DEFAULT false", "PRIMARY KEY (\(keyList))"]
        // The key's `=` is found under the plan's search path, as the backfill's: under
        // `pg_catalog` alone a `citext` key compared as text (a scan of the table per event,
        // and a row lost) and an `ltree` key had none (hostile-r 01–03).
        // Each event writes the row of its key as the table holds it now, or a tombstone when
        // there is none: the archive follows the table whatever order the events fire in. With
        // NEW's values, a user AFTER trigger that wrote the row again (hostile-o 05), another
        // row of the same statement (hostile-q 01) or re-inserted a deleted one (hostile-q 03)
        // had its write archived, then overwritten by an older event. (Row security cannot
        // narrow the read: contract runs only where no policy applies to its role, gate
        // `row-security`, and the function's `row_security = off` makes a policy added since an
        // error, not a filter.)
        let setValues = columns.map { "\(q($0.name)) = EXCLUDED.\(q($0.name))" }.joined(separator: ", ")
        func current(_ record: String) -> String {
            let join = key.map { "bellows_t.\(q($0.name)) = \(record).\(q($0.name))" }.joined(separator: " AND ")
            let keys = key.map { "\(record).\(q($0.name))" }.joined(separator: ", ")
            let values = columns.map { archivedValue($0, prefix: "bellows_r.") }.joined(separator: ", ")
            // One row: under a deferrable key the table may hold two for a moment (a new version
            // inserted before the old one is deleted, whose event reads the key again).
            return """
                INSERT INTO \(qualifiedTable) AS bellows_a (\(keyList), \(columnList), \(q(Self.goneColumn)))
                    SELECT \(keys), \(values), bellows_r.bellows_found IS NULL
                    FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
                        SELECT \(columns.map { "bellows_t.\(q($0.name))" }.joined(separator: ", ")), true AS bellows_found
                        FROM \(transition.quotedTable) AS bellows_t WHERE \(join) LIMIT 1) AS bellows_r ON true
                    ON CONFLICT (\(keyList)) DO UPDATE SET \(setValues), \(q(Self.goneColumn)) = EXCLUDED.\(q(Self.goneColumn));
                """
        }
        let newKey = key.map { "NEW.\(q($0.name))" }.joined(separator: ", ")
        let oldKey = key.map { "OLD.\(q($0.name))" }.joined(separator: ", ")
        let body = """
            BEGIN
              IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (\(oldKey)) IS DISTINCT FROM (\(newKey))) THEN
            \(current("OLD").split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
              END IF;
              IF TG_OP <> 'DELETE' THEN
            \(current("NEW").split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
              END IF;
              RETURN NULL;
            END
            """
        let tag = PhaseSQL.dollarTag(notIn: body)
        let textClauses = keptAsText.isEmpty ? "" : Self.textSettings.map { " SET \($0.name) = \(SQLQuote.literal($0.value))" }.joined()
        let comment = keptAsText.isEmpty ? [] : [
            PhaseStatement(.transaction, "values kept as text are written under fixed settings, which restore reads them under",
                           "COMMENT ON TABLE \(qualifiedTable) IS \(SQLQuote.literal(Self.textSettingsComment))"),
        ]
        return [
            PhaseStatement(.transaction, "the archive's schema", "CREATE SCHEMA IF NOT EXISTS \(q(Self.schema))"),
            PhaseStatement(.transaction, "an unrecorded archive a contract that never committed left", "DROP TABLE IF EXISTS \(qualifiedTable)"),
            PhaseStatement(.transaction, "the archive of the columns contract drops, keyed by the table's key",
                           "CREATE TABLE \(qualifiedTable) (\n  " + definitions.joined(separator: ",\n  ") + "\n)"),
        ] + comment + [
            PhaseStatement(.transaction, "the rows deleted while the archive fills, found under contract's lock without a scan",
                           "CREATE INDEX ON \(qualifiedTable) (\(keyList)) WHERE \(q(Self.goneColumn))"),
            PhaseStatement(.transaction, "every write from now on reaches the archive (as the table's owner: writers need no privilege on it)",
                           "CREATE OR REPLACE FUNCTION \(qualifiedFunction)() RETURNS trigger\nLANGUAGE plpgsql SECURITY DEFINER SET search_path = \(PhaseSQL(transition).searchPath) SET row_security = off\(textClauses) AS \(tag)\n\(body)\n\(tag)"),
        ]
    }

    /// One batch's copy, once `keyset.bound` gave its last key: the rows between the cursor and
    /// that key (parameters the cursor's key, omitted when `first`, then the last key's), each
    /// skipped when the trigger already wrote it.
    public func batch(first: Bool) -> String {
        """
        INSERT INTO \(qualifiedTable) (\(keyList), \(columnList))
        SELECT \(keyList), \(columns.map { archivedValue($0) }.joined(separator: ", ")) FROM \(transition.quotedTable)
        WHERE \(keyset.batchRange(first: first))
        ON CONFLICT (\(keyList)) DO NOTHING
        """
    }

    /// The proof, after the batches and before contract's lock, that the archive holds every
    /// row's dropped values: one statement, so one snapshot, in which the trigger and the
    /// batches must have left, for each row of the table, an archive row of its key (not a
    /// tombstone) whose values are identical to the row's (`missing`, `differing`; values kept
    /// as text as `proofJoin` says, run under `textSettings`). From then on the trigger writes
    /// every change into the archive in the writer's own transaction, so what holds here holds
    /// at the drop. Rows the archive has beyond the table (a `TRUNCATE` fires no row trigger)
    /// are harmless: restore joins by key.
    public var proof: String {
        """
        SELECT count(*) FILTER (WHERE \(archivedKey) IS NULL)::bigint AS missing,
               count(*) FILTER (WHERE \(archivedKey) IS NOT NULL)::bigint AS differing
        \(proofJoin)
        """
    }

    /// Up to three keys of rows the proof found wrong, as text (for the refusal).
    public var proofSample: String {
        "SELECT ROW(\(key.map { "bellows_t.\(q($0.name))" }.joined(separator: ", ")))::text AS key\n\(proofJoin)\nLIMIT 3"
    }

    private var archivedKey: String { "bellows_a.\(q(key.first?.name ?? ""))" }

    private var proofJoin: String {
        let join = key.map { "bellows_a.\(q($0.name)) = bellows_t.\(q($0.name))" } + ["NOT bellows_a.\(q(Self.goneColumn))"]
        let stored = columns.filter { keptAsText[$0.name] == nil }
        var differs = stored.isEmpty ? [] : [PhaseSQL.differ(stored.map { "bellows_a.\(q($0.name))" }, stored.map { "bellows_t.\(q($0.name))" },
                                                             types: stored.map(\.type))]
        // A value kept as text: its text, byte by byte, and only where that differs, the archived
        // text read back into its type and printed again. The trigger writes it under settings
        // no one fixes for the writers (a `timestamptz`'s TimeZone, a `bytea`'s bytea_output,
        // its own search_path for a `regclass`), and compared as text alone every row written
        // meanwhile under others differed (hostile-o 01, 02); compared as read-back values, a
        // NaN's bits, a composite made before `ADD ATTRIBUTE` and a compressed one differed, and
        // a domain's NOT VALID CHECK failed the proof (hostile-p 01–03). A row written since
        // passed its domain's checks when it was written.
        for column in columns {
            guard let kept = keptAsText[column.name] else { continue }
            let type = readBackTypes[column.name] ?? kept
            let archived = "bellows_a.\(q(column.name))", live = "bellows_t.\(q(column.name))::text"
            differs.append("""
                CASE WHEN (\(archived) COLLATE "C") IS NOT DISTINCT FROM (\(live) COLLATE "C") THEN false \
                ELSE (\(archived)::\(type)::text COLLATE "C") IS DISTINCT FROM (\(live) COLLATE "C") END
                """)
        }
        return """
            FROM \(transition.quotedTable) AS bellows_t
            LEFT JOIN \(qualifiedTable) AS bellows_a ON \(join.joined(separator: " AND "))
            WHERE \(archivedKey) IS NULL OR \(differs.joined(separator: " OR "))
            """
    }

    /// Inside contract's transaction, under its ACCESS EXCLUSIVE lock: the archive is final.
    public var complete: [PhaseStatement] {
        [
            PhaseStatement(.transaction, "the archive is complete: no write can happen under this lock",
                           "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "the same, under the name an earlier Bellows gave it",
                           "DROP TRIGGER IF EXISTS \(q(legacyTriggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "the archive is complete", "DROP FUNCTION IF EXISTS \(qualifiedFunction)()"),
            PhaseStatement(.transaction, "rows deleted while the archive filled (partial index, no scan)",
                           "DELETE FROM \(qualifiedTable) WHERE \(q(Self.goneColumn))"),
            PhaseStatement(.transaction, "the tombstones' column (catalog only)",
                           "ALTER TABLE \(qualifiedTable) DROP COLUMN \(q(Self.goneColumn))"),
        ]
    }

    /// An archive that will not be completed (contract failed or was refused after the batches,
    /// or the plan is rolled back): the trigger, its function and the unrecorded table go.
    public var abandon: [PhaseStatement] {
        [
            PhaseStatement(.transaction, "the unfinished archive's trigger", "DROP TRIGGER IF EXISTS \(q(triggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "the unfinished archive's trigger", "DROP TRIGGER IF EXISTS \(q(legacyTriggerName)) ON \(transition.quotedTable)"),
            PhaseStatement(.transaction, "the unfinished archive's trigger", "DROP FUNCTION IF EXISTS \(qualifiedFunction)()"),
            PhaseStatement(.transaction, "the unfinished archive", "DROP TABLE IF EXISTS \(qualifiedTable)"),
        ]
    }

    /// The archive's expected size in bytes for `rows` rows, from each column's average width
    /// (`pg_stats.avg_width`, by name; 8 bytes for a column without statistics): a heap tuple
    /// per row (23-byte header, 4-byte line pointer, padded to 8) plus the primary key's
    /// B-tree (16 bytes of entry overhead per row, at its default fill of 90 %), then the
    /// heap at its default fill. What `bellows estimate` reports and `render` names.
    public func expectedBytes(rows: Int, averageWidths: [String: Int]) -> Int {
        Self.expectedBytes(rows: rows, keyWidths: key.map { averageWidths[$0.name] ?? 8 },
                           columnWidths: columns.map { averageWidths[$0.name] ?? 8 })
    }

    public static func expectedBytes(rows: Int, keyWidths: [Int], columnWidths: [Int]) -> Int {
        guard rows > 0 else { return 0 }
        func padded(_ n: Int) -> Int { (n + 7) / 8 * 8 }
        let keyBytes = keyWidths.reduce(0, +)
        let tuple = padded(23 + (keyWidths.count + columnWidths.count + 7) / 8) + padded(keyBytes + columnWidths.reduce(0, +)) + 4
        let index = padded(keyBytes) + 16
        return Int((Double(rows * tuple) / 0.95 + Double(rows * index) / 0.9).rounded(.up))
    }

    /// Why contract keeps no archive for `plan`, in words (nil: it keeps one).
    public static func off(plan: Plan, projectDefault: Bool?) -> String? {
        if let value = plan.archive?.value { return value ? nil : "`archive: false` in the plan" }
        return projectDefault == false ? "`archive: false` in bellows.yaml" : nil
    }

    /// What the archive will take (`bellows estimate`, `render -d`; issue 24), from the table's
    /// statistics (nil: not read, offline render). Nil when contract drops nothing. Each width
    /// is the column's average stored width times its share of non-NULL values (a NULL takes
    /// no bytes); a column without one (not in the table yet, no statistics and no sample)
    /// counts 8 bytes, and the source says so.
    public func size(off: String?, statistics: TableStatistics?, withoutStatistics: String = "not read") -> ArchiveSize? {
        guard !isEmpty else { return nil }
        var size = ArchiveSize(table: qualifiedTable, columns: columns.map(\.name), key: key.map(\.name), enabled: off == nil, off: off)
        guard off == nil else {
            size.source = "archive off (\(off ?? "")): nothing is kept"
            return size
        }
        guard let statistics else {
            size.source = withoutStatistics
            return size
        }
        var widths: [String: Int] = [:]
        var bySource: [String: [String]] = [:]
        var assumed: [String] = []
        for name in key.map(\.name) + columns.map(\.name) where widths[name] == nil {
            guard let width = statistics.widths[name] else {
                widths[name] = 8
                assumed.append(name)
                continue
            }
            widths[name] = Int(width.bytes.rounded())
            let source = width.source == .statistics ? "pg_stats" : "pg_column_size over a sample of \(statistics.sampleRows) row\(statistics.sampleRows == 1 ? "" : "s")"
            bySource[source, default: []].append(name)
        }
        size.rows = statistics.rows
        size.rowsCounted = statistics.rowsCounted
        size.bytes = expectedBytes(rows: statistics.rows, averageWidths: widths)
        var parts = bySource.count == 1 && assumed.isEmpty ? bySource.keys.map { $0 }
            : bySource.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.joined(separator: ", ")))" }
        if !assumed.isEmpty { parts.append("8 bytes assumed for \(assumed.joined(separator: ", ")) (no statistics, no sample)") }
        size.source = (bySource.isEmpty ? "" : "widths from ") + parts.joined(separator: "; ")
        return size
    }
}

/// A column's average stored width in bytes (NULLs counted as 0) and where it came from.
public struct ColumnWidth: Sendable, Hashable {
    public enum Source: String, Sendable, Hashable {
        /// `pg_stats.avg_width × (1 − null_frac)`: the last ANALYZE's.
        case statistics
        /// `avg(pg_column_size(…))` over a sample of rows: the table has no statistics.
        case sample
    }
    public var bytes: Double
    public var source: Source

    public init(bytes: Double, source: Source) {
        self.bytes = bytes
        self.source = source
    }
}

/// What `estimate` and `render -d` read of a table to size its archive: its rows and the
/// average width of its columns.
public struct TableStatistics: Sendable, Hashable {
    public var rows: Int
    /// `count(*)` (a small table), else the planner's `reltuples`.
    public var rowsCounted: Bool
    /// By column name.
    public var widths: [String: ColumnWidth]
    /// Rows of the `pg_column_size` sample (0: none was taken).
    public var sampleRows: Int

    public init(rows: Int, rowsCounted: Bool, widths: [String: ColumnWidth], sampleRows: Int) {
        self.rows = rows
        self.rowsCounted = rowsCounted
        self.widths = widths
        self.sampleRows = sampleRows
    }
}

/// The archive contract will fill (`ArchiveSQL.size`): `estimate`'s and `render`'s `archive`
/// (docs/json.md).
public struct ArchiveSize: Sendable, Codable, Hashable {
    /// `"bellows_archive"."<plan>_<table>"`.
    public var table: String
    /// The columns contract drops and the archive keeps.
    public var columns: [String]
    /// The key the rows are kept by.
    public var key: [String]
    /// False with `archive: false` (`off` says where).
    public var enabled: Bool
    public var off: String?
    /// The rows the archive will hold: every row of the table.
    public var rows: Int?
    public var rowsCounted: Bool?
    /// The archive's heap and primary key (`ArchiveSQL.expectedBytes`); nil when off or not estimated.
    public var bytes: Int?
    /// Where the column widths came from, or why there is no size.
    public var source: String = ""

    public init(table: String, columns: [String], key: [String], enabled: Bool, off: String?) {
        self.table = table
        self.columns = columns
        self.key = key
        self.enabled = enabled
        self.off = off
    }

    enum CodingKeys: String, CodingKey { case table, columns, key, enabled, off, rows, rowsCounted = "rows_counted", bytes, source }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(table, forKey: .table)
        try container.encode(columns, forKey: .columns)
        try container.encode(key, forKey: .key)
        try container.encode(enabled, forKey: .enabled)
        try container.encode(off, forKey: .off)
        try container.encode(rows, forKey: .rows)
        try container.encode(rowsCounted, forKey: .rowsCounted)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(source, forKey: .source)
    }
}

/// `1.5 MB`: bytes in binary units, as the CLI prints sizes.
public enum ByteCount {
    public static func text(_ n: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// `archive_retention:` of `bellows.yaml`: how long an archive is kept before `bellows archive
/// purge --expired` removes it (nothing is ever purged without that command).
public enum ArchiveRetention {
    /// Seconds for `30 days`, `12 hours`, `2 weeks`, `90 minutes` (singular too); nil otherwise.
    public static func parse(_ text: String) -> Int? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let n = Int(parts[0]), n > 0 else { return nil }
        var unit = parts[1].lowercased()
        if unit.hasSuffix("s") { unit.removeLast() }
        switch unit {
        case "minute": return n * 60
        case "hour": return n * 3600
        case "day": return n * 86_400
        case "week": return n * 7 * 86_400
        default: return nil
        }
    }
}
