import BellowsSQL

/// A schema-qualified name as written in a statement (identifier values: unquoted words
/// folded to lower case, quoted ones as written).
struct SQLName: Sendable, Hashable, CustomStringConvertible {
    var schema: String?
    var name: String

    /// Quoted, for SQL and for `to_regclass($1)`.
    var quoted: String { SQLQuote.qualified(schema: schema, name: name) }
    var description: String { schema.map { "\($0).\(name)" } ?? name }
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] [name] ON [ONLY] table …`.
struct ConcurrentIndexBuild: Sendable, Hashable {
    var indexName: String?
    var table: SQLName
    var ifNotExists: Bool
}

/// What a `REINDEX … CONCURRENTLY` rebuilds: every index of one index's table at most
/// (`INDEX`), of a table and its TOAST table (`TABLE`), of a schema's tables, or of the database.
struct ConcurrentReindex: Sendable, Hashable {
    enum Scope: String, Sendable, CaseIterable { case index, table, schema, database, system }
    var scope: Scope
    /// The index, table or schema; nil for `DATABASE`/`SYSTEM` without a name.
    var name: SQLName?
}

/// Reading the statements of migration files the way the runner needs: what they lock,
/// what they build, what they destroy. Best effort over the lexer's tokens; never throws.
enum MigrationStatements {
    /// A qualified name starting at significant token `index`, and the index after it.
    static func name(in s: SQLStatement, at index: Int) -> (SQLName, Int)? {
        guard let first = s[significant: index], let value = first.identifierValue else { return nil }
        if s[significant: index + 1]?.isSymbol(".") == true, let second = s[significant: index + 2]?.identifierValue {
            return (SQLName(schema: value, name: second), index + 3)
        }
        return (SQLName(schema: nil, name: value), index + 1)
    }

    /// Skips `IF EXISTS` / `IF NOT EXISTS` / `ONLY` at `index`.
    static func skipQualifiers(_ s: SQLStatement, _ index: Int) -> Int {
        var i = index
        while true {
            if s.matches(["IF", "EXISTS"], at: i) { i += 2 }
            else if s.matches(["IF", "NOT", "EXISTS"], at: i) { i += 3 }
            else if s.matches(["ONLY"], at: i) { i += 1 }
            else if s.matches(["CONCURRENTLY"], at: i) { i += 1 }
            else { return i }
        }
    }

    static func concurrentIndexBuild(_ s: SQLStatement) -> ConcurrentIndexBuild? {
        var i: Int
        if s.matches("CREATE", "INDEX", "CONCURRENTLY") { i = 3 }
        else if s.matches("CREATE", "UNIQUE", "INDEX", "CONCURRENTLY") { i = 4 }
        else { return nil }
        var ifNotExists = false
        if s.matches(["IF", "NOT", "EXISTS"], at: i) { ifNotExists = true; i += 3 }
        var indexName: String?
        if s[significant: i]?.isKeyword("ON") != true {
            indexName = s[significant: i]?.identifierValue
            i += 1
        }
        guard s[significant: i]?.isKeyword("ON") == true else { return nil }
        i += 1
        if s[significant: i]?.isKeyword("ONLY") == true { i += 1 }
        guard let (table, _) = name(in: s, at: i) else { return nil }
        return ConcurrentIndexBuild(indexName: indexName, table: table, ifNotExists: ifNotExists)
    }

    /// `REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] name`, when it
    /// runs concurrently (the keyword or the `CONCURRENTLY` option).
    static func concurrentReindex(_ s: SQLStatement) -> ConcurrentReindex? {
        guard s.matches("REINDEX"), MigrationFile.concurrentlyToken(s) != nil else { return nil }
        var i = 1
        if s[significant: i]?.isSymbol("(") == true {
            var depth = 0
            while let token = s[significant: i] {
                i += 1
                if token.isSymbol("(") { depth += 1 }
                if token.isSymbol(")") { depth -= 1; if depth == 0 { break } }
            }
        }
        guard let keyword = s[significant: i],
              let scope = ConcurrentReindex.Scope.allCases.first(where: { keyword.isKeyword($0.rawValue) }) else { return nil }
        i += 1
        if s[significant: i]?.isKeyword("CONCURRENTLY") == true { i += 1 }
        return ConcurrentReindex(scope: scope, name: name(in: s, at: i)?.0)
    }

    /// `SET …` / `RESET …`, and `SELECT [pg_catalog.]set_config(name, value, false)` (the
    /// form pg_dump writes): session settings a resumed non-transactional file must re-run.
    static func isSessionSetting(_ s: SQLStatement) -> Bool {
        (s.matches("SET") && !s.matches("SET", "LOCAL") && !s.matches("SET", "TRANSACTION") && !s.matches("SET", "CONSTRAINTS"))
            || s.matches("RESET") || isSessionSetConfig(s)
    }

    /// `SELECT` of nothing but `set_config(…)` calls (each optionally `pg_catalog.`-qualified
    /// and aliased), at least one of them not transaction-local (its third argument is not the
    /// literal `true`): it changes the session and does nothing else, so it is safe to re-run.
    static func isSessionSetConfig(_ s: SQLStatement) -> Bool {
        guard s.matches("SELECT") else { return false }
        var i = 1
        var sessionLevel = false
        while true {
            if s[significant: i]?.identifierValue == "pg_catalog", s[significant: i + 1]?.isSymbol(".") == true { i += 2 }
            guard s[significant: i]?.identifierValue == "set_config", s[significant: i + 1]?.isSymbol("(") == true else { return false }
            i += 1
            // The arguments, to the matching parenthesis; the last top-level one is is_local.
            var depth = 0
            var lastArgument: [Token] = []
            while let token = s[significant: i] {
                i += 1
                if token.isSymbol("(") || token.isSymbol("[") { depth += 1; if depth == 1 { continue } }
                if token.isSymbol(")") || token.isSymbol("]") { depth -= 1; if depth == 0 { break } }
                if depth == 1, token.isSymbol(",") { lastArgument = []; continue }
                lastArgument.append(token)
            }
            guard depth == 0 else { return false }
            if !(lastArgument.count == 1 && lastArgument[0].isKeyword("TRUE")) { sessionLevel = true }
            if s[significant: i]?.isKeyword("AS") == true { i += 2 }
            else if let alias = s[significant: i], alias.kind == .word || alias.kind == .quotedIdentifier,
                    !alias.isKeyword("FROM"), !alias.isKeyword("WHERE") { i += 1 }
            guard let next = s[significant: i] else { return sessionLevel }
            guard next.isSymbol(",") else { return false }
            i += 1
        }
    }

    /// `DISCARD …`, `RESET ALL`, `SET SESSION AUTHORIZATION`: the runner's own session
    /// settings (`lock_timeout`, encoding) must be set again after it.
    static func resetsSession(_ s: SQLStatement) -> Bool {
        s.matches("DISCARD") || s.matches("RESET", "ALL") || s.matches("SET", "SESSION", "AUTHORIZATION")
            || s.matches("RESET", "SESSION", "AUTHORIZATION")
    }

    /// The table a statement most likely waits for when it hits `lock_timeout`, to report
    /// who blocks it. Nil when unclear.
    static func lockTarget(_ s: SQLStatement) -> SQLName? {
        func after(_ index: Int) -> SQLName? { name(in: s, at: skipQualifiers(s, index))?.0 }
        if s.matches("ALTER", "TABLE") { return after(2) }
        if s.matches("DROP", "TABLE") { return after(2) }
        if s.matches("TRUNCATE", "TABLE") { return after(2) }
        if s.matches("TRUNCATE") { return after(1) }
        if s.matches("LOCK", "TABLE") { return after(2) }
        if s.matches("LOCK") { return after(1) }
        if s.matches("INSERT", "INTO") { return after(2) }
        if s.matches("UPDATE") { return after(1) }
        if s.matches("DELETE", "FROM") { return after(2) }
        if s.matches("VACUUM") || s.matches("ANALYZE") || s.matches("CLUSTER") {
            var i = 1
            while let t = s[significant: i], t.kind == .word, ["FULL", "FREEZE", "VERBOSE", "ANALYZE"].contains(t.upper) { i += 1 }
            return name(in: s, at: i)?.0
        }
        if s.matches("CREATE") || s.matches("DROP"), let on = s.indexOf("ON") {
            // CREATE INDEX … ON t, CREATE TRIGGER … ON t, DROP TRIGGER x ON t, CREATE POLICY … ON t
            return after(on + 1)
        }
        return nil
    }

    /// What the statements of a rollback file destroy.
    static func losses(in statements: [MigrationStatement]) -> [RollbackLoss] {
        var found: [RollbackLoss] = []
        for statement in statements {
            guard let s = StatementSplitter.split(statement.sql).first else { continue }
            found += losses(in: s, line: statement.line, sql: statement.sql).map { loss in
                var loss = loss
                loss.statementIndex = statement.index
                return loss
            }
        }
        return found
    }

    /// Whether the statement may change `search_path`: `SET [SESSION | LOCAL] search_path`,
    /// `RESET search_path`, `RESET ALL`, `DISCARD ALL`, or a `SELECT` of `set_config('search_path', …)`.
    static func setsSearchPath(_ s: SQLStatement, sql: String) -> Bool {
        if s.matches("SET", "SEARCH_PATH") || s.matches("SET", "SESSION", "SEARCH_PATH") || s.matches("SET", "LOCAL", "SEARCH_PATH")
            || s.matches("RESET", "SEARCH_PATH") || s.matches("RESET", "ALL") || s.matches("DISCARD", "ALL") {
            return true
        }
        let lower = sql.lowercased()
        return s.matches("SELECT") && lower.contains("set_config") && lower.contains("search_path") && !s.contains("FROM", topLevelOnly: true)
    }

    /// A comma-separated list of names starting at `index`.
    static func nameList(_ s: SQLStatement, from index: Int) -> [SQLName] {
        var names: [SQLName] = []
        var i = index
        while let (name, next) = name(in: s, at: i) {
            if ["CASCADE", "RESTRICT"].contains(s[significant: i]?.upper ?? "") && s[significant: i]?.kind == .word { break }
            names.append(name)
            guard s[significant: next]?.isSymbol(",") == true else { break }
            i = next + 1
        }
        return names
    }

    static func losses(in s: SQLStatement, line: Int, sql: String) -> [RollbackLoss] {
        func loss(_ kind: RollbackLoss.Kind, _ object: String, statement: String? = nil) -> RollbackLoss {
            RollbackLoss(kind: kind, object: object, line: line, exists: nil, rows: nil, rowsEstimated: false, statement: statement)
        }
        let firstLine = sql.split(separator: "\n").first.map(String.init) ?? sql
        let cascade = s.contains("CASCADE", topLevelOnly: true)
        func cascading(_ loss: RollbackLoss) -> RollbackLoss {
            var loss = loss
            loss.cascade = cascade
            return loss
        }
        if s.matches("DROP", "SCHEMA") {
            return nameList(s, from: skipQualifiers(s, 2)).map { cascading(loss(.schema, $0.name)) }
        }
        if s.matches("UPDATE"), let (table, _) = name(in: s, at: skipQualifiers(s, 1)), let set = s.indexOf("SET") {
            // `SET a = NULL, b = NULL`: the values are gone (other assignments overwrite values
            // the scan cannot judge).
            let end = s.indexOf("FROM", from: set) ?? s.indexOf("WHERE", from: set) ?? s.indexOf("RETURNING", from: set) ?? s.significantTokens.count
            var found: [RollbackLoss] = []
            var i = set + 1
            while i < end {
                if let column = s[significant: i]?.identifierValue, s[significant: i + 1]?.isSymbol("=") == true,
                   s[significant: i + 2]?.isKeyword("NULL") == true,
                   i + 3 >= end || s[significant: i + 3]?.isSymbol(",") == true {
                    found.append(loss(.values, "\(table).\(column)", statement: s.indexOf("WHERE", from: set) != nil ? firstLine : nil))
                }
                i += 1
            }
            return found
        }
        if s.matches("DROP", "TABLE") {
            return nameList(s, from: skipQualifiers(s, 2)).map { loss(.table, $0.description) }
        }
        if s.matches("DROP", "INDEX") {
            return nameList(s, from: skipQualifiers(s, 2)).map { loss(.index, $0.description) }
        }
        if s.matches("DROP", "TYPE") || s.matches("DROP", "DOMAIN") {
            return nameList(s, from: skipQualifiers(s, 2)).map { cascading(loss(.type, $0.description)) }
        }
        if s.matches("TRUNCATE") {
            let start = s.matches("TRUNCATE", "TABLE") ? 2 : 1
            return nameList(s, from: skipQualifiers(s, start)).map { cascading(loss(.rows, $0.description)) }
        }
        if s.matches("DELETE", "FROM"), let table = name(in: s, at: skipQualifiers(s, 2))?.0 {
            return [loss(.rows, table.description, statement: firstLine)]
        }
        if s.matches("ALTER", "TABLE"), let (table, afterTable) = name(in: s, at: skipQualifiers(s, 2)) {
            var found: [RollbackLoss] = []
            var i = afterTable
            var depth = 0
            while let t = s[significant: i] {
                if t.isSymbol("(") { depth += 1 } else if t.isSymbol(")") { depth -= 1 }
                guard depth == 0, t.isKeyword("DROP") else { i += 1; continue }
                // `ALTER [COLUMN] c DROP NOT NULL / DEFAULT / IDENTITY / EXPRESSION` drop no data.
                var j = i + 1
                if s.matches(["CONSTRAINT"], at: j) {
                    j = skipQualifiers(s, j + 1)
                    if let constraint = s[significant: j]?.identifierValue {
                        found.append(loss(.other, "constraint \(constraint) on \(table)", statement: firstLine))
                    }
                } else if !["NOT", "DEFAULT", "IDENTITY", "EXPRESSION"].contains(s[significant: j]?.upper ?? "") {
                    if s.matches(["COLUMN"], at: j) { j += 1 }
                    j = skipQualifiers(s, j)
                    if let column = s[significant: j]?.identifierValue {
                        found.append(loss(.column, "\(table).\(column)"))
                    }
                }
                i = j + 1
            }
            return found
        }
        if s.matches("DROP") {
            return [loss(.other, firstLine, statement: firstLine)]
        }
        return []
    }
}
