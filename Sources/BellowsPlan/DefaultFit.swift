import BellowsSQL

/// Whether a column default fits the column's type, decided without a database for the cases
/// that can be read from the text (a constant, a constant with a cast), and how a replaced
/// column's default is converted to the new type. Pure. Expand probes every default on the
/// database too (`PhaseSQL.defaultProbes`), which catches the rest.
public enum DefaultFit {
    enum Category: String { case integer, numeric, boolean, string, uuid }

    static func canonical(_ type: String) -> String {
        MigrationSchema.canonicalType(Lexer.tokenize(type).filter(\.isSignificant))
    }

    /// A sequence's default, `nextval('…'::regclass)` as PostgreSQL prints a `serial`'s.
    static func isSequenceDefault(_ expression: String) -> Bool {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        guard tokens.count >= 5, tokens[0].identifierValue == "nextval", tokens[1].isSymbol("("), tokens[2].kind == .string,
              tokens[tokens.count - 1].isSymbol(")") else { return false }
        return tokens[3..<(tokens.count - 1)].map(\.text).joined().lowercased() == "::regclass"
    }

    /// Whether two type names are the same type (`varchar(20)` and `character varying(20)`).
    public static func sameType(_ a: String, _ b: String) -> Bool { a == b || canonical(a) == canonical(b) }

    static func category(_ type: String) -> Category? {
        let t = canonical(type)
        if t.hasSuffix("[]") { return nil }
        switch t {
        case "integer", "bigint", "smallint": return .integer
        case "real", "double precision": return .numeric
        case "boolean": return .boolean
        case "text", "citext", "name", "bpchar": return .string
        case "uuid": return .uuid
        default:
            if t.hasPrefix("numeric") { return .numeric }
            if t.hasPrefix("character") { return .string }
            return nil
        }
    }

