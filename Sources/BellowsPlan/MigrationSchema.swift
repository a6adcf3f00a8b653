import BellowsSQL

/// Builds a `SchemaCatalog` from the DDL of migration files, so plans can be checked and
/// rendered with no database. It reads the common forms — `CREATE TABLE`, `ALTER TABLE … ADD |
/// DROP | RENAME | ALTER COLUMN`, `ADD | DROP | RENAME CONSTRAINT`, `CREATE | DROP | ALTER INDEX`,
/// `DROP TABLE` — and leaves out what it cannot read.
///
/// The catalog imitates what the engine reads from `pg_catalog`, so that `bellows render` prints
/// what `expand` will run: types as `format_type` prints them (`character varying(500)`, not
/// `varchar(500)`), constraint and index names as PostgreSQL chooses them, foreign keys as
/// `pg_get_constraintdef` prints them, a lone string default with its cast (`'x'::text`).
/// Known differences: other defaults are kept as written (PostgreSQL may normalise them, e.g.
/// `'2024-01-01'::date` or `-1`); types are assumed to resolve where they would in `public`.
public enum MigrationSchema {
    public static func catalog(fromMigrations sources: [String]) -> SchemaCatalog {
        var schema = Builder()
        for source in sources {
            for statement in StatementSplitter.split(source) {
                schema.apply(statement.significantTokens)
            }
        }
        return SchemaCatalog(tables: schema.order.compactMap { schema.tables[$0] })
    }

    // MARK: - Token helpers

    static func qualifiedName(_ tokens: [Token], _ start: Int) -> (schema: String, name: String, next: Int)? {
        guard start < tokens.count, let first = tokens[start].identifierValue else { return nil }
        if start + 2 < tokens.count, tokens[start + 1].isSymbol("."), let second = tokens[start + 2].identifierValue {
            return (first, second, start + 3)
        }
        return ("public", first, start + 1)
    }

    /// Splits the tokens between a `(` at `open` and its `)` into top-level comma-separated items.
    static func items(_ tokens: [Token], open: Int) -> [[Token]] {
        splitItems(tokens, open: open).items
    }

    /// The items, and the index just after the closing `)`.
    static func splitItems(_ tokens: [Token], open: Int) -> (items: [[Token]], next: Int) {
        var result: [[Token]] = []
        var current: [Token] = []
        var depth = 0
        var i = open + 1
        while i < tokens.count {
            let t = tokens[i]
            if t.isSymbol("(") || t.isSymbol("[") { depth += 1 }
            if t.isSymbol(")") || t.isSymbol("]") {
                if depth == 0 { break }
                depth -= 1
            }
            if t.isSymbol(","), depth == 0 { result.append(current); current = [] } else { current.append(t) }
            i += 1
        }
        if !current.isEmpty { result.append(current) }
        return (result, i + 1)
    }

    /// The column names listed in the first parenthesised list of `tokens`.
    static func names(in tokens: [Token]) -> [String] {
        guard let open = tokens.firstIndex(where: { $0.isSymbol("(") }) else { return [] }
        return items(tokens, open: open).compactMap { $0.first?.identifierValue }
    }

    /// Tokens joined the way PostgreSQL prints SQL: no space inside parentheses or around `.`
    /// and `::`, a space after commas.
    static func join(_ tokens: [Token]) -> String {
        var out = ""
        var previous: Token?
        for t in tokens {
            defer { previous = t }
            guard let p = previous else { out = t.text; continue }
            let tight = t.isSymbol(")") || t.isSymbol("]") || t.isSymbol(",") || t.isSymbol(".") || t.isSymbol("::")
                || p.isSymbol("(") || p.isSymbol("[") || p.isSymbol(".") || p.isSymbol("::")
                || (t.isSymbol("(") && (p.kind == .word || p.kind == .quotedIdentifier))
                || (t.isSymbol("[") && (p.kind == .word || p.kind == .quotedIdentifier || p.isSymbol("]")))
            out += (tight ? "" : " ") + t.text
        }
        return out
    }

