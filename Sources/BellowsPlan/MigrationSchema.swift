import BellowsSQL

/// Builds a `SchemaCatalog` from the `CREATE TABLE` / `ALTER TABLE … ADD|DROP|RENAME COLUMN`
/// statements of migration files, so plans can be checked and rendered with no database.
/// It reads the common forms only; what it cannot read, it leaves out.
public enum MigrationSchema {
    public static func catalog(fromMigrations sources: [String]) -> SchemaCatalog {
        var tables: [String: TableInfo] = [:]
        var order: [String] = []
        for source in sources {
            for statement in StatementSplitter.split(source) {
                let tokens = statement.significantTokens
                if let table = createTable(tokens) {
                    let key = "\(table.schema).\(table.name)"
                    if tables[key] == nil { order.append(key) }
                    tables[key] = table
                } else if tokens.count > 3, tokens[0].isKeyword("ALTER"), tokens[1].isKeyword("TABLE") {
                    alterTable(tokens, &tables)
                } else if tokens.count > 2, tokens[0].isKeyword("DROP"), tokens[1].isKeyword("TABLE") {
                    var i = 2
                    if tokens.count > i + 1, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
                    if let (schema, name, _) = qualifiedName(tokens, i) { tables["\(schema).\(name)"] = nil }
                }
            }
        }
        return SchemaCatalog(tables: order.compactMap { tables[$0] })
    }

    static func qualifiedName(_ tokens: [Token], _ start: Int) -> (schema: String, name: String, next: Int)? {
        guard start < tokens.count, let first = tokens[start].identifierValue else { return nil }
        if start + 2 < tokens.count, tokens[start + 1].isSymbol("."), let second = tokens[start + 2].identifierValue {
            return (first, second, start + 3)
        }
        return ("public", first, start + 1)
    }

    /// Splits the tokens between a `(` at `open` and its `)` into top-level comma-separated items.
    static func items(_ tokens: [Token], open: Int) -> [[Token]] {
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
        return result
    }

    static func names(in tokens: [Token]) -> [String] {
        guard let open = tokens.firstIndex(where: { $0.isSymbol("(") }) else { return [] }
        return items(tokens, open: open).compactMap { $0.first?.identifierValue }
    }

    static let constraintWords: Set<String> = ["NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "REFERENCES", "CHECK",
                                               "CONSTRAINT", "GENERATED", "COLLATE"]

    /// One column definition: name, type, NOT NULL, default, inline key constraints.
    static func column(_ item: [Token]) -> (ColumnInfo, primary: Bool, unique: Bool)? {
        guard let name = item.first?.identifierValue, item.count >= 2 else { return nil }
        var typeTokens: [String] = []
        var i = 1
        var depth = 0
        while i < item.count {
            let t = item[i]
            if depth == 0, t.kind == .word, constraintWords.contains(t.upper) { break }
            if t.isSymbol("(") { depth += 1 }
            if t.isSymbol(")") { depth -= 1 }
            typeTokens.append(t.text)
            i += 1
        }
        var type = ""
        for text in typeTokens {
            if text == "(" || text == ")" || text == "," || text == "[" || text == "]" || type.isEmpty || type.hasSuffix("(") || type.hasSuffix("[") {
                type += (text == "," ? ", " : text)
            } else {
                type += " " + text
            }
        }
        let rest = Array(item[i...])
        var notNull = false, primary = false, unique = false
        var defaultExpression: String?
        var j = 0
        while j < rest.count {
            let t = rest[j]
            if t.isKeyword("NOT"), j + 1 < rest.count, rest[j + 1].isKeyword("NULL") { notNull = true; j += 2; continue }
            if t.isKeyword("PRIMARY") { primary = true; notNull = true }
            if t.isKeyword("UNIQUE") { unique = true }
            if t.isKeyword("GENERATED") || t.isKeyword("IDENTITY") { notNull = true }
            if t.isKeyword("DEFAULT") {
                var parts: [String] = []
                var k = j + 1
                var depth = 0
                while k < rest.count {
                    let u = rest[k]
                    if depth == 0, u.kind == .word, constraintWords.contains(u.upper), u.upper != "NULL" { break }
                    if u.isSymbol("(") { depth += 1 }
                    if u.isSymbol(")") { depth -= 1 }
                    parts.append(u.text)
                    k += 1
                }
                defaultExpression = parts.joined(separator: " ").replacingOccurrences(of: " ( ", with: "(")
                    .replacingOccurrences(of: "( ", with: "(").replacingOccurrences(of: " )", with: ")").replacingOccurrences(of: " ::", with: "::")
                    .replacingOccurrences(of: ":: ", with: "::")
                j = k
                continue
            }
            j += 1
        }
        if type.lowercased().contains("serial") { notNull = true }
        return (ColumnInfo(name: name, type: type, notNull: notNull, defaultExpression: defaultExpression), primary, unique)
    }

