import BellowsSQL

/// Keyset batches over a table's key, shared by every walk of a table in batches: the
/// backfill (`PhaseSQL.backfillBatch`), contract's archive of the columns it drops
/// (`ArchiveSQL`) and `bellows archive restore`. Each batch finds its last key with `bound`,
/// then works on the rows between the cursor and that key (`range`).
public struct KeysetSQL: Sendable, Hashable {
    /// The table, quoted.
    public var table: String
    /// The key, each column with its type.
    public var key: [ColumnInfo]

    public init(table: String, key: [ColumnInfo]) {
        self.table = table
        self.key = key
    }

    private func q(_ name: String) -> String { SQLQuote.identifier(name) }
    var aliases: [String] { key.indices.map { "bellows_k\($0 + 1)" } }
    private func row(_ values: [String]) -> String { "(" + values.joined(separator: ", ") + ")" }

    /// The settings under which a value's text reads back as the same value: ISO dates with
    /// numeric offsets, PostgreSQL's interval style, exact floats. The walks read their keys
    /// under them (`KeyTextSettings` in the engine), the archive writes values kept as text.
    public static let textSettings: [(name: String, value: String)] = [
        ("DateStyle", "ISO, MDY"), ("IntervalStyle", "postgres"), ("extra_float_digits", "1"),
    ]

    /// A key column's value as text that reads back as the same value whatever the session's
    /// settings. A float's own text follows `extra_float_digits`, and under a plan that kept 0
    /// it was rounded: the walk's end read back below the largest key, whose row was never
    /// walked (hostile-l 02), and a batch holding one such row read the same rounded key
    /// forever (hostile-m 01, a domain over `double precision`). `to_char` writes 17
    /// significant digits of a double precision and 9 of a real, which read back exactly, and
    /// no setting changes it (its `.` is always a point).
    ///
    /// A timestamp's text follows `DateStyle` and, with a time zone, `TimeZone`: under `SQL`
    /// in Europe/Dublin a summer key printed `… IST` and read back as Israel's time (hostile-m
    /// 03). Moves read their batches' keys under the session's settings (their copy evaluates
    /// CHECKs under them), and a cursor is read back by a later run under other ones. So a
    /// timestamp's text is ISO 8601 with its era, and a `timestamptz`'s is in UTC with a
    /// numeric offset: PostgreSQL reads `2026-07-13 09:00:00.000000 AD +00` the same under
    /// every `DateStyle` and `TimeZone`.
    public static func exactText(_ value: String, column: ColumnInfo) -> String {
        let type = column.baseType ?? column.type
        let plain = column.baseType == nil ? value : "\(value)::\(type)"
        let pattern: String
        switch type {
        case "double precision": pattern = "9.9999999999999999EEEE"
        case "real": pattern = "9.99999999EEEE"
        default:
            guard type.hasPrefix("timestamp") else { return "\(value)::text" }
            let instant = "YYYY-MM-DD HH24:MI:SS.US BC"
            if type.hasSuffix("with time zone") {
                return "CASE WHEN isfinite(\(plain)) THEN to_char(\(plain) AT TIME ZONE 'UTC', '\(instant)') || ' +00' ELSE \(plain)::text END"
            }
            if type.hasSuffix("without time zone") || type == "timestamp" {
                return "CASE WHEN isfinite(\(plain)) THEN to_char(\(plain), '\(instant)') ELSE \(plain)::text END"
            }
            return "\(value)::text"
        }
        return "CASE WHEN \(plain) IN ('NaN', 'Infinity', '-Infinity') THEN \(plain)::text ELSE btrim(to_char(\(plain), '\(pattern)')) END"
    }

    /// The key as parameters `$from…`, cast to the key's types.
    public func parameters(from: Int) -> [String] { key.enumerated().map { "$\(from + $0.offset)::\($0.element.type)" } }

