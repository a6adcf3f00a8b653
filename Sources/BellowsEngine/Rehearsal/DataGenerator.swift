import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Synthetic rows for every table of a scratch database, respecting types, NOT NULL, UNIQUE
/// and foreign keys. Values are SQL expressions of a row number `g`, so the same generator
/// fills tables in bulk (`generate_series`) and makes fresh rows for simulated traffic.
public struct DataGenerator: Sendable {
    public struct Column: Sendable {
        var name: String
        var type: String          // format_type
        var typeName: String      // pg_type.typname
        var typeCategory: String  // pg_type.typcategory
        var isEnum: Bool
        var maxLength: Int?
        var notNull: Bool
        var hasDefault: Bool
        var skip: Bool            // identity, generated, serial
        var unique: Bool
        var foreignKey: (table: String, column: String)?
        /// Which generator variant to use; bumped when a CHECK rejects the first.
        var variant = 0
        /// Where the column's values come from instead of its type (see `ValueDomains`).
        var values: ValueSource? = nil
        /// Whether `values` is the user's (`rehearse: values:`): evidence of what the column
        /// holds, which the rehearsal never replaces by NULL to satisfy a CHECK.
        var hinted = false

        /// Whether the rehearsal may write NULL in it instead of its drawn values, to satisfy a
        /// CHECK across columns (`PlannedCheck`).
        var mayBeNulled: Bool { !notNull && !skip && !hinted }
    }

    /// A foreign key over several columns: the columns take their values together from one
    /// row of the parent (a tuple that exists there), never column by column.
    public struct Reference: Sendable, Hashable {
        var columns: [String]
        var parent: String          // quoted, qualified
        var parentColumns: [String]
    }

    /// A column's values from a plan's hint or the existing rows, instead of its type.
    public enum ValueSource: Sendable, Hashable {
        /// One of the texts in `bellows_rehearsal.domain` row `id`, picked by `g`, cast to the type.
        case domain(Int)
        /// An SQL expression of the row number `g` (bigint).
        case expression(String)

        func sql(type: String, g: String) -> String {
            switch self {
            case .domain(let id):
                return "(SELECT bellows_d.v[1 + ((\(g))::bigint % cardinality(bellows_d.v))::int] FROM \(ValueDomains.table) AS bellows_d WHERE bellows_d.id = \(id))::\(type)"
            case .expression(let text):
                return "(SELECT (\(text))::\(type) FROM (SELECT (\(g))::bigint AS g) AS bellows_h)"
            }
        }
    }

    public struct Table: Sendable {
        public var name: String   // quoted, qualified
        var oid: Int
        var columns: [Column]
        var parents: [String]
        /// Columns of a multi-column unique key: value = position in a mixed-radix walk.
        var compositeUnique: [[String]]
        /// Multi-column foreign keys (the table's, and those a plan adds).
        var references: [Reference] = []
        /// The CHECKs plans will add to the table that the seeded rows must satisfy
        /// (`satisfyPlannedChecks`): those over its columns as the seed has them.
        var plannedChecks: [PlannedCheck] = []

        /// The multi-column foreign key `column` belongs to (the first, if several).
        func reference(of column: String) -> Reference? { references.first { $0.columns.contains(column) } }

        /// The tables this one's foreign keys reference (itself left out).
        var parentNames: [String] {
            Array(Set(columns.compactMap { $0.foreignKey?.table } + references.map(\.parent)).subtracting([name])).sorted()
        }
    }

    public var tables: [Table]
    /// What the seed could not do that the rehearsal's report must say (`satisfyPlannedChecks`).
    private(set) var seedWarnings: [String] = []

