import BellowsPlan
import Foundation
import PGClient

/// The schema of a whole database as named objects and their definitions, to compare the
/// catalog before a migration with the catalog after its rollback file ran (`rehearse`,
/// `migrate --test`). Each table's columns, constraints, indexes, triggers, row security,
/// replica identity and policies come from ``CatalogSnapshot`` — the comparison a plan's
/// rollback is checked with — and beside them: schemas, tables (partitioned, unlogged, a
/// partition's bound, the owner, storage parameters), views (their query), materialized views,
/// sequences (their parameters, not their current value), foreign tables,
/// enum/domain/composite/range types, functions and procedures (their definition), extensions,
/// publications (what they publish and which tables, with column lists and row filters on 15+).
/// Not compared: the `bellows` schemas, what an extension owns, grants, comments on objects
/// other than columns, other objects' owners, and data (docs/migrations.md).
public struct DatabaseSnapshot: Sendable, Hashable {
    public struct Object: Sendable, Hashable {
        public var definition: String
        /// The table an object of a table (column, constraint, index, trigger) belongs to:
        /// when the table itself appears or goes, its parts are not listed one by one.
        public var parent: String?

        public init(definition: String, parent: String? = nil) {
            self.definition = definition
            self.parent = parent
        }
    }

    /// `index widgets_name_idx` → its definition.
    public var objects: [String: Object]

    public init(objects: [String: Object]) {
        self.objects = objects
    }

