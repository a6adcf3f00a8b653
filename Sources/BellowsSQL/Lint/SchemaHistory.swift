/// Facts about the schema accumulated from migrations in order, to build the
/// ``LintContext`` of the next one: tables, column types and columns known non-null.
///
/// ```swift
/// var history = SchemaHistory()
/// for file in files {
///     findings += linter.lint(path: file.path, contents: file.contents,
///                             context: history.context(fileName: file.name))
///     history.record(file.contents)
/// }
/// ```
public struct SchemaHistory: Sendable, Hashable {
    /// Lower-cased `name` and `schema.name` keys of tables created and not dropped.
    public private(set) var tables: Set<String> = []
    /// `"table.column"` → type text.
    public private(set) var columnTypes: [String: String] = [:]
    /// `"table.column"` keys known non-null (NOT NULL column or validated
    /// `CHECK (column IS NOT NULL)`).
    public private(set) var notNullColumns: Set<String> = []
    /// `"table.constraint"` → column, for `CHECK (column IS NOT NULL) NOT VALID` not yet
    /// validated.
    public private(set) var pendingNotNullChecks: [String: String] = [:]
    /// Index name (lower-cased, unqualified) → its key columns, for indexes on plain columns.
    public private(set) var indexColumns: [String: [String]] = [:]

    public init() {}

    /// Records what a migration file does to the schema.
    public mutating func record(_ contents: String) {
        for statement in StatementSplitter.split(contents) { record(statement) }
    }

    public mutating func record(_ statement: SQLStatement) {
        if let table = LintedFile.createdTable(statement) {
            tables.formUnion(table.lookupKeys)
            // Column definitions only in `CREATE TABLE name (…)`, not a query's parentheses.
            if statement.matches("CREATE"), statement.indexOf("MATERIALIZED", "VIEW") == nil {
                recordColumns(of: table.name, in: statement)
            }
        } else if let (index, columns) = Self.createdIndex(statement) {
            if let columns { indexColumns[index] = columns } else { indexColumns.removeValue(forKey: index) }
        } else if statement.matches("DROP", "INDEX") {
            var start = 2
            if statement.matches(["CONCURRENTLY"], at: 2) { start = 3 }
            for group in statement.topLevelCommaSeparated(from: statement.skippingModifiers(at: start)) {
                let pseudo = SQLStatement(tokens: group, terminator: nil)
                if let (name, _) = pseudo.qualifiedName(at: 0) { indexColumns.removeValue(forKey: name.name) }
            }
        } else if statement.matches("DROP", "TABLE") {
            for group in statement.topLevelCommaSeparated(from: statement.skippingModifiers(at: 2)) {
                let pseudo = SQLStatement(tokens: group, terminator: nil)
                if let (name, _) = pseudo.qualifiedName(at: 0) { forget(name) }
            }
        } else if let alter = AlterTable(statement) {
            let table = alter.table.name
            for action in alter.actions { record(action, table: table, tableName: alter.table) }
        }
    }