    /// An identifier as PostgreSQL's `quote_ident` prints it: bare when it can be.
    static func quoteIfNeeded(_ name: String) -> String {
        let scalars = Array(name.unicodeScalars)
        let plain = !scalars.isEmpty && (("a"..."z").contains(scalars[0]) || scalars[0] == "_")
            && scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "$" }
        return plain && !reservedWords.contains(name) ? name : SQLQuote.identifier(name)
    }

    static let reservedWords: Set<String> = [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast", "check", "collate",
        "column", "constraint", "create", "current_catalog", "current_date", "current_role", "current_time", "current_timestamp",
        "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign",
        "from", "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit", "localtime",
        "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning",
        "select", "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "user", "using",
        "variadic", "when", "where", "window", "with",
    ]

    // MARK: - Types

    /// A column type as `format_type` prints it: `varchar(500)` → `character varying(500)`,
    /// `int` → `integer`, `timestamptz` → `timestamp with time zone`, `serial` → `integer`.
    static func canonicalType(_ tokens: [Token]) -> String {
        var words = unqualified(tokens)
        var arraySuffix = ""
        // Array bounds: `text[]`, `int[3]`, `integer ARRAY`.
        while let last = words.last, last.isSymbol("]") || last.isKeyword("ARRAY") {
            if last.isKeyword("ARRAY") { words.removeLast(); arraySuffix += "[]"; continue }
            guard let open = words.lastIndex(where: { $0.isSymbol("[") }) else { break }
            words.removeSubrange(open...)
            arraySuffix += "[]"
        }
        var modifiers = ""
        var base: [Token] = []
        var i = 0
        while i < words.count {
            if words[i].isSymbol("("), let close = words[i...].firstIndex(where: { $0.isSymbol(")") }) {
                modifiers = "(" + words[(i + 1)..<close].filter { !$0.isSymbol(",") }.map(\.text).joined(separator: ",") + ")"
                i = close + 1
                continue
            }
            base.append(words[i])
            i += 1
        }
        // Time zones come after the precision: `timestamp(3) with time zone`.
        var name = ""
        for (k, t) in base.enumerated() {
            let text = t.kind == .word ? t.lower : (t.identifierValue.map(quoteIfNeeded) ?? t.text)
            let tight = k == 0 || t.isSymbol(".") || base[k - 1].isSymbol(".")
            name += (tight ? "" : " ") + text
        }
        let withTimeZone = name.hasSuffix(" with time zone"), withoutTimeZone = name.hasSuffix(" without time zone")
        let stem = withTimeZone ? String(name.dropLast(" with time zone".count))
            : withoutTimeZone ? String(name.dropLast(" without time zone".count)) : name
        let canonical: String
        switch stem {
        case "int", "integer", "int4", "serial", "serial4": canonical = "integer"
        case "bigint", "int8", "bigserial", "serial8": canonical = "bigint"
        case "smallint", "int2", "smallserial", "serial2": canonical = "smallint"
        case "bool", "boolean": canonical = "boolean"
        case "float8", "double precision": canonical = "double precision"
        case "float4", "real": canonical = "real"
        case "float":
            if let p = Int(modifiers.dropFirst().dropLast()), p <= 24 { canonical = "real" } else { canonical = "double precision" }
            modifiers = ""
        case "decimal", "numeric": canonical = "numeric"
        case "varchar", "character varying", "char varying": canonical = "character varying"
        case "char", "character", "bpchar":
            canonical = "character"
            if modifiers.isEmpty && stem != "bpchar" { modifiers = "(1)" }
        case "varbit", "bit varying": canonical = "bit varying"
        case "bit":
            canonical = "bit"
            if modifiers.isEmpty { modifiers = "(1)" }
        case "timestamptz": canonical = "timestamp with time zone"
        case "timetz": canonical = "time with time zone"
        case "timestamp": canonical = withTimeZone ? "timestamp with time zone" : "timestamp without time zone"
        case "time": canonical = withTimeZone ? "time with time zone" : "time without time zone"
        default: canonical = name
        }
        // format_type puts the precision of timestamps and times before "with(out) time zone".
        for zoned in ["timestamp", "time"] {
            for suffix in [" with time zone", " without time zone"] where canonical == zoned + suffix {
                return zoned + modifiers + suffix + arraySuffix
            }
        }
        return canonical + modifiers + arraySuffix
    }

    /// The type a string constant of a default is cast to in `pg_get_expr`: the column's type
    /// without its modifiers (`character varying(5)` → `character varying`, `character(2)` → `bpchar`).
    static func literalCastType(_ type: String) -> String {
        var base = type
        var array = ""
        while base.hasSuffix("[]") { base.removeLast(2); array += "[]" }
        if let open = base.firstIndex(of: "("), let close = base[open...].firstIndex(of: ")") {
            base.removeSubrange(open...close)
        }
        if base == "character" { base = "bpchar" }
        return base + array
    }

    // MARK: - Columns

    static let constraintWords: Set<String> = ["NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "REFERENCES", "CHECK",
                                               "CONSTRAINT", "GENERATED", "COLLATE"]

    /// One column definition: name, type, NOT NULL, default, inline constraints.
    struct ColumnDefinition {
        var column: ColumnInfo
        var primary = false
        var unique = false
        var uniqueName: String?
        var checks: [(name: String?, expression: [Token])] = []
        var references: (name: String?, tokens: [Token])?
    }

    static func column(_ item: [Token], table: String) -> ColumnDefinition? {
        guard let name = item.first?.identifierValue, item.count >= 2 else { return nil }
        var typeTokens: [Token] = []
        var i = 1
        var depth = 0
        while i < item.count {
            let t = item[i]
            if depth == 0, t.kind == .word, constraintWords.contains(t.upper) { break }
            if t.isSymbol("(") { depth += 1 }
            if t.isSymbol(")") { depth -= 1 }
            typeTokens.append(t)
            i += 1
        }
        let type = canonicalType(typeTokens)
        let rest = Array(item[i...])
        var definition = ColumnDefinition(column: ColumnInfo(name: name, type: type, notNull: false))
        var pendingName: String?
        var j = 0
        while j < rest.count {
            let t = rest[j]
            if t.isKeyword("CONSTRAINT"), j + 1 < rest.count { pendingName = rest[j + 1].identifierValue; j += 2; continue }
            if t.isKeyword("NOT"), j + 1 < rest.count, rest[j + 1].isKeyword("NULL") { definition.column.notNull = true; j += 2; continue }
            if t.isKeyword("PRIMARY") { definition.primary = true; definition.column.notNull = true }
            if t.isKeyword("UNIQUE") { definition.unique = true; definition.uniqueName = pendingName; pendingName = nil }
            if t.isKeyword("GENERATED") {
                // `GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(options)]`: NOT NULL, no default
                // (the `DEFAULT` of `BY DEFAULT` is none). `GENERATED ALWAYS AS (expr) [STORED |
                // VIRTUAL]`: a generated column, nullable, its expression no default.
                var k = j + 1
                if k < rest.count, rest[k].isKeyword("ALWAYS") { k += 1 }
                if k + 1 < rest.count, rest[k].isKeyword("BY"), rest[k + 1].isKeyword("DEFAULT") { k += 2 }
                if k < rest.count, rest[k].isKeyword("AS") { k += 1 }
                if k < rest.count, rest[k].isSymbol("(") {
                    let (_, next) = parenthesised(rest, open: k)
                    k = next
                    definition.column.generated = .virtual
                    if k < rest.count, rest[k].isKeyword("STORED") { definition.column.generated = .stored; k += 1 }
                    else if k < rest.count, rest[k].isKeyword("VIRTUAL") { k += 1 }
                } else {
                    definition.column.notNull = true
                    if k < rest.count, rest[k].isKeyword("IDENTITY") { k += 1 }
                    if k < rest.count, rest[k].isSymbol("(") { k = parenthesised(rest, open: k).1 }
                }
                j = k
                continue
            }
            if t.isKeyword("IDENTITY") { definition.column.notNull = true }
            if t.isKeyword("CHECK"), j + 1 < rest.count, rest[j + 1].isSymbol("(") {
                let (expression, next) = parenthesised(rest, open: j + 1)
                definition.checks.append((pendingName, expression))
                pendingName = nil
                j = next
                continue
            }
            if t.isKeyword("REFERENCES") {
                var k = j + 1
                var tokens: [Token] = [t]
                func ends(_ k: Int) -> Bool {
                    let u = rest[k]
                    guard u.kind == .word, ["CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY", "DEFAULT", "NOT", "NULL", "COLLATE"].contains(u.upper) else { return false }
                    return !((u.isKeyword("NULL") || u.isKeyword("DEFAULT")) && rest[k - 1].isKeyword("SET")) // ON DELETE SET NULL | DEFAULT
                }
                while k < rest.count, !ends(k) {
                    tokens.append(rest[k])
                    k += 1
                }
                definition.references = (pendingName, tokens)
                pendingName = nil
                j = k
                continue
            }
            if t.isKeyword("DEFAULT") {
                var parts: [Token] = []
                var k = j + 1
                var depth = 0
                while k < rest.count {
                    let u = rest[k]
                    if depth == 0, u.kind == .word, constraintWords.contains(u.upper), u.upper != "NULL" { break }
                    if u.isSymbol("(") { depth += 1 }
                    if u.isSymbol(")") { depth -= 1 }
                    parts.append(u)
                    k += 1
                }
                definition.column.defaultExpression = defaultExpression(parts, type: type)
                j = k
                continue
            }
            j += 1
        }
        let lower = typeTokens.map(\.lower).joined(separator: " ")
        if ["serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"].contains(lower) {
            definition.column.notNull = true
            definition.column.defaultExpression = "nextval('\(TransitionNames.truncated("\(table)_\(name)_seq"))'::regclass)"
        }
        return definition
    }

    /// A default as `pg_get_expr` prints the simple cases: a lone string constant gets the
    /// column type's cast; anything else is kept as written (tokens re-joined).
    static func defaultExpression(_ written: [Token], type: String) -> String? {
        let tokens = unqualified(written)
        guard !tokens.isEmpty else { return nil }
        if tokens.count == 1, tokens[0].kind == .string, tokens[0].text.hasPrefix("'") {
            return tokens[0].text + "::" + literalCastType(type)
        }
        // A negative number is printed as a cast string: `-1` → `'-1'::integer`.
        if tokens.count == 2, tokens[0].isSymbol("-"), tokens[1].kind == .number {
            return "'-\(tokens[1].text)'::" + literalCastType(type)
        }
        return join(tokens)
    }

    /// Names in `public` as PostgreSQL prints them under the default search_path, unqualified:
    /// `public.order_status` → `order_status`, `'public.t_id_seq'::regclass` → `'t_id_seq'::regclass`
    /// (pg_dump, and so a baseline, qualifies every name).
    static func unqualified(_ tokens: [Token]) -> [Token] {
        var result: [Token] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if t.identifierValue == "public", i + 2 < tokens.count, tokens[i + 1].isSymbol("."), tokens[i + 2].identifierValue != nil {
                i += 2
                continue
            }
            if t.kind == .string, t.text.hasPrefix("'public."), i + 2 < tokens.count, tokens[i + 1].isSymbol("::"), tokens[i + 2].isKeyword("REGCLASS") {
                var copy = t
                copy.text = "'" + t.text.dropFirst("'public.".count)
                result.append(copy)
                i += 1
                continue
            }
            result.append(t)
            i += 1
        }
        return result
    }

    /// The tokens inside the parentheses opening at `open`, and the index after the `)`.
    static func parenthesised(_ tokens: [Token], open: Int) -> ([Token], Int) {
        var depth = 0
        var i = open
        while i < tokens.count {
            if tokens[i].isSymbol("(") { depth += 1 }
            if tokens[i].isSymbol(")") {
                depth -= 1
                if depth == 0 { return (Array(tokens[(open + 1)..<i]), i + 1) }
            }
            i += 1
        }
        return (Array(tokens[min(open + 1, tokens.count)...]), tokens.count)
    }

    // MARK: - The catalog being built

    /// A CHECK seen in a statement, named once all the statement's columns are known.
    typealias PendingCheck = (name: String?, expression: [Token], column: String?)

    struct Builder {
        var tables: [String: TableInfo] = [:]
        var order: [String] = []
        /// Columns used by the expressions and predicates of indexes (`IndexInfo.columns` lists
        /// plain columns only, as the catalog does): dropping one of them drops the index.
        var indexDependencies: [String: Set<String>] = [:]

        mutating func apply(_ tokens: [Token]) {
            guard tokens.count > 2 else { return }
            if tokens[0].isKeyword("CREATE") {
                var i = 1
                while i < tokens.count, ["UNLOGGED", "TEMP", "TEMPORARY", "UNIQUE"].contains(tokens[i].upper) { i += 1 }
                if i < tokens.count, tokens[i].isKeyword("TABLE") { createTable(tokens) }
                if i < tokens.count, tokens[i].isKeyword("INDEX") { createIndex(tokens) }
            } else if tokens[0].isKeyword("ALTER"), tokens[1].isKeyword("TABLE") {
                alterTable(tokens)
            } else if tokens[0].isKeyword("ALTER"), tokens[1].isKeyword("INDEX") {
                alterIndex(tokens)
            } else if tokens[0].isKeyword("DROP"), tokens[1].isKeyword("TABLE") {
                var i = 2
                if tokens.count > i + 1, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
                while let (schema, name, next) = qualifiedName(tokens, i) {
                    tables["\(schema).\(name)"] = nil
                    guard next < tokens.count, tokens[next].isSymbol(",") else { break }
                    i = next + 1
                }
            } else if tokens[0].isKeyword("DROP"), tokens[1].isKeyword("INDEX") {
                var i = 2
                if i < tokens.count, tokens[i].isKeyword("CONCURRENTLY") { i += 1 }
                if tokens.count > i + 1, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
                while let (schema, name, next) = qualifiedName(tokens, i) {
                    for key in tables.keys where key.hasPrefix(schema + ".") { tables[key]?.indexes.removeAll { $0.name == name } }
                    guard next < tokens.count, tokens[next].isSymbol(",") else { break }
                    i = next + 1
                }
            }
        }

        // MARK: CREATE TABLE

        mutating func createTable(_ tokens: [Token]) {
            var i = 1
            while i < tokens.count, ["UNLOGGED", "TEMP", "TEMPORARY"].contains(tokens[i].upper) { i += 1 }
            guard i < tokens.count, tokens[i].isKeyword("TABLE") else { return }
            i += 1
            if i + 2 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("NOT"), tokens[i + 2].isKeyword("EXISTS") { i += 3 }
            guard let (schema, name, next) = qualifiedName(tokens, i), next < tokens.count, tokens[next].isSymbol("(") else { return }
            let key = "\(schema).\(name)"
            if tables[key] == nil { order.append(key) }
            var table = TableInfo(schema: schema, name: name, columns: [], primaryKey: [])
            var checks: [PendingCheck] = []
            var tableLevel: [[Token]] = []
            for item in items(tokens, open: next) {
                guard let first = item.first else { continue }
                if first.isKeyword("CONSTRAINT") || first.isKeyword("PRIMARY") || first.isKeyword("UNIQUE") || first.isKeyword("FOREIGN")
                    || first.isKeyword("CHECK") || first.isKeyword("EXCLUDE") || first.isKeyword("LIKE") {
                    tableLevel.append(item)
                } else if let definition = column(item, table: name) {
                    table.columns.append(definition.column)
                    add(definition, to: &table, checks: &checks)
                }
            }
            // Table constraints after the columns: their names may depend on the columns.
            for item in tableLevel { addConstraint(item, to: &table, checks: &checks) }
            for check in checks { addCheck(check, to: &table) }
            tables[key] = table
        }

        /// A column's inline constraints.
        func add(_ definition: ColumnDefinition, to table: inout TableInfo,
                 checks: inout [PendingCheck]) {
            let column = definition.column.name
            if definition.primary { setPrimaryKey([column], name: nil, on: &table) }
            if definition.unique { addUnique([column], name: definition.uniqueName, on: &table) }
            for check in definition.checks { checks.append((check.name, check.expression, column)) }
            if let references = definition.references {
                addForeignKey(columns: [column], references: references.tokens, name: references.name, on: &table)
            }
        }

        func setPrimaryKey(_ columns: [String], name: String?, on table: inout TableInfo) {
            table.primaryKey = columns
            for key in columns { if let index = table.columns.firstIndex(where: { $0.name == key }) { table.columns[index].notNull = true } }
            let indexName = name ?? table.freeName(TransitionNames.truncated("\(table.name)_pkey"))
            table.indexes.append(IndexInfo(name: indexName, columns: columns, isUnique: true, isPrimary: true, isConstraint: true, isPlain: true))
            table.constraints.append(ConstraintInfo(kind: "p", name: indexName, columns: columns,
                                                    definition: "PRIMARY KEY (\(columns.map(quoteIfNeeded).joined(separator: ", ")))"))
        }

        func addUnique(_ columns: [String], name: String?, on table: inout TableInfo) {
            let constraintName = name ?? table.freeName(TransitionNames.truncated("\(table.name)_\(columns.joined(separator: "_"))_key"))
            table.indexes.append(IndexInfo(name: constraintName, columns: columns, isUnique: true, isPrimary: false, isConstraint: true, isPlain: true))
            table.constraints.append(ConstraintInfo(kind: "u", name: constraintName, columns: columns,
                                                    definition: "UNIQUE (\(columns.map(quoteIfNeeded).joined(separator: ", ")))"))
        }

        /// `REFERENCES t [(cols)] [MATCH …] [ON DELETE …] [ON UPDATE …] [DEFERRABLE …]`, printed as
        /// `pg_get_constraintdef` does: `FOREIGN KEY (c) REFERENCES t(id) ON DELETE CASCADE`.
        func addForeignKey(columns: [String], references tokens: [Token], name: String?, on table: inout TableInfo) {
            guard tokens.count >= 2, let (schema, target, next) = qualifiedName(tokens, 1) else { return }
            var i = next
            var targetColumns: [String] = []
            if i < tokens.count, tokens[i].isSymbol("(") {
                let (inner, after) = parenthesised(tokens, open: i)
                targetColumns = inner.filter { !$0.isSymbol(",") }.compactMap(\.identifierValue)
                i = after
            } else if let referenced = target == table.name && schema == table.schema ? table : tables["\(schema).\(target)"] {
                targetColumns = referenced.primaryKey
            }
            var onDelete = "", onUpdate = "", match = "", deferrable = ""
            func action(_ j: inout Int) -> String {
                var words: [String] = []
                while j < tokens.count, tokens[j].kind == .word, ["CASCADE", "RESTRICT", "SET", "NULL", "DEFAULT", "NO", "ACTION"].contains(tokens[j].upper) {
                    words.append(tokens[j].upper)
                    j += 1
                    if words == ["CASCADE"] || words == ["RESTRICT"] || words == ["SET", "NULL"] || words == ["SET", "DEFAULT"] || words == ["NO", "ACTION"] { break }
                }
                let text = words.joined(separator: " ")
                return text == "NO ACTION" ? "" : text
            }
            while i < tokens.count {
                if tokens[i].isKeyword("ON"), i + 1 < tokens.count, tokens[i + 1].isKeyword("DELETE") {
                    i += 2
                    onDelete = action(&i)
                    // `ON DELETE SET NULL (col)` (PostgreSQL 15): kept as written.
                    if i < tokens.count, tokens[i].isSymbol("(") { let (inner, after) = parenthesised(tokens, open: i); onDelete += " (" + join(inner) + ")"; i = after }
                } else if tokens[i].isKeyword("ON"), i + 1 < tokens.count, tokens[i + 1].isKeyword("UPDATE") {
                    i += 2
                    onUpdate = action(&i)
                } else if tokens[i].isKeyword("MATCH"), i + 1 < tokens.count {
                    match = tokens[i + 1].upper == "SIMPLE" ? "" : " MATCH " + tokens[i + 1].upper
                    i += 2
                } else if tokens[i].isKeyword("DEFERRABLE") {
                    deferrable += " DEFERRABLE"
                    i += 1
                } else if tokens[i].isKeyword("INITIALLY"), i + 1 < tokens.count {
                    if tokens[i + 1].isKeyword("DEFERRED") { deferrable += " INITIALLY DEFERRED" }
                    i += 2
                } else {
                    i += 1
                }
            }
            let targetName = (schema == "public" ? "" : quoteIfNeeded(schema) + ".") + quoteIfNeeded(target)
            var definition = "FOREIGN KEY (\(columns.map(quoteIfNeeded).joined(separator: ", "))) REFERENCES \(targetName)"
                + "(\(targetColumns.map(quoteIfNeeded).joined(separator: ", ")))" + match
            if !onUpdate.isEmpty { definition += " ON UPDATE " + onUpdate }
            if !onDelete.isEmpty { definition += " ON DELETE " + onDelete }
            definition += deferrable
            let constraintName = name ?? table.freeName(TransitionNames.truncated("\(table.name)_\(columns.joined(separator: "_"))_fkey"))
            table.constraints.append(ConstraintInfo(kind: "f", name: constraintName, columns: columns, definition: definition))
        }

        /// A CHECK is named after its table and, when it uses exactly one column, that column.
        func addCheck(_ check: PendingCheck, to table: inout TableInfo) {
            let known = Set(table.columns.map(\.name))
            var used: [String] = []
            for (k, t) in check.expression.enumerated() {
                guard let name = t.identifierValue, known.contains(name), !used.contains(name) else { continue }
                if k + 1 < check.expression.count, check.expression[k + 1].isSymbol("(") { continue } // a function
                if k > 0, check.expression[k - 1].isSymbol(".") || check.expression[k - 1].isSymbol("::") { continue }
                used.append(name)
            }
            let base = used.count == 1 ? "\(table.name)_\(used[0])_check" : "\(table.name)_check"
            let name = check.name ?? table.freeName(TransitionNames.truncated(base))
            table.constraints.append(ConstraintInfo(kind: "c", name: name, columns: used, definition: "CHECK (\(join(check.expression)))"))
        }

        /// A table constraint (`[CONSTRAINT n] PRIMARY KEY | UNIQUE | FOREIGN KEY | CHECK …`).
        func addConstraint(_ item: [Token], to table: inout TableInfo, checks: inout [PendingCheck]) {
            var body = item
            var name: String?
            if let first = body.first, first.isKeyword("CONSTRAINT"), body.count > 2 { name = body[1].identifierValue; body = Array(body.dropFirst(2)) }
            guard let head = body.first else { return }
            if head.isKeyword("PRIMARY") {
                setPrimaryKey(names(in: body), name: name, on: &table)
            } else if head.isKeyword("UNIQUE") {
                addUnique(names(in: body), name: name, on: &table)
            } else if head.isKeyword("FOREIGN") {
                let columns = names(in: body)
                if let references = body.firstIndex(where: { $0.isKeyword("REFERENCES") }) {
                    addForeignKey(columns: columns, references: Array(body[references...]), name: name, on: &table)
                }
            } else if head.isKeyword("CHECK"), body.count > 1, body[1].isSymbol("(") {
                checks.append((name, parenthesised(body, open: 1).0, nil))
            }
        }

        // MARK: ALTER TABLE

        mutating func alterTable(_ tokens: [Token]) {
            var i = 2
            if i + 1 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
            if i < tokens.count, tokens[i].isKeyword("ONLY") { i += 1 }
            guard let (schema, name, next) = qualifiedName(tokens, i), var table = tables["\(schema).\(name)"] else { return }
            let key = "\(schema).\(name)"
            let actions = items([Token(kind: .punctuation, text: "(", line: 0, column: 0, offset: 0)] + Array(tokens[next...]), open: 0)
            var checks: [PendingCheck] = []
            for action in actions {
                guard let verb = action.first else { continue }
                if verb.isKeyword("ADD") {
                    var body = Array(action.dropFirst())
                    if let first = body.first, first.isKeyword("CONSTRAINT") || first.isKeyword("PRIMARY") || first.isKeyword("UNIQUE")
                        || first.isKeyword("FOREIGN") || first.isKeyword("CHECK") || first.isKeyword("EXCLUDE") {
                        addConstraint(body, to: &table, checks: &checks)
                        continue
                    }
                    if body.first?.isKeyword("COLUMN") == true { body.removeFirst() }
                    if body.count > 3, body[0].isKeyword("IF"), body[1].isKeyword("NOT"), body[2].isKeyword("EXISTS") {
                        body.removeFirst(3)
                        if let name = body.first?.identifierValue, table.column(name) != nil { continue }
                    }
                    if let definition = column(body, table: table.name) {
                        table.columns.append(definition.column)
                        add(definition, to: &table, checks: &checks)
                    }
                } else if verb.isKeyword("DROP") {
                    var k = 1
                    if k < action.count, action[k].isKeyword("CONSTRAINT") {
                        k += 1
                        if k + 1 < action.count, action[k].isKeyword("IF"), action[k + 1].isKeyword("EXISTS") { k += 2 }
                        if k < action.count, let constraint = action[k].identifierValue {
                            table.constraints.removeAll { $0.name == constraint }
                            table.indexes.removeAll { $0.isConstraint && $0.name == constraint }
                            if table.indexes.allSatisfy({ !$0.isPrimary }) { table.primaryKey = [] }
                        }
                        continue
                    }
                    if k < action.count, action[k].isKeyword("COLUMN") { k += 1 }
                    if k + 1 < action.count, action[k].isKeyword("IF"), action[k + 1].isKeyword("EXISTS") { k += 2 }
                    if k < action.count, let column = action[k].identifierValue {
                        // Indexes and constraints over the column go with it.
                        table.columns.removeAll { $0.name == column }
                        let schema = table.schema
                        table.indexes.removeAll { $0.columns.contains(column) || indexDependencies["\(schema).\($0.name)"]?.contains(column) == true }
                        table.constraints.removeAll { $0.columns.contains(column) }
                        if table.primaryKey.contains(column) { table.primaryKey = [] }
                    }
                } else if verb.isKeyword("RENAME"), action.count >= 3 {
                    var k = 1
                    if action[k].isKeyword("TO"), let newName = action[k + 1].identifierValue {
                        tables[key] = nil
                        table.name = newName
                        if let index = order.firstIndex(of: key) { order[index] = "\(schema).\(newName)" }
                        continue
                    }
                    if action[k].isKeyword("CONSTRAINT") {
                        if k + 3 < action.count, let old = action[k + 1].identifierValue, action[k + 2].isKeyword("TO"), let new = action[k + 3].identifierValue {
                            for c in table.constraints.indices where table.constraints[c].name == old { table.constraints[c].name = new }
                            for x in table.indexes.indices where table.indexes[x].isConstraint && table.indexes[x].name == old { table.indexes[x].name = new }
                        }
                        continue
                    }
                    if action[k].isKeyword("COLUMN") { k += 1 }
                    if k + 2 < action.count, let old = action[k].identifierValue, action[k + 1].isKeyword("TO"), let new = action[k + 2].identifierValue,
                       let index = table.columns.firstIndex(where: { $0.name == old }) {
                        table.columns[index].name = new
                        func renamed(_ list: [String]) -> [String] { list.map { $0 == old ? new : $0 } }
                        table.primaryKey = renamed(table.primaryKey)
                        for x in table.indexes.indices { table.indexes[x].columns = renamed(table.indexes[x].columns) }
                        for c in table.constraints.indices { table.constraints[c].columns = renamed(table.constraints[c].columns) }
                    }
                } else if verb.isKeyword("ALTER") {
                    var k = 1
                    if k < action.count, action[k].isKeyword("COLUMN") { k += 1 }
                    guard k < action.count, let column = action[k].identifierValue,
                          let index = table.columns.firstIndex(where: { $0.name == column }) else { continue }
                    k += 1
                    let rest = Array(action[k...])
                    if rest.count >= 2, rest[0].isKeyword("SET"), rest[1].isKeyword("NOT") { table.columns[index].notNull = true }
                    if rest.count >= 2, rest[0].isKeyword("DROP"), rest[1].isKeyword("NOT") { table.columns[index].notNull = false }
                    if rest.count >= 2, rest[0].isKeyword("DROP"), rest[1].isKeyword("DEFAULT") { table.columns[index].defaultExpression = nil }
                    if rest.count >= 2, rest[0].isKeyword("DROP"), rest[1].isKeyword("EXPRESSION") { table.columns[index].generated = nil }
                    if rest.count >= 2, rest[0].isKeyword("SET"), rest[1].isKeyword("DEFAULT") {
                        table.columns[index].defaultExpression = defaultExpression(Array(rest.dropFirst(2)), type: table.columns[index].type)
                    }
                    var typeStart: Int?
                    if rest.first?.isKeyword("TYPE") == true { typeStart = 1 }
                    if rest.count >= 3, rest[0].isKeyword("SET"), rest[1].isKeyword("DATA"), rest[2].isKeyword("TYPE") { typeStart = 3 }
                    if let typeStart {
                        let end = rest[typeStart...].firstIndex { $0.isKeyword("USING") || $0.isKeyword("COLLATE") } ?? rest.count
                        table.columns[index].type = canonicalType(Array(rest[typeStart..<end]))
                    }
                }
            }
            for check in checks { addCheck(check, to: &table) }
            tables["\(table.schema).\(table.name)"] = table
        }

        // MARK: Indexes

        /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] t [USING m] (…) [INCLUDE (…)] [WHERE …]`.
        mutating func createIndex(_ tokens: [Token]) {
            var i = 1
            let unique = tokens[i].isKeyword("UNIQUE")
            if unique { i += 1 }
            guard i < tokens.count, tokens[i].isKeyword("INDEX") else { return }
            i += 1
            if i < tokens.count, tokens[i].isKeyword("CONCURRENTLY") { i += 1 }
            var ifNotExists = false
            if i + 2 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("NOT"), tokens[i + 2].isKeyword("EXISTS") { i += 3; ifNotExists = true }
            var name: String?
            if i < tokens.count, !tokens[i].isKeyword("ON") { name = tokens[i].identifierValue; i += 1 }
            guard i < tokens.count, tokens[i].isKeyword("ON") else { return }
            i += 1
            if i < tokens.count, tokens[i].isKeyword("ONLY") { i += 1 }
            guard let (schema, tableName, next) = qualifiedName(tokens, i), var table = tables["\(schema).\(tableName)"] else { return }
            i = next
            var method = "btree"
            if i + 1 < tokens.count, tokens[i].isKeyword("USING") { method = tokens[i + 1].lower; i += 2 }
            guard i < tokens.count, tokens[i].isSymbol("(") else { return }
            let (keyItems, after) = splitItems(tokens, open: i)
            i = after
            var columns: [String] = []
            var nameParts: [String] = [] // as PostgreSQL names an index: columns, or a function's name, or "expr"
            var plain = method == "btree"
            for item in keyItems {
                // `col [COLLATE c] [opclass] [ASC|DESC] [NULLS …]` is a column; anything else an expression.
                if let first = item.first, first.kind == .word || first.kind == .quotedIdentifier, let column = first.identifierValue,
                   item.count == 1 || !item[1].isSymbol("("), table.column(column) != nil {
                    columns.append(column)
                    nameParts.append(column)
                } else {
                    plain = false
                    var expression = item
                    while expression.first?.isSymbol("(") == true, expression.last?.isSymbol(")") == true { expression = Array(expression.dropFirst().dropLast()) }
                    if expression.count > 1, let function = expression[0].identifierValue, expression[1].isSymbol("(") {
                        nameParts.append(function)
                    } else {
                        nameParts.append("expr")
                    }
                }
            }
            if i + 1 < tokens.count, tokens[i].isKeyword("INCLUDE"), tokens[i + 1].isSymbol("(") {
                let (included, afterInclude) = splitItems(tokens, open: i + 1)
                columns += included.compactMap { $0.first?.identifierValue }
                i = afterInclude
            }
            if tokens[i...].contains(where: { $0.isKeyword("WHERE") }) { plain = false }
            let indexName = name ?? {
                let base = TransitionNames.truncated("\(tableName)_\(nameParts.joined(separator: "_"))_idx")
                return table.freeName(base)
            }()
            if table.indexes.contains(where: { $0.name == indexName }) || table.constraints.contains(where: { $0.name == indexName }) {
                if ifNotExists { return }
            }
            table.indexes.append(IndexInfo(name: indexName, columns: columns, isUnique: unique, isPrimary: false, isConstraint: false, isPlain: plain))
            let known = Set(table.columns.map(\.name))
            indexDependencies["\(schema).\(indexName)"] = Set(tokens[next...].compactMap(\.identifierValue).filter { known.contains($0) })
            tables["\(schema).\(tableName)"] = table
        }

        /// `ALTER INDEX [IF EXISTS] name RENAME TO new`.
        mutating func alterIndex(_ tokens: [Token]) {
            var i = 2
            if i + 1 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
            guard let (schema, name, next) = qualifiedName(tokens, i), next + 2 < tokens.count, tokens[next].isKeyword("RENAME"),
                  tokens[next + 1].isKeyword("TO"), let newName = tokens[next + 2].identifierValue else { return }
            for key in tables.keys where key.hasPrefix(schema + ".") {
                guard var table = tables[key] else { continue }
                for x in table.indexes.indices where table.indexes[x].name == name { table.indexes[x].name = newName }
                if let dependencies = indexDependencies.removeValue(forKey: "\(schema).\(name)") { indexDependencies["\(schema).\(newName)"] = dependencies }
                for c in table.constraints.indices where table.constraints[c].name == name { table.constraints[c].name = newName }
                tables[key] = table
            }
        }
    }
}