    /// The largest key of the table, as `max_key` (text[]); no row when the table is empty.
    public var upperBound: String {
        let select = "ARRAY[" + key.map { Self.exactText(q($0.name), column: $0) }.joined(separator: ", ") + "]"
        let descending = key.map { "\(q($0.name)) DESC" }.joined(separator: ", ")
        return "SELECT \(select) AS max_key FROM \(table) ORDER BY \(descending) LIMIT 1"
    }

    /// `upperBound`, with `found`: whether its text reads back as a key of the table, in the
    /// same snapshot (a row deleted meanwhile is still seen, hostile-n 06). A walk whose end is
    /// not a key would end somewhere else.
    public var checkedUpperBound: String {
        let readBack = key.enumerated().map { "\(q($0.element.name)) = bellows_m.max_key[\($0.offset + 1)]::\($0.element.type)" }
        return "SELECT bellows_m.max_key, EXISTS (SELECT 1 FROM \(table) WHERE " + readBack.joined(separator: " AND ")
            + ") AS found FROM (\(upperBound)) AS bellows_m"
    }

    /// The rows after the cursor (parameters `$1…$n`, none when `first`) up to `upper`;
    /// composite keys also bound their leading column, which the planner estimates as a range
    /// (a row comparison alone it estimates as a third of the table). `qualifier` prefixes the
    /// key's columns (`bellows_a.`) where another table is in scope.
    public func range(first: Bool, upTo upper: [String], qualifier: String = "") -> String {
        let keyList = key.map { qualifier + q($0.name) }.joined(separator: ", ")
        let cursor = first ? nil : parameters(from: 1)
        var conditions = (cursor.map { ["(\(keyList)) > \(row($0))"] } ?? []) + ["(\(keyList)) <= \(row(upper))"]
        if key.count > 1 {
            let leading = qualifier + q(key[0].name)
            if let cursor { conditions.append("\(leading) >= \(cursor[0])") }
            conditions.append("\(leading) <= \(upper[0])")
        }
        return conditions.joined(separator: " AND ")
    }

    /// The rows of one batch, once `bound` gave its last key: parameters the cursor's key
    /// values (omitted when `first`), then the last key's.
    public func batchRange(first: Bool, qualifier: String = "") -> String {
        range(first: first, upTo: parameters(from: first ? 1 : key.count + 1), qualifier: qualifier)
    }

    /// Finds a batch's last key by walking the key's index from the cursor up to the walk's
    /// upper bound: the batch size-th key, or the last key up to the bound when fewer remain.
    /// Parameters: the cursor's key values as text (`$1…$n`, omitted when `first`), then the
    /// batch size, then the upper bound's key values. Returns one row, `scanned` and
    /// `last_key` (text[]), or none when no row is left between the cursor and the bound.
    /// Both bounds reach the planner as values, so it estimates the batch as the range it is
    /// (docs/benchmarks.md).
    public func bound(first: Bool) -> String {
        let keyList = key.map { q($0.name) }.joined(separator: ", ")
        let select = zip(key, aliases).map { "\(q($0.name)) AS \($1)" }.joined(separator: ", ")
        let limit = first ? "$1" : "$\(key.count + 1)"
        let descending = key.map { "\(q($0.name)) DESC" }.joined(separator: ", ")
        let lastKey = "ARRAY[" + zip(aliases, key).map { Self.exactText($0, column: $1) }.joined(separator: ", ") + "]"
        let walk = " WHERE " + range(first: first, upTo: parameters(from: first ? 2 : key.count + 2))
        return """
            WITH bellows_bound AS MATERIALIZED (
              (SELECT \(select), \(limit)::bigint AS bellows_scanned FROM \(table)\(walk)
                ORDER BY \(keyList) OFFSET \(limit)::bigint - 1 LIMIT 1)
              UNION ALL
              (SELECT \(select), NULL::bigint FROM \(table)\(walk) ORDER BY \(descending) LIMIT 1)
              LIMIT 1
            )
            SELECT coalesce(bellows_scanned, (SELECT count(*) FROM \(table) WHERE \(range(first: first, upTo: aliases.map { "bellows_bound.\($0)" })))) AS scanned,
                   \(lastKey) AS last_key
            FROM bellows_bound
            """
    }
}
