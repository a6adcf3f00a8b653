import BellowsPlan
import PGClient

/// Reads table shapes from `pg_catalog`. NOT NULL is a column property on every version:
/// PostgreSQL 18 also records it as a named constraint (`contype = 'n'`), which is read as the
/// column's `notNull` (false while the constraint is NOT VALID) and not listed among the
/// constraints, so a table reads the same on 15, 16 and 18 and as the offline catalog models it.
public enum CatalogReader {
    public static func table(_ connection: Connection, _ name: TableName) throws -> TableInfo? {
        let oidRows = try connection.query("""
            SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')
            """, [name.quoted])
        guard let row = oidRows.first else { return nil }
        let oid = try row.int("oid")
        let columns = try connection.query("""
            SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                   a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint n WHERE n.conrelid = a.attrelid AND n.contype = 'n'
                                                AND n.conkey[1] = a.attnum AND NOT n.convalidated) AS not_null,
                   pg_get_expr(d.adbin, d.adrelid) AS default_expression
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [oid]).map { r in
                ColumnInfo(name: try r.string("name"), type: try r.string("type"), notNull: try r.bool("not_null"),
                           defaultExpression: try r.optionalString("default_expression"))
            }
        let indexes = try connection.query("""
            SELECT ic.relname AS name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
                   EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS is_constraint,
                   (am.amname = 'btree' AND i.indpred IS NULL AND i.indexprs IS NULL) AS is_plain,
                   ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = $1::bigint::oid ORDER BY ic.relname
            """, [oid]).map { r in
                IndexInfo(name: try r.string("name"), columns: try r.stringArray("columns"), isUnique: try r.bool("is_unique"),
                          isPrimary: try r.bool("is_primary"), isConstraint: try r.bool("is_constraint"), isPlain: try r.bool("is_plain"))
            }
        let constraints = try connection.query("""
            SELECT k.contype::text AS kind, k.conname AS name, pg_get_constraintdef(k.oid) AS definition,
                   ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS c(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.attnum ORDER BY c.ord) AS columns
            FROM pg_constraint k WHERE k.conrelid = $1::bigint::oid AND k.contype <> 'n' ORDER BY k.conname
            """, [oid]).map { r in
                ConstraintInfo(kind: try r.string("kind"), name: try r.string("name"), columns: try r.stringArray("columns"),
                               definition: try r.string("definition"))
            }
        let primaryKey = indexes.first { $0.isPrimary }?.columns ?? []
        return TableInfo(schema: try row.string("schema"), name: try row.string("name"), columns: columns,
                         primaryKey: primaryKey, indexes: indexes, constraints: constraints)
    }
}

extension CatalogReader {
    /// The types among `types` whose values have no default equality: after domains, array
    /// elements and composite types' fields, a leaf type without a default btree or hash
    /// operator class of its own, a polymorphic one (enums, ranges) or one of a type it is
    /// implicitly binary-coercible to (`varchar` → `text`). Stricter than PostgreSQL's type
    /// cache (which also takes `xml` → `text`, though `xml = xml` does not parse): a type in
    /// doubt is compared as text, which always works. Unknown names are left out.
    public static func typesWithoutEquality(_ connection: Connection, _ types: Set<String>) throws -> Set<String> {
        guard !types.isEmpty else { return [] }
        let rows = try connection.query("""
            WITH RECURSIVE part(name, oid) AS (
              SELECT name, to_regtype(name)::oid FROM unnest($1::text[]) AS name WHERE to_regtype(name) IS NOT NULL
              UNION
              SELECT part.name, inner_type.oid
              FROM part JOIN pg_type ty ON ty.oid = part.oid
              CROSS JOIN LATERAL (
                SELECT ty.typbasetype WHERE ty.typtype = 'd'
                UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typlen = -1
                UNION ALL SELECT a.atttypid FROM pg_attribute a
                          WHERE ty.typtype = 'c' AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
              ) AS inner_type(oid)
            )
            SELECT DISTINCT part.name
            FROM part JOIN pg_type ty ON ty.oid = part.oid
            WHERE ty.typtype NOT IN ('d', 'c') AND NOT (ty.typelem <> 0 AND ty.typlen = -1)
              AND NOT EXISTS (
                SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                WHERE oc.opcdefault AND am.amname IN ('btree', 'hash')
                  AND (oc.opcintype = ty.oid
                       OR (ty.typtype = 'e' AND oc.opcintype = to_regtype('anyenum'))
                       OR (ty.typtype = 'r' AND oc.opcintype = to_regtype('anyrange'))
                       OR (ty.typtype = 'm' AND oc.opcintype = to_regtype('anymultirange'))
                       OR EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = ty.oid AND c.casttarget = oc.opcintype
                                   AND c.castmethod = 'b' AND c.castcontext = 'i')))
            """, [PostgresArray.literal(types.sorted())])
        return Set(try rows.map { try $0.string("name") })
    }
}

/// Everything that defines a table's shape, as text lines that compare exactly: columns with
/// types, defaults and nullability, constraints, indexes and triggers. Rollback must restore it.
public struct CatalogSnapshot: Sendable, Hashable, CustomStringConvertible {
    public var lines: [String]

    public static func take(_ connection: Connection, table: TableName) throws -> CatalogSnapshot {
        let rows = try connection.query("""
            WITH t AS (SELECT to_regclass($1) AS oid)
            SELECT 'column ' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                   || coalesce(' COMMENT ' || col_description(a.attrelid, a.attnum), '') AS line
            FROM t JOIN pg_attribute a ON a.attrelid = t.oid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' (not validated)' END
            FROM t JOIN pg_constraint k ON k.conrelid = t.oid
            UNION ALL
            SELECT 'index ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
            FROM t JOIN pg_index i ON i.indrelid = t.oid
            UNION ALL
            SELECT 'trigger ' || pg_get_triggerdef(g.oid) || ' ' || g.tgenabled::text
            FROM t JOIN pg_trigger g ON g.tgrelid = t.oid WHERE NOT g.tgisinternal
            ORDER BY 1
            """, [table.quoted])
        return CatalogSnapshot(lines: try rows.map { try $0.string("line") })
    }

    /// Lines only in `self` (`-`) or only in `other` (`+`).
    public func difference(to other: CatalogSnapshot) -> [String] {
        let mine = Set(lines), theirs = Set(other.lines)
        return lines.filter { !theirs.contains($0) }.map { "- " + $0 } + other.lines.filter { !mine.contains($0) }.map { "+ " + $0 }
    }

    public var description: String { lines.joined(separator: "\n") }
}
