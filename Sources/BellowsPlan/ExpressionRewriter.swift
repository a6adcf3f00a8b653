import BellowsSQL

/// Renames column references inside a plan expression, token by token, so that strings,
/// comments, qualified names (`t.col`), function names (`col(`) and type names (`::col`)
/// are left alone.
public enum ExpressionRewriter {
    /// Replaces each reference to a key of `renames` (by its identifier value) with the
    /// quoted value.
    public static func renameColumns(in expression: String, _ renames: [String: String]) -> String {
        replaceColumns(in: expression, renames.mapValues(SQLQuote.identifier))
    }

    /// Replaces each reference to a key of `values` with the value's SQL text as it is (an
    /// expression, parenthesised by the caller).
    public static func substituteColumns(in expression: String, _ values: [String: String]) -> String {
        replaceColumns(in: expression, values)
    }

    static func replaceColumns(in expression: String, _ renames: [String: String]) -> String {
        guard !renames.isEmpty else { return expression }
        let tokens = Lexer.tokenize(expression)
        var output = ""
        var previous: Token?
        for (index, token) in tokens.enumerated() {
            defer { if token.isSignificant { previous = token } }
            guard let name = token.identifierValue, let replacement = renames[name], !isKeywordUse(tokens, at: index) else {
                output += token.text
                continue
            }
            let next = tokens[(index + 1)...].first { $0.isSignificant }
            let qualified = previous.map { $0.isSymbol(".") || $0.isSymbol("::") } ?? false
            let isCall = next?.isSymbol("(") ?? false
            let isQualifier = next?.isSymbol(".") ?? false
            output += (qualified || isCall || isQualifier) ? token.text : replacement
        }
        return output
    }

    /// The column names an expression refers to, among `candidates`.
    public static func referencedColumns(in expression: String, among candidates: Set<String>) -> Set<String> {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        var found: Set<String> = []
        for (index, token) in tokens.enumerated() {
            guard let name = token.identifierValue, candidates.contains(name), !isKeywordUse(tokens, at: index) else { continue }
            if index > 0, tokens[index - 1].isSymbol(".") || tokens[index - 1].isSymbol("::") { continue }
            if index + 1 < tokens.count, tokens[index + 1].isSymbol("(") { continue }
            found.insert(name)
        }
        return found
    }

    /// PostgreSQL's reserved words (reserved and type/function-name categories): never a bare column name.
    static let reservedWords: Set<String> = [
        "ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "BOTH", "CASE", "CAST", "CHECK",
        "COLLATE", "COLUMN", "CONSTRAINT", "CREATE", "CURRENT_CATALOG", "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME",
        "CURRENT_TIMESTAMP", "CURRENT_USER", "DEFAULT", "DEFERRABLE", "DESC", "DISTINCT", "DO", "ELSE", "END", "EXCEPT",
        "FALSE", "FETCH", "FOR", "FOREIGN", "FROM", "GRANT", "GROUP", "HAVING", "IN", "INITIALLY", "INTERSECT", "INTO",
        "LATERAL", "LEADING", "LIMIT", "LOCALTIME", "LOCALTIMESTAMP", "NOT", "NULL", "OFFSET", "ON", "ONLY", "OR", "ORDER",
        "PLACING", "PRIMARY", "REFERENCES", "RETURNING", "SELECT", "SESSION_USER", "SOME", "SYMMETRIC", "TABLE", "THEN",
        "TO", "TRAILING", "TRUE", "UNION", "UNIQUE", "USER", "USING", "VARIADIC", "WHEN", "WHERE", "WINDOW", "WITH",
        "AUTHORIZATION", "BINARY", "COLLATION", "CONCURRENTLY", "CROSS", "CURRENT_SCHEMA", "FREEZE", "FULL", "ILIKE",
        "INNER", "IS", "ISNULL", "JOIN", "LEFT", "LIKE", "NATURAL", "NOTNULL", "OUTER", "OVERLAPS", "RIGHT", "SIMILAR",
        "TABLESAMPLE", "VERBOSE",
    ]

    /// Whether the unquoted word at `index` is a keyword of the expression's grammar rather than
    /// a column of the same name: `AT` in `AT TIME ZONE`, `TIME` and `ZONE` there or in `with time
    /// zone`, an interval unit after its literal, `EXTRACT`'s field, the type of a typed literal
    /// (`time '10:00'`), `double precision`, `character varying`, or any reserved word.
    static func isKeywordUse(_ tokens: [Token], at index: Int) -> Bool {
        let token = tokens[index]
        guard token.kind == .word else { return false }
        let word = token.upper
        if reservedWords.contains(word) { return true }
        let previousIndex = tokens[..<index].lastIndex { $0.isSignificant }
        let previous = previousIndex.map { tokens[$0] }
        let before = previousIndex.flatMap { i in tokens[..<i].last { $0.isSignificant } }
        let next = tokens[(index + 1)...].first { $0.isSignificant }
        func isWord(_ t: Token?, _ words: String...) -> Bool { t.map { t in t.kind == .word && words.contains(t.upper) } ?? false }
        switch word {
        case "AT": if isWord(next, "TIME", "LOCAL") { return true }
        case "TIME": if isWord(previous, "AT", "WITH", "WITHOUT") || isWord(next, "ZONE") { return true }
        case "ZONE": if isWord(previous, "TIME") { return true }
        case "VARYING": if isWord(previous, "CHARACTER", "CHAR", "BIT", "NATIONAL") { return true }
        case "PRECISION": if isWord(previous, "DOUBLE") { return true }
        case "DOUBLE": if isWord(next, "PRECISION") { return true }
        default: break
        }
        // A column never directly follows a literal, nor precedes a string (that is a typed literal).
        if let previous, previous.kind == .string || previous.kind == .number { return true }
        if let next, next.kind == .string { return true }
        if let previous, previous.isSymbol("("), isWord(before, "EXTRACT") { return true }
        return false
    }
}
