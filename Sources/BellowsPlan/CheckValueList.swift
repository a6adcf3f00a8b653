import BellowsSQL

/// The values a CHECK constraint allows a column when it lists them: `col IN ('a', 'b')` as a
/// plan writes it, `col = ANY (ARRAY['a'::text, 'b'::text])` as PostgreSQL stores it (with
/// casts such as `(col)::text` and `::character varying` around a varchar column), or
/// `col = 'a'`. The rehearsal's generator and writers pick from the list. Pure.
public enum CheckValueList {
    /// Words that continue a type name after its first (`character varying`, `double precision`,
    /// `timestamp with time zone`); a keyword after a cast (`IN`) is not one.
    static let typeWords: Set<String> = ["varying", "precision", "with", "without", "time", "zone"]

    /// The listed values as text (strings unquoted, numbers as written), or nil when the
    /// condition is not a plain list over `column` (`CHECK` and `NOT VALID` around it allowed).
    public static func values(in condition: String, column: String) -> [String]? {
        var tokens = Lexer.tokenize(condition).filter(\.isSignificant)
        if tokens.first?.isKeyword("CHECK") == true { tokens.removeFirst() }
        if tokens.count >= 2, tokens[tokens.count - 2].isKeyword("NOT"), tokens[tokens.count - 1].isKeyword("VALID") { tokens.removeLast(2) }
        // Without casts and parentheses: `col IN v, v`, `col = ANY ARRAY [ v, v ]` or `col = v`.
        var plain: [Token] = []
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            if token.isSymbol("::") {
                index += 1
                // The type: words (`character varying`, `text`), a modifier in parentheses, `[]`.
                if index < tokens.count, tokens[index].kind == .word || tokens[index].kind == .quotedIdentifier { index += 1 }
                while index < tokens.count, tokens[index].kind == .word, typeWords.contains(tokens[index].lower) { index += 1 }
                if index < tokens.count, tokens[index].isSymbol("(") {
                    var depth = 0
                    while index < tokens.count {
                        if tokens[index].isSymbol("(") { depth += 1 }
                        if tokens[index].isSymbol(")") { depth -= 1; if depth == 0 { index += 1; break } }
                        index += 1
                    }
                }
                while index + 1 < tokens.count, tokens[index].isSymbol("["), tokens[index + 1].isSymbol("]") { index += 2 }
                continue
            }
            if !(token.isSymbol("(") || token.isSymbol(")")) { plain.append(token) }
            index += 1
        }
        guard plain.count >= 3, plain[0].identifierValue == column else { return nil }
        var rest = plain.dropFirst()
        if rest.first?.isKeyword("IN") == true {
            rest = rest.dropFirst()
        } else if rest.first?.isSymbol("=") == true {
            rest = rest.dropFirst()
            if rest.first?.isKeyword("ANY") == true {
                rest = rest.dropFirst()
                guard rest.first?.isKeyword("ARRAY") == true, rest.dropFirst().first?.isSymbol("[") == true, rest.last?.isSymbol("]") == true else { return nil }
                rest = rest.dropFirst(2).dropLast()
            } else if rest.count > 2 || (rest.count == 2 && !(rest.first?.isSymbol("-") ?? false)) {
                return nil
            }
        } else {
            return nil
        }
        // Literals separated by commas.
        var values: [String] = []
        var expectValue = true
        var negative = false
        for token in rest {
            if expectValue {
                if token.isSymbol("-"), !negative { negative = true; continue }
                if let text = token.stringValue, token.kind == .string, !negative {
                    values.append(text)
                } else if token.kind == .number {
                    values.append((negative ? "-" : "") + token.text)
                } else {
                    return nil
                }
                negative = false
                expectValue = false
            } else {
                guard token.isSymbol(",") else { return nil }
                expectValue = true
            }
        }
        return values.isEmpty || expectValue ? nil : values
    }
}