    static let excludedSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'bellows', 'bellows_rehearsal') AND n.nspname !~ '^pg_(toast|temp_)'"

    static func notInExtension(_ catalog: String, _ oid: String) -> String {
        "NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '\(catalog)'::regclass AND e.objid = \(oid) AND e.deptype = 'e')"
    }

    public static func take(_ connection: Connection) throws -> DatabaseSnapshot {
        var objects: [String: Object] = [:]
        // PostgreSQL 15+: a publication's column list and row filter per table.
        let columnLists = connection.serverVersion >= 150000
            ? " || coalesce(' (' || array_to_string(pt.attnames, ', ') || ')', '') || coalesce(' WHERE ' || pt.rowfilter, '')" : ""
        let rows = try connection.query("""
            SELECT 'schema ' || quote_ident(n.nspname) AS object, 'schema' AS definition
            FROM pg_namespace n WHERE \(excludedSchemas) AND \(notInExtension("pg_namespace", "n.oid"))
            UNION ALL
            SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence '
                                  WHEN 'f' THEN 'foreign table ' ELSE 'table ' END || c.oid::regclass::text,
                   CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)
                        WHEN c.relkind = 'S' THEN (SELECT format('%s start %s increment %s minvalue %s maxvalue %s cache %s%s',
                                 format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                                 CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) FROM pg_sequence s WHERE s.seqrelid = c.oid)
                        ELSE CASE c.relkind WHEN 'p' THEN 'partitioned ' ELSE '' END
                             || CASE c.relpersistence WHEN 'u' THEN 'unlogged ' ELSE '' END || 'table'
                             || coalesce(' partition of ' || (SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = c.oid LIMIT 1)
                                         || ' ' || pg_get_expr(c.relpartbound, c.oid), '')
                             || ' owned by ' || quote_ident(pg_get_userbyid(c.relowner))
                             || coalesce(' with (' || array_to_string(c.reloptions, ', ') || ')', '') END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND \(excludedSchemas) AND \(notInExtension("pg_class", "c.oid"))
            UNION ALL
            SELECT 'type ' || t.oid::regtype::text,
                   CASE t.typtype
                       WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                                           FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
                       WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                                     || coalesce(' DEFAULT ' || t.typdefault, '')
                                     || coalesce(' ' || (SELECT string_agg(pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname)
                                                         FROM pg_constraint k WHERE k.contypid = t.oid), '')
                       WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                                                FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
                       WHEN 'r' THEN 'range of ' || (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
                       ELSE 'type ' || t.typtype::text END
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typtype IN ('e', 'd', 'c', 'r') AND \(excludedSchemas) AND \(notInExtension("pg_type", "t.oid"))
              AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || p.oid::regprocedure::text,
                   CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(p.oid) END
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE \(excludedSchemas) AND \(notInExtension("pg_proc", "p.oid"))
            UNION ALL
            SELECT 'extension ' || quote_ident(x.extname), x.extversion || ' in schema ' || x.extnamespace::regnamespace::text
            FROM pg_extension x WHERE x.extname <> 'plpgsql'
            UNION ALL
            SELECT 'publication ' || quote_ident(p.pubname),
                   CASE WHEN p.puballtables THEN 'for all tables' ELSE 'for ' || coalesce((
                       SELECT string_agg(format('%I.%I', pt.schemaname, pt.tablename)\(columnLists), ', ' ORDER BY pt.schemaname, pt.tablename)
                       FROM pg_publication_tables pt WHERE pt.pubname = p.pubname), 'no table') END
                   || ' publish ' || concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                                               CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END)
                   || CASE WHEN p.pubviaroot THEN ' via partition root' ELSE '' END
            FROM pg_publication p
            """)
        for row in rows {
            objects[try row.string("object")] = Object(definition: try row.string("definition"))
        }
        // The parts of each table, as a plan's rollback compares them.
        for table in objects.keys.filter({ $0.hasPrefix("table ") || $0.hasPrefix("foreign table ") }).sorted() {
            let relation = table.hasPrefix("table ") ? String(table.dropFirst("table ".count)) : String(table.dropFirst("foreign table ".count))
            let snapshot = try CatalogSnapshot.take(connection, relation: relation)
            for (object, line) in zip(snapshot.objects, Self.logicalColumnPositions(snapshot.lines)) {
                objects[Self.partName(object, of: relation)] = Object(definition: line, parent: table)
            }
        }
        return DatabaseSnapshot(objects: objects)
    }

    /// The snapshot's `column N name …` lines with N, the column's `attnum`, replaced by its
    /// position among the table's columns: a column dropped and added again (a rollback, then the
    /// migration again) gets a new attnum but keeps its place, which is what a reader sees. Pure.
    static func logicalColumnPositions(_ lines: [String]) -> [String] {
        func attnum(_ line: String) -> Int? {
            guard line.hasPrefix("column ") else { return nil }
            return Int(line.dropFirst("column ".count).prefix { $0.isNumber })
        }
        let numbers = lines.compactMap(attnum).sorted()
        let position = Dictionary(uniqueKeysWithValues: numbers.enumerated().map { ($1, $0 + 1) })
        return lines.map { line in
            guard let number = attnum(line), let place = position[number] else { return line }
            return "column \(place)" + line.dropFirst("column \(number)".count)
        }
    }

    /// `column email` of `widgets` → `column widgets.email`; `constraint widgets_pkey` → `constraint
    /// widgets_pkey on widgets`; an index keeps its own (relation) name.
    static func partName(_ object: String, of relation: String) -> String {
        if object.hasPrefix("column ") { return "column \(relation)." + object.dropFirst("column ".count) }
        if object.hasPrefix("index ") { return object }
        return "\(object) on \(relation)"
    }

    /// What differs from `self` (taken `reference`, e.g. "before the migration") in `other`
    /// (taken `moment`, e.g. "after rollback"), in words, one line per object, sorted:
    /// `index widgets_name_idx exists after rollback (it did not before the migration): CREATE INDEX …`.
    /// An object of a table that itself appeared or went is not listed on its own.
    public func difference(to other: DatabaseSnapshot, moment: String = "after rollback", reference: String = "before the migration") -> [String] {
        var lines: [String] = []
        let added = Set(other.objects.keys).subtracting(objects.keys)
        let removed = Set(objects.keys).subtracting(other.objects.keys)
        for key in Set(objects.keys).union(other.objects.keys).sorted() {
            let mine = objects[key], theirs = other.objects[key]
            switch (mine, theirs) {
            case (nil, let after?):
                if let parent = after.parent, added.contains(parent) { continue }
                lines.append("\(key) exists \(moment) (it did not \(reference)): \(after.definition)")
            case (let before?, nil):
                if let parent = before.parent, removed.contains(parent) { continue }
                lines.append("\(key) is missing \(moment) (\(reference): \(before.definition))")
            case (let before?, let after?) where before.definition != after.definition:
                lines.append("\(key) differs \(moment): \(reference) \(before.definition) — \(moment) \(after.definition)")
            default:
                continue
            }
        }
        return lines
    }
}