    /// Why `expression`, a column default, does not fit `type`; nil when it fits or cannot be
    /// told from the text.
    public static func problem(_ expression: String, type: String) -> String? {
        guard let target = category(type) else { return nil }
        var tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        while tokens.count > 2, tokens.first?.isSymbol("(") == true, tokens.last?.isSymbol(")") == true { tokens = Array(tokens.dropFirst().dropLast()) }
        guard let first = tokens.first else { return nil }
        if tokens.count == 1, first.isKeyword("NULL") { return nil }
        if first.kind == .string, first.text.hasPrefix("'") {
            let content = String(first.text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
            if tokens.count == 1 {
                return valid(content, target) ? nil : "'\(content)' is not a value of type \(type)"
            }
            guard tokens.count > 2, tokens[1].isSymbol("::") else { return nil }
            let castType = MigrationSchema.join(Array(tokens[2...]))
            guard let source = category(castType) else { return nil }
            if !assignable(source, to: target) {
                return "it is of type \(castType), which PostgreSQL does not assign to \(type) (42804)"
            }
            return valid(content, source) && valid(content, target) ? nil : "'\(content)' is not a value of type \(type)"
        }
        let signed = tokens.count == 2 && (first.isSymbol("-") || first.isSymbol("+")) ? Array(tokens.dropFirst()) : tokens
        if signed.count == 1, signed[0].kind == .number {
            let text = signed[0].text
            let source: Category = text.contains(".") || text.lowercased().contains("e") ? .numeric : .integer
            return assignable(source, to: target) ? nil : "a number is not a value of type \(type) (42804)"
        }
        if tokens.count == 1, first.isKeyword("TRUE") || first.isKeyword("FALSE") {
            return assignable(.boolean, to: target) ? nil : "a boolean is not a value of type \(type) (42804)"
        }
        return nil
    }

    /// Whether PostgreSQL assigns a value of `source` to a column of `target` (an assignment cast).
    static func assignable(_ source: Category, to target: Category) -> Bool {
        source == target || target == .string || (source != .boolean && source != .string && source != .uuid
                                                  && (target == .integer || target == .numeric) && (source == .integer || source == .numeric))
    }

    /// Whether `text` is a valid input of the category (as PostgreSQL's input functions read it).
    static func valid(_ text: String, _ category: Category) -> Bool {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch category {
        case .string: return true
        case .integer:
            var digits = Substring(value)
            if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
            if digits.hasPrefix("0x") || digits.hasPrefix("0o") || digits.hasPrefix("0b") { return digits.count > 2 }
            return !digits.isEmpty && digits.first != "_" && digits.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "_") }
        case .numeric:
            if ["nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"].contains(value) { return true }
            var rest = Substring(value)
            if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
            let mantissa = rest.prefix { $0 != "e" }
            let exponent = rest.dropFirst(mantissa.count)
            let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), parts.contains(where: { !$0.isEmpty }),
                  parts.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "_") } }) else { return false }
            if exponent.isEmpty { return true }
            var e = exponent.dropFirst()
            if e.first == "-" || e.first == "+" { e = e.dropFirst() }
            return !e.isEmpty && e.allSatisfy { $0.isASCII && $0.isNumber }
        case .boolean:
            guard !value.isEmpty else { return false }
            if ["1", "0"].contains(value) { return true }
            if ["true", "false", "yes", "no"].contains(where: { $0.hasPrefix(value) }) { return true }
            return value.count >= 2 && ["on", "off"].contains(where: { $0.hasPrefix(value) })
        case .uuid:
            var hex = value
            if hex.hasPrefix("{"), hex.hasSuffix("}") { hex = String(hex.dropFirst().dropLast()) }
            hex = hex.replacingOccurrences(of: "-", with: "")
            return hex.count == 32 && hex.allSatisfy(\.isHexDigit)
        }
    }

    /// A replaced column's default in the new column's type: `up` with the old column replaced
    /// by the default as a value of the old column's type (`'0'::text` through `CAST(rating AS
    /// integer)` is `CAST(('0'::text) AS integer)`; `250` of a numeric column through `fee / 100`
    /// is `(250)::numeric(12,2) / 100`, 2.50 as the trigger computed it, not 2), which is what the
    /// new column holds for a row old code inserts without the column. Nil when `up` reads
    /// another column of the table (a default cannot).
    public static func converted(_ defaultExpression: String, type: String, up: String, column: String, columns: Set<String>) -> String? {
        let read = ExpressionRewriter.referencedColumns(in: up, among: columns)
        guard read.subtracting([column]).isEmpty else { return nil }
        return ExpressionRewriter.substituteColumns(in: up, [column: typed(defaultExpression, type)])
    }

    /// `expression` as a value of `type`: cast, unless it already ends in a cast to it.
    static func typed(_ expression: String, _ type: String) -> String {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        if let cast = tokens.lastIndex(where: { $0.isSymbol("::") }), !tokens[(cast + 1)...].contains(where: { $0.isSymbol(")") || $0.isSymbol("::") }),
           sameType(MigrationSchema.join(Array(tokens[(cast + 1)...])), type) {
            return "(\(expression))"
        }
        return "(\(expression))::\(type)"
    }

    /// Whether `up` is the column itself (`email`, `"email"`, `(email)`): values pass unchanged.
    public static func isIdentity(_ up: String, column: String) -> Bool {
        var tokens = Lexer.tokenize(up).filter(\.isSignificant)
        while tokens.count > 2, tokens.first?.isSymbol("(") == true, tokens.last?.isSymbol(")") == true { tokens = Array(tokens.dropFirst().dropLast()) }
        return tokens.count == 1 && tokens[0].identifierValue == column
    }

    /// How many times `expression` reads `column`.
    static func readCount(of column: String, in expression: String) -> Int {
        let marker = "\u{1}"
        return ExpressionRewriter.substituteColumns(in: expression, [column: marker]).components(separatedBy: marker).count - 1
    }

    /// Functions that give one value per statement: a default calling only these may be run twice.
    static let stableFunctions: Set<String> = ["now", "transaction_timestamp", "statement_timestamp", "current_setting",
                                               "lower", "upper", "btrim", "trim", "coalesce", "nullif", "greatest", "least",
                                               "make_interval", "make_date", "make_timestamp", "make_timestamptz", "to_timestamp",
                                               "to_date", "to_char", "length", "abs", "round", "concat", "format"]

    /// The first function `expression` calls that may give another value on each call
    /// (`nextval`, `gen_random_uuid`, `clock_timestamp`, any function not known to be stable).
    static func mayVary(_ expression: String) -> String? {
        let tokens = Lexer.tokenize(expression).filter(\.isSignificant)
        for (index, token) in tokens.enumerated() where index + 1 < tokens.count && tokens[index + 1].isSymbol("(") {
            guard token.kind == .word || token.kind == .quotedIdentifier, let name = token.identifierValue,
                  !ExpressionRewriter.reservedWords.contains(name.uppercased()), !stableFunctions.contains(name) else { continue }
            return name
        }
        return nil
    }

    /// Whether the foreign key `definition` (as `pg_get_constraintdef` prints it) is the one `reference` declares.
    static func sameForeignKey(_ definition: String, _ reference: ForeignKeyReference) -> Bool {
        let words = Lexer.tokenize(definition).filter(\.isSignificant).map { $0.identifierValue ?? $0.text.lowercased() }
        guard let at = words.firstIndex(of: "references") else { return false }
        let table = reference.tableName
        var rest = Array(words[(at + 1)...])
        if rest.count > 2, rest[1] == "." {
            guard rest[0] == table.effectiveSchema else { return false }
            rest.removeFirst(2)
        } else if let schema = table.schema, schema != "public" { return false }
        guard rest.count >= 4, rest[0] == table.name, rest[1] == "(", rest[2] == reference.column.value, rest[3] == ")" else { return false }
        let tail = rest.dropFirst(4).joined(separator: " ")
        let declared = reference.onDelete ?? .noAction
        let present = ReferentialAction.allCases.first { tail.contains("on delete \($0.rawValue)") } ?? .noAction
        return declared == present
    }
}