    /// Reads the shape of every user table of the database, parents before children.
    /// `uniqueHints` maps a table (`schema.table`, as `format('%I.%I')` prints it) to columns
    /// that must be generated unique although the schema does not say so yet (a plan will).
    /// `values` gives columns their values (see `ValueDomains`).
    static func inspect(_ connection: Connection, uniqueHints: [String: Set<String>] = [:], values: ValueDomains? = nil) throws -> DataGenerator {
        let tableRows = try connection.query("""
            SELECT c.oid::bigint AS oid, format('%I.%I', n.nspname, c.relname) AS name, n.nspname || '.' || c.relname AS plain
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bellows', 'bellows_rehearsal')
              AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
            ORDER BY 2
            """)
        var tables: [Table] = []
        for row in tableRows {
            let oid = try row.int("oid")
            let name = try row.string("name")
            let inspected = try connection.query("""
                SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname, t.typcategory::text AS category,
                       t.typtype = 'e' AS is_enum, a.attnotnull AS not_null, a.atthasdef AS has_default,
                       (a.attidentity <> '' OR a.attgenerated <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)) AS skip,
                       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS max_length,
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
                                 AND (i.indkey[0] = a.attnum
                                      -- a unique index on an expression of this column alone (`lower(email)`)
                                      OR (i.indkey[0] = 0 AND ARRAY(SELECT d.refobjsubid FROM pg_depend d
                                                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                                                                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
                                                                      AND d.refobjsubid > 0) = ARRAY[a.attnum::int]))) AS is_unique,
                       (SELECT format('%I.%I', pn.nspname, pc.relname) || '|' || pa.attname FROM pg_constraint k
                          JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
                          JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                          WHERE k.conrelid = a.attrelid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1) AS fk
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
                """, [oid]).map { r -> Column in
                    let fk = try r.optionalString("fk").map { $0.split(separator: "|", maxSplits: 1).map(String.init) }
                    return Column(name: try r.string("name"), type: try r.string("type"), typeName: try r.string("typname"),
                                  typeCategory: try r.string("category"), isEnum: try r.bool("is_enum"), maxLength: try r.optionalInt("max_length"),
                                  notNull: try r.bool("not_null"), hasDefault: try r.bool("has_default"), skip: try r.bool("skip"),
                                  unique: try r.bool("is_unique"),
                                  foreignKey: fk.flatMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
                }
            let composite = try connection.query("""
                SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
                FROM pg_index i WHERE i.indrelid = $1::bigint::oid AND i.indisunique AND i.indnkeyatts > 1
                """, [oid]).map { try $0.stringArray("columns") }
            let references = try connection.query("""
                SELECT ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS c(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.attnum ORDER BY c.ord) AS columns,
                       format('%I.%I', pn.nspname, pc.relname) AS parent,
                       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS c(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.attnum ORDER BY c.ord) AS parent_columns
                FROM pg_constraint k JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                WHERE k.conrelid = $1::bigint::oid AND k.contype = 'f' AND cardinality(k.conkey) > 1 ORDER BY k.conname
                """, [oid]).map { Reference(columns: try $0.stringArray("columns"), parent: try $0.string("parent"), parentColumns: try $0.stringArray("parent_columns")) }
            // A CHECK that lists a column's values (`kind IN ('a', 'b')`): the column's domain.
            var listed: [String: [String]] = [:]
            for check in try connection.query("""
                SELECT a.attname, pg_get_constraintdef(k.oid) AS definition FROM pg_constraint k
                JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                WHERE k.conrelid = $1::bigint::oid AND k.contype = 'c' AND cardinality(k.conkey) = 1 ORDER BY k.conname
                """, [oid]) {
                let column = try check.string("attname")
                guard let list = CheckValueList.values(in: try check.string("definition"), column: column) else { continue }
                listed[column] = listed[column].map { earlier in earlier.filter(list.contains) } ?? list
            }
            // `uniqueHints` names a table `schema.name` unquoted (a mixed-case one too).
            let hinted = uniqueHints[try row.string("plain")] ?? uniqueHints[name] ?? []
            // The last column of a multi-column key walks the row numbers (its values repeat
            // for every combination of the others, which alone have few).
            let lastOfKey = Set(composite.compactMap(\.last))
            let columns = try inspected.map { column -> Column in
                var column = column
                if hinted.contains(column.name) { column.unique = true }
                if lastOfKey.contains(column.name) && column.foreignKey == nil { column.unique = true }
                if let list = listed[column.name], !list.isEmpty, let values, !column.unique {
                    column.values = .domain(try values.store(list, connection: connection))
                }
                return column
            }
            var table = Table(name: name, oid: oid, columns: columns, parents: [], compositeUnique: composite, references: references)
            table.parents = table.parentNames
            tables.append(values?.apply(to: table) ?? table)
        }
        var generator = DataGenerator(tables: tables)
        generator.orderParentsFirst()
        return generator
    }

    /// Adds a multi-column foreign key a plan will add to `table` (final column names), when
    /// both tables have its columns: the seed then satisfies it.
    mutating func addReference(_ reference: Reference, to table: String) {
        guard let index = tables.firstIndex(where: { $0.name == table }),
              reference.columns.allSatisfy({ name in tables[index].columns.contains { $0.name == name } }),
              let parent = tables.first(where: { $0.name == reference.parent }),
              reference.parentColumns.allSatisfy({ name in parent.columns.contains { $0.name == name } }),
              !tables[index].references.contains(reference) else { return }
        tables[index].references.append(reference)
        tables[index].parents = tables[index].parentNames
        orderParentsFirst()
    }

    /// Tables ordered so that every parent comes before its children (cycles: as they come).
    mutating func orderParentsFirst() {
        var ordered: [Table] = []
        var remaining = tables
        while !remaining.isEmpty {
            let ready = remaining.filter { t in t.parents.allSatisfy { p in ordered.contains { $0.name == p } || !remaining.contains { $0.name == p } } }
            let batch = ready.isEmpty ? [remaining[0]] : ready
            ordered += batch
            remaining.removeAll { t in batch.contains { $0.name == t.name } }
        }
        tables = ordered
    }

    public func table(_ name: String) -> Table? { tables.first { $0.name == name } }

    /// `parentArray(parent, column, orderedBy)`: the SQL expression of an array of the parent's
    /// `column` values, its rows in the order of `orderedBy` (the same order for every column of
    /// a multi-column key, so one index picks one row), rows with a NULL in them left out.
    typealias ParentArray = (_ parent: String, _ column: String, _ orderedBy: [String]) -> String

    /// The SQL value of `column` for row number `g` (an SQL expression), or nil to leave it to its default.
    /// `parentArray` gives the SQL expression of a parent's key array.
    /// `useDefault: false` writes a value where the column has a default (a plan drops it).
    static func expression(_ column: Column, in table: Table, g: String, allowNull: Bool = true, useDefault: Bool = true,
                           parentArray: ParentArray) -> String? {
        if column.skip { return nil }
        // Position of this column in a composite unique key: walk the key space in mixed radix.
        var walk = g
        for key in table.compositeUnique {
            if let index = key.firstIndex(of: column.name), index > 0 {
                let earlier = key[..<index].compactMap { name in table.columns.first { $0.name == name }?.foreignKey }
                if !earlier.isEmpty {
                    walk = "(\(g) / " + earlier.map { "greatest(1, coalesce(array_length(\(parentArray($0.table, $0.column, [$0.column])), 1), 1))" }.joined(separator: " / ") + ")"
                }
            }
        }
        var value: String
        if let reference = table.reference(of: column.name), let position = reference.columns.firstIndex(of: column.name) {
            // One parent row for all the key's columns: the same index into arrays in one order.
            let array = parentArray(reference.parent, reference.parentColumns[position], reference.parentColumns)
            value = "(\(array))[1 + ((\(g)) % greatest(1, coalesce(array_length(\(array), 1), 1)))]"
        } else if let values = column.values {
            value = values.sql(type: column.type, g: g)
        } else if let fk = column.foreignKey {
            let array = parentArray(fk.table, fk.column, [fk.column])
            value = "(\(array))[1 + ((\(walk)) % greatest(1, coalesce(array_length(\(array), 1), 1)))]"
        } else if column.isEnum {
            value = "(enum_range(NULL::\(column.type)))[1 + ((\(g)) % array_length(enum_range(NULL::\(column.type)), 1))]"
        } else if column.hasDefault && useDefault && !column.unique && column.typeCategory != "S" {
            return nil
        } else {
            switch column.typeCategory {
            case "N":
                if column.unique && column.typeName == "int2" {
                    // The writers' row numbers start at 50,000,000: a smallint key keeps the
                    // generator's small numbers and puts the writers' in its upper half.
                    value = "(CASE WHEN (\(g)) < 16384 THEN (\(g)) ELSE 16384 + (\(g)) % 16383 END)::\(column.type)"
                } else {
                    value = column.unique ? "(\(g))::\(column.type)" : "(1 + (\(g)) % 5)::\(column.type)"
                }
            case "B":
                value = "((\(g)) % 3 <> 0)"
            case "D":
                value = "(now() - ((\(g)) % 10000) * interval '1 minute')::\(column.type)"
            case "S":
                value = textExpression(column, g: g)
            case "U" where column.typeName == "uuid":
                value = "md5((\(g))::text)::uuid"
            case "U" where column.typeName == "json" || column.typeName == "jsonb":
                value = "'{}'::\(column.type)"
            case "A" where column.typeName.hasPrefix("_"):
                value = "ARRAY[]::\(column.type)"
            default:
                if column.hasDefault && useDefault { return nil }
                value = "NULL::\(column.type)"
            }
        }
        if !allowNull { return value }
        if !column.notNull && !column.unique && column.foreignKey == nil {
            value = "CASE WHEN (\(g)) % 10 = 7 THEN NULL ELSE \(value) END"
        } else if !column.notNull && column.foreignKey != nil && !table.compositeUnique.contains(where: { $0.contains(column.name) }) {
            value = "CASE WHEN (\(g)) % 5 = 3 THEN NULL ELSE \(value) END"
        }
        return value
    }

    static func textExpression(_ column: Column, g: String) -> String {
        let name = column.name.lowercased()
        var value: String
        switch column.variant {
        case 0:
            if name.contains("email") {
                value = "CASE WHEN (\(g)) % 2 = 0 THEN 'User' ELSE 'user' END || (\(g)) || '@Example.com'"
            } else if name.contains("name") {
                value = "(ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken'])[1 + (\(g)) % 8] || ' ' || (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Thompson'])[1 + ((\(g)) / 8) % 8] || CASE WHEN \(column.unique ? "true" : "false") THEN ' ' || (\(g)) ELSE '' END"
            } else {
                value = "'\(name.filter { $0.isLetter || $0.isNumber }) ' || (\(g))"
            }
        case 1:
            value = "lower(translate(to_hex((\(g)) + 4096), '0123456789', 'ghijklmnop'))"
        default:
            value = "upper(translate(to_hex((\(g)) + 4096), '0123456789', 'GHIJKLMNOP'))"
        }
        if let max = column.maxLength { value = column.unique ? "right(\(value), \(max))" : "left(\(value), \(max))" }
        return value
    }

    /// `INSERT … SELECT` of rows `from…to` into `table` (conflicts on unique keys are skipped).
    func insertSQL(_ table: Table, from: String, to: String) -> String {
        var arrays: [String: String] = [:]
        var joins: [String] = []
        func parentArray(_ parent: String, _ key: String, _ orderedBy: [String]) -> String {
            let cacheKey = ([parent, key] + orderedBy).joined(separator: "|")
            if let alias = arrays[cacheKey] { return alias }
            let alias = "bellows_p\(arrays.count + 1).a"
            arrays[cacheKey] = alias
            let order = orderedBy.map(SQLQuote.identifier).joined(separator: ", ")
            let present = orderedBy.map { "\(SQLQuote.identifier($0)) IS NOT NULL" }.joined(separator: " AND ")
            joins.append("CROSS JOIN (SELECT array_agg(\(SQLQuote.identifier(key)) ORDER BY \(order)) AS a FROM \(parent) WHERE \(present)) AS bellows_p\(arrays.count)")
            return alias
        }
        var names: [String] = []
        var values: [String] = []
        for column in table.columns {
            guard let value = Self.expression(column, in: table, g: "g", parentArray: parentArray) else { continue }
            names.append(SQLQuote.identifier(column.name))
            values.append(value)
        }
        guard !names.isEmpty else { return "INSERT INTO \(table.name) SELECT FROM generate_series(\(from), \(to)) ON CONFLICT DO NOTHING" }
        return "INSERT INTO \(table.name) (\(names.joined(separator: ", ")))\nSELECT \(values.joined(separator: ",\n       "))\nFROM generate_series(\(from)::bigint, \(to)::bigint) AS g \(joins.joined(separator: " "))\nON CONFLICT DO NOTHING"
    }

    /// Fills every table with `rows` rows (fewer where a composite key runs out of combinations).
    /// A column whose values a CHECK rejects gets another variant, then NULL.
    public mutating func fill(_ connection: Connection, rows: Int, report: Reporter) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for index in tables.indices {
            var attempts = 0
            while true {
                let sql = insertSQL(tables[index], from: "1", to: String(rows))
                do {
                    let result = try connection.execute(sql)
                    counts[tables[index].name] = result.affectedRows
                    break
                } catch {
                    attempts += 1
                    let culprit = try culpritColumns(connection, error: error, table: tables[index])
                    guard attempts < 8, !culprit.isEmpty else {
                        report(.info("could not generate rows for \(tables[index].name): \(error.message)"))
                        counts[tables[index].name] = 0
                        break
                    }
                    for name in culprit {
                        guard let c = tables[index].columns.firstIndex(where: { $0.name == name }) else { continue }
                        if tables[index].columns[c].variant < 2 && tables[index].columns[c].typeCategory == "S" {
                            tables[index].columns[c].variant += 1
                        } else {
                            tables[index].columns[c].skip = true  // leave it to its default / NULL
                        }
                    }
                }
            }
            if counts[tables[index].name, default: 0] > 0 {
                let left = satisfyPlannedChecks(connection, table: tables[index], seeded: counts[tables[index].name, default: 0], report: report)
                counts[tables[index].name] = left
            }
            _ = try? connection.execute("ANALYZE \(tables[index].name)")
        }
        return counts
    }