    static func createTable(_ tokens: [Token]) -> TableInfo? {
        guard tokens.count > 3, tokens[0].isKeyword("CREATE") else { return nil }
        var i = 1
        while i < tokens.count, ["UNLOGGED", "TEMP", "TEMPORARY"].contains(tokens[i].upper) { i += 1 }
        guard i < tokens.count, tokens[i].isKeyword("TABLE") else { return nil }
        i += 1
        if i + 2 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("NOT"), tokens[i + 2].isKeyword("EXISTS") { i += 3 }
        guard let (schema, name, next) = qualifiedName(tokens, i), next < tokens.count, tokens[next].isSymbol("(") else { return nil }
        var table = TableInfo(schema: schema, name: name, columns: [], primaryKey: [])
        for item in items(tokens, open: next) {
            guard let first = item.first else { continue }
            var body = item
            var constraintName: String?
            if first.isKeyword("CONSTRAINT"), item.count > 2 { constraintName = item[1].identifierValue; body = Array(item.dropFirst(2)) }
            guard let head = body.first else { continue }
            if head.isKeyword("PRIMARY") {
                table.primaryKey = names(in: body)
                for key in table.primaryKey { if let index = table.columns.firstIndex(where: { $0.name == key }) { table.columns[index].notNull = true } }
            } else if head.isKeyword("UNIQUE") {
                let columns = names(in: body)
                table.indexes.append(IndexInfo(name: constraintName ?? "\(name)_\(columns.joined(separator: "_"))_key", columns: columns,
                                               isUnique: true, isPrimary: false, isConstraint: true, isPlain: true))
            } else if head.isKeyword("FOREIGN") {
                let columns = names(in: body)
                let definition = body.map(\.text).joined(separator: " ")
                table.constraints.append(ConstraintInfo(kind: "f", name: constraintName ?? "\(name)_\(columns.joined(separator: "_"))_fkey",
                                                        columns: columns, definition: definition))
            } else if head.isKeyword("CHECK") || head.isKeyword("EXCLUDE") {
                continue
            } else if let (column, primary, unique) = column(body) {
                table.columns.append(column)
                if primary { table.primaryKey = [column.name] }
                if unique {
                    table.indexes.append(IndexInfo(name: "\(name)_\(column.name)_key", columns: [column.name], isUnique: true,
                                                   isPrimary: false, isConstraint: true, isPlain: true))
                }
                if let ref = body.firstIndex(where: { $0.isKeyword("REFERENCES") }) {
                    let definition = "FOREIGN KEY (\(column.name)) " + body[ref...].map(\.text).joined(separator: " ")
                    table.constraints.append(ConstraintInfo(kind: "f", name: "\(name)_\(column.name)_fkey", columns: [column.name], definition: definition))
                }
            }
        }
        return table
    }

    static func alterTable(_ tokens: [Token], _ tables: inout [String: TableInfo]) {
        var i = 2
        if i + 1 < tokens.count, tokens[i].isKeyword("IF"), tokens[i + 1].isKeyword("EXISTS") { i += 2 }
        if i < tokens.count, tokens[i].isKeyword("ONLY") { i += 1 }
        guard let (schema, name, next) = qualifiedName(tokens, i), var table = tables["\(schema).\(name)"] else { return }
        let actions = items([Token(kind: .punctuation, text: "(", line: 0, column: 0, offset: 0)] + Array(tokens[next...]), open: 0)
        for action in actions {
            guard let verb = action.first else { continue }
            if verb.isKeyword("ADD") {
                var body = Array(action.dropFirst())
                if body.first?.isKeyword("COLUMN") == true { body.removeFirst() }
                if body.count > 3, body[0].isKeyword("IF"), body[1].isKeyword("NOT"), body[2].isKeyword("EXISTS") { body.removeFirst(3) }
                if let first = body.first, first.isKeyword("CONSTRAINT") || first.isKeyword("PRIMARY") || first.isKeyword("UNIQUE")
                    || first.isKeyword("FOREIGN") || first.isKeyword("CHECK") { continue }
                if let (column, _, _) = column(body) { table.columns.append(column) }
            } else if verb.isKeyword("DROP") {
                var k = 1
                if k < action.count, action[k].isKeyword("COLUMN") { k += 1 } else { continue }
                if k + 1 < action.count, action[k].isKeyword("IF"), action[k + 1].isKeyword("EXISTS") { k += 2 }
                if k < action.count, let column = action[k].identifierValue { table.columns.removeAll { $0.name == column } }
            } else if verb.isKeyword("RENAME"), action.count >= 4 {
                var k = 1
                if action[k].isKeyword("COLUMN") { k += 1 }
                if k + 2 < action.count, let old = action[k].identifierValue, action[k + 1].isKeyword("TO"), let new = action[k + 2].identifierValue,
                   let index = table.columns.firstIndex(where: { $0.name == old }) {
                    table.columns[index].name = new
                }
            }
        }
        tables["\(schema).\(name)"] = table
    }
}