    private mutating func record(_ action: SQLStatement, table: String, tableName: QualifiedName) {
        if let add = AddAction(action) {
            switch add {
            case .column(let column, let nameIndex):
                if let (type, _) = SQLType.parse(action.significantTokens[(nameIndex + 1)...]) {
                    columnTypes["\(table).\(column)"] = type.description
                }
                if action.indexOf("NOT", "NULL") != nil || action.indexOf("PRIMARY", "KEY") != nil {
                    notNullColumns.insert("\(table).\(column)")
                }
            case .constraint(let name, let kindIndex):
                guard action.matches(["CHECK"], at: kindIndex),
                      let column = notNullCheckColumn(action, checkIndex: kindIndex) else { return }
                if action.indexOf("NOT", "VALID") != nil {
                    if let name { pendingNotNullChecks["\(table).\(name)"] = column }
                } else {
                    notNullColumns.insert("\(table).\(column)")
                }
            }
        } else if action.matches("VALIDATE", "CONSTRAINT"), let name = action[significant: 2]?.identifierValue,
                  let column = pendingNotNullChecks.removeValue(forKey: "\(table).\(name)") {
            notNullColumns.insert("\(table).\(column)")
        } else if let (column, typeIndex) = alterColumnType(action),
                  let (type, _) = SQLType.parse(action.significantTokens[typeIndex...]) {
            columnTypes["\(table).\(column)"] = type.description
        } else if action.matches("ALTER"), action.indexOf("SET", "NOT", "NULL") != nil,
                  let column = alterColumnName(action) {
            notNullColumns.insert("\(table).\(column)")
        } else if action.matches("RENAME", "TO"), let newName = action[significant: 2]?.identifierValue {
            let schemas = tables.compactMap { key -> String? in
                guard let dot = key.lastIndex(of: "."), key[key.index(after: dot)...] == table else { return nil }
                return String(key[..<dot])
            }
            tables.subtract(tableName.lookupKeys)
            tables.subtract(schemas.map { "\($0).\(table)" })
            tables.insert(newName)
            for schema in Set(schemas + [tableName.schema].compactMap { $0 }) { tables.insert("\(schema).\(newName)") }
            columnTypes = Dictionary(uniqueKeysWithValues: columnTypes.map { key, value in
                (key.hasPrefix(table + ".") ? newName + key.dropFirst(table.count) : key, value)
            })
            notNullColumns = Set(notNullColumns.map { $0.hasPrefix(table + ".") ? newName + $0.dropFirst(table.count) : $0 })
        } else if action.matches("RENAME") {
            var i = 1
            if action.matches(["COLUMN"], at: 1) { i = 2 }
            guard let old = action[significant: i]?.identifierValue, action.matches(["TO"], at: i + 1),
                  let new = action[significant: i + 2]?.identifierValue else { return }
            if let type = columnTypes.removeValue(forKey: "\(table).\(old)") { columnTypes["\(table).\(new)"] = type }
            if notNullColumns.remove("\(table).\(old)") != nil { notNullColumns.insert("\(table).\(new)") }
        } else if action.matches("DROP") {
            var i = 1
            if action.matches(["COLUMN"], at: 1) { i = 2 }
            if action.matches(["CONSTRAINT"], at: 1) { return }
            i = action.skippingModifiers(at: i)
            if let column = action[significant: i]?.identifierValue {
                columnTypes.removeValue(forKey: "\(table).\(column)")
                notNullColumns.remove("\(table).\(column)")
            }
        }
    }

    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON [ONLY] table [USING m] (…)`:
    /// the index's name and its key columns (nil when one is an expression).
    static func createdIndex(_ s: SQLStatement) -> (String, [String]?)? {
        var i = s.matches(["UNIQUE"], at: 1) ? 2 : 1
        guard s.matches("CREATE"), s.matches(["INDEX"], at: i) else { return nil }
        i += 1
        if s.matches(["CONCURRENTLY"], at: i) { i += 1 }
        i = s.skippingModifiers(at: i)
        guard let name = s[significant: i], !name.isKeyword("ON"), let index = name.identifierValue,
              let on = s.indexOf("ON", from: i + 1),
              let open = s.significantTokens.indices.first(where: { $0 > on && s.significantTokens[$0].isSymbol("(") }) else { return nil }
        // The key list, to its matching parenthesis, split at its top-level commas.
        var elements: [[Token]] = [[]]
        var depth = 0
        for t in s.significantTokens.dropFirst(open + 1) {
            if t.isSymbol("(") || t.isSymbol("[") { depth += 1 }
            if t.isSymbol(")") || t.isSymbol("]") { if depth == 0 { break }; depth -= 1 }
            if depth == 0, t.isSymbol(",") { elements.append([]) } else { elements[elements.count - 1].append(t) }
        }
        var columns: [String] = []
        for element in elements {
            guard let first = element.first, first.kind == .word || first.kind == .quotedIdentifier,
                  !element.contains(where: { $0.isSymbol("(") }), let column = first.identifierValue else { return (index, nil) }
            columns.append(column)
        }
        return (index, columns.isEmpty ? nil : columns)
    }

    /// Removes a dropped table and what is known about its columns.
    private mutating func forget(_ name: QualifiedName) {
        tables.subtract(name.lookupKeys)
        if name.schema == nil { tables = tables.filter { !$0.hasSuffix("." + name.name) } }
        let prefix = name.name + "."
        columnTypes = columnTypes.filter { !$0.key.hasPrefix(prefix) }
        notNullColumns = notNullColumns.filter { !$0.hasPrefix(prefix) }
        pendingNotNullChecks = pendingNotNullChecks.filter { !$0.key.hasPrefix(prefix) }
    }

    private mutating func recordColumns(of table: String, in statement: SQLStatement) {
        guard let open = statement.significantTokens.firstIndex(where: { $0.isSymbol("(") }) else { return }
        let body = SQLStatement(tokens: Array(statement.significantTokens[(open + 1)...]), terminator: nil)
        for element in body.topLevelCommaSeparated(from: 0) {
            guard let first = element.first, let column = first.identifierValue else { continue }
            if first.kind == .word, ["CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN", "EXCLUDE", "LIKE"].contains(first.upper) {
                continue
            }
            if let (type, _) = SQLType.parse(element.dropFirst()) {
                columnTypes["\(table).\(column)"] = type.description
            }
            let def = SQLStatement(tokens: element, terminator: nil)
            if def.indexOf("NOT", "NULL") != nil || def.indexOf("PRIMARY", "KEY") != nil {
                notNullColumns.insert("\(table).\(column)")
            }
        }
    }

    /// A ``LintContext`` for the next migration, from what was recorded so far.
    public func context(fileName: String? = nil, hasRollbackFile: Bool? = nil,
                        allMigrationFileNames: [String] = [], unknownTablesExist: Bool = true) -> LintContext {
        context(fileName: fileName, hasRollbackFile: hasRollbackFile,
                base: LintContext(unknownTablesExist: unknownTablesExist, allMigrationFileNames: allMigrationFileNames))
    }

    /// A ``LintContext`` for the next migration on top of `base`, which carries what is the
    /// same for every file of the project (``LintContext/allMigrationFileNames`` — whose
    /// numbers are then parsed once, not once per file —, ``LintContext/unknownTablesExist``,
    /// ``LintContext/runnerSetsLockTimeout``). The file's name, its rollback file and the
    /// schema recorded so far replace the base's.
    public func context(fileName: String?, hasRollbackFile: Bool?, base: LintContext) -> LintContext {
        var context = base
        context.fileName = fileName
        context.hasRollbackFile = hasRollbackFile
        context.existingTables = tables
        context.columnTypes = columnTypes
        context.notNullColumns = notNullColumns
        context.pendingNotNullChecks = pendingNotNullChecks
        context.indexColumns = indexColumns
        return context
    }
}

/// For `CHECK (col IS NOT NULL)` at `checkIndex` (the `CHECK` keyword): the column.
func notNullCheckColumn(_ s: SQLStatement, checkIndex: Int) -> String? {
    guard s[significant: checkIndex + 1]?.isSymbol("(") == true else { return nil }
    var inner: [Token] = []
    var depth = 0
    for t in s.significantTokens.dropFirst(checkIndex + 1) {
        if t.isSymbol("(") { depth += 1 }
        if t.isSymbol(")") { depth -= 1; if depth == 0 { break } }
        inner.append(t)
    }
    // Strip the outer and any redundant parentheses: ((("c" IS NOT NULL)))
    inner = inner.filter { !$0.isSymbol("(") && !$0.isSymbol(")") }
    guard inner.count == 4, let column = inner[0].identifierValue,
          inner[1].isKeyword("IS"), inner[2].isKeyword("NOT"), inner[3].isKeyword("NULL") else { return nil }
    return column
}

/// For `ALTER [COLUMN] c [SET DATA] TYPE t`: the column and the index of the type's first token.
func alterColumnType(_ action: SQLStatement) -> (column: String, typeIndex: Int)? {
    guard action.matches("ALTER"), let column = alterColumnName(action) else { return nil }
    let columnIndex = action.matches(["COLUMN"], at: 1) ? 2 : 1
    guard let i = action.indexOf("TYPE", from: columnIndex + 1) else { return nil }
    return (column, i + 1)
}

/// For `ALTER [COLUMN] c …`: the column.
func alterColumnName(_ action: SQLStatement) -> String? {
    guard action.matches("ALTER") else { return nil }
    let i = action.matches(["COLUMN"], at: 1) ? 2 : 1
    return action[significant: i]?.identifierValue
}