    /// Makes the seeded rows of `table` satisfy the CHECKs plans will add: a plan that adds one
    /// says the rows already do, and values drawn column by column need not (`closed_on >=
    /// opened_on`). A violating row gets NULL in the columns the CHECK reads that the generator
    /// invented (nullable, no `rehearse: values:` hint: `mayBeNulled`); a CHECK that reads no
    /// hinted column has the rows still breaking it removed (their children are not seeded yet).
    /// Rows that break one through values the user gave stay: verify then fails, as it would
    /// on such rows in production. Returns how many rows are left; one table left without rows
    /// is a warning of the rehearsal (`seedWarnings`).
    mutating func satisfyPlannedChecks(_ connection: Connection, table: Table, seeded: Int, report: Reporter) -> Int {
        var left = seeded
        for check in table.plannedChecks {
            guard let condition = check.overExisting else { continue }
            let read = table.columns.filter { check.columns.contains($0.name) }
            let nullable = read.filter { $0.mayBeNulled && !check.planColumns.contains($0.name) }.map(\.name)
            let broken = "NOT (\(condition))"
            var nulled = 0
            if !nullable.isEmpty {
                let sets = nullable.map { "\(SQLQuote.identifier($0)) = NULL" }.joined(separator: ", ")
                do {
                    nulled = try connection.execute("UPDATE \(table.name) SET \(sets) WHERE \(broken)").affectedRows
                } catch {
                    report(.info("seed: NULL in \(nullable.joined(separator: ", ")) of \(table.name) does not satisfy the \(check.label): \(error.message)"))
                }
            }
            if nulled > 0 {
                report(.info("seed: \(nulled) row(s) of \(table.name) broke the \(check.label): NULL written in \(nullable.joined(separator: ", "))"))
            }
            guard !read.contains(where: \.hinted) else { continue }
            do {
                let removed = try connection.execute("DELETE FROM \(table.name) WHERE \(broken)").affectedRows
                left -= removed
                if removed > 0 { report(.info("seed: \(removed) row(s) of \(table.name) broke the \(check.label) and were removed")) }
            } catch {
                report(.info("seed: the rows of \(table.name) that break the \(check.label) cannot be removed: \(error.message)"))
            }
        }
        if left <= 0 && seeded > 0 {
            seedWarnings.append("seed: no row of \(table.name) satisfies the CHECKs plans add (\(table.plannedChecks.map(\.label).joined(separator: "; "))): "
                                + "the rehearsal runs on none; give their columns realistic values with `rehearse: values:` (docs/plans.md)")
        }
        return max(left, 0)
    }

    func culpritColumns(_ connection: Connection, error: PostgresError, table: Table) throws -> [String] {
        if let column = error.column { return [column] }
        guard let constraint = error.constraint else { return [] }
        return try connection.query("""
            SELECT a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
            WHERE k.conrelid = $1::bigint::oid AND k.conname = $2
            """, [table.oid, constraint]).map { try $0.string("attname") }
    }
}
