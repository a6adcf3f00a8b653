import BellowsSQL

/// Renames column references inside a plan expression, token by token, so that strings,
/// comments, qualified names (`t.col`), function names (`col(`) and type names (`::col`)
/// are left alone.
public enum ExpressionRewriter {
    /// Replaces each reference to a key of `renames` (by its identifier value) with the
    /// quoted value.
    public static func renameColumns(in expression: String, _ renames: [String: String]) -> String {
        guard !renames.isEmpty else { return expression }
        let tokens = Lexer.tokenize(expression)
        var output = ""
        var previous: Token?
        for (index, token) in tokens.enumerated() {
            defer { if token.isSignificant { previous = token } }
            guard let name = token.identifierValue, let replacement = renames[name] else {
                output += token.text
                continue
            }
            let next = tokens[(index + 1)...].first { $0.isSignificant }
            let qualified = previous.map { $0.isSymbol(".") || $0.isSymbol("::") } ?? false
            let isCall = next?.isSymbol("(") ?? false
            let isQualifier = next?.isSymbol(".") ?? false
            output += (qualified || isCall || isQualifier) ? token.text : SQLQuote.identifier(replacement)
        }
        return output
    }

    /// The column names an expression refers to, among `candidates`.
    public static func referencedColumns(in expression: String, among candidates: Set<String>) -> Set<String> {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        var found: Set<String> = []
        for (index, token) in tokens.enumerated() {
            guard let name = token.identifierValue, candidates.contains(name) else { continue }
            if index > 0, tokens[index - 1].isSymbol(".") || tokens[index - 1].isSymbol("::") { continue }
            if index + 1 < tokens.count, tokens[index + 1].isSymbol("(") { continue }
            found.insert(name)
        }
        return found
    }
}
