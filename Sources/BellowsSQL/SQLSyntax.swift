/// A possibly schema-qualified name as PostgreSQL resolves it: unquoted parts folded to lower
/// case, quoted parts kept exactly.
public struct QualifiedName: Sendable, Hashable, CustomStringConvertible {
    public var parts: [String]
    /// The token of the first part, for positions.
    public var token: Token

    public init(parts: [String], token: Token) {
        self.parts = parts
        self.token = token
    }

    /// The last part (the object's own name).
    public var name: String { parts.last ?? "" }
    /// The part before the name, if qualified.
    public var schema: String? { parts.count >= 2 ? parts[parts.count - 2] : nil }
    /// `schema.name` or `name`.
    public var qualified: String { parts.suffix(2).joined(separator: ".") }
    public var description: String { qualified }

    /// Keys a set of lower-cased names can be probed with: `schema.name` and `name`.
    public var lookupKeys: [String] {
        schema == nil ? [name] : [qualified, name]
    }

    /// `true` when `set` holds this name, qualified or bare (an unqualified name in the set
    /// matches a qualified reference and the other way round).
    public func isIn(_ set: Set<String>) -> Bool {
        if lookupKeys.contains(where: set.contains) { return true }
        if schema == nil { return set.contains { $0.hasSuffix("." + name) } }
        return false
    }
}

extension SQLStatement {
    /// Parses `name` or `schema.name` (words or quoted identifiers) at a significant index.
    /// Returns the name and the index just after it.
    func qualifiedName(at index: Int) -> (name: QualifiedName, next: Int)? {
        guard let first = self[significant: index], let firstValue = first.identifierValue else { return nil }
        var parts = [firstValue]
        var i = index + 1
        while let dot = self[significant: i], dot.isSymbol("."),
              let part = self[significant: i + 1], let value = part.identifierValue {
            parts.append(value)
            i += 2
        }
        return (QualifiedName(parts: parts, token: first), i)
    }

    /// Skips `IF EXISTS` / `IF NOT EXISTS` / `ONLY` at `index`.
    func skippingModifiers(at index: Int) -> Int {
        var i = index
        while true {
            if matches(["IF", "NOT", "EXISTS"], at: i) { i += 3; continue }
            if matches(["IF", "EXISTS"], at: i) { i += 2; continue }
            if matches(["ONLY"], at: i) { i += 1; continue }
            return i
        }
    }

    /// The first significant word, upper-cased.
    var verb: String { significantTokens.first.map { $0.kind == .word ? $0.upper : "" } ?? "" }

    /// Splits significant tokens from `start` on commas at parenthesis depth 0.
    func topLevelCommaSeparated(from start: Int) -> [[Token]] {
        var groups: [[Token]] = []
        var current: [Token] = []
        var depth = 0
        for t in significantTokens.dropFirst(start) {
            if t.isSymbol("(") || t.isSymbol("[") { depth += 1 }
            if t.isSymbol(")") || t.isSymbol("]") { depth -= 1 }
            if depth == 0, t.isSymbol(",") {
                groups.append(current)
                current = []
            } else {
                current.append(t)
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action …]`.
struct AlterTable {
    var table: QualifiedName
    /// Each action as a pseudo-statement of its significant tokens, so the keyword helpers
    /// of ``SQLStatement`` apply.
    var actions: [SQLStatement]

    init?(_ statement: SQLStatement) {
        guard statement.matches("ALTER", "TABLE") else { return nil }
        let i = statement.skippingModifiers(at: 2)
        guard let (name, next) = statement.qualifiedName(at: i) else { return nil }
        var start = next
        if statement[significant: start]?.isSymbol("*") == true { start += 1 }
        table = name
        actions = statement.topLevelCommaSeparated(from: start).map { SQLStatement(tokens: $0, terminator: nil) }
    }
}

/// What an `ALTER TABLE … ADD …` action adds.
enum AddAction {
    /// `ADD [COLUMN] [IF NOT EXISTS] name type constraints…`; `nameIndex` indexes the action.
    case column(name: String, nameIndex: Int)
    /// `ADD [CONSTRAINT name] CHECK|FOREIGN KEY|PRIMARY KEY|UNIQUE|EXCLUDE|NOT NULL …` (`NOT NULL
    /// column`: PostgreSQL 18's NOT NULL constraint);
    /// `kindIndex` is the index of the constraint keyword.
    case constraint(name: String?, kindIndex: Int)

    init?(_ action: SQLStatement) {
        guard action.matches("ADD") else { return nil }
        if action.matches(["CONSTRAINT"], at: 1) {
            self = .constraint(name: action[significant: 2]?.identifierValue, kindIndex: 3)
            return
        }
        if ["CHECK", "FOREIGN", "PRIMARY", "UNIQUE", "EXCLUDE"].contains(where: { action.matches([$0], at: 1) }) || action.matches(["NOT", "NULL"], at: 1) {
            self = .constraint(name: nil, kindIndex: 1)
            return
        }
        let i = action.skippingModifiers(at: action.matches(["COLUMN"], at: 1) ? 2 : 1)
        guard let name = action[significant: i]?.identifierValue else { return nil }
        self = .column(name: name, nameIndex: i)
    }
}

/// A column type, normalized to PostgreSQL's internal names (`varchar`, `bpchar`, `int4`,
/// `numeric`, `timestamptz`, …) with its modifiers.
struct SQLType: Hashable, CustomStringConvertible {
    var name: String
    var modifiers: [Int]
    var isArray: Bool

    var description: String {
        name + (modifiers.isEmpty ? "" : "(" + modifiers.map(String.init).joined(separator: ",") + ")") + (isArray ? "[]" : "")
    }

    private static let aliases: [String: String] = [
        "character varying": "varchar", "char varying": "varchar",
        "character": "bpchar", "char": "bpchar",
        "int": "int4", "integer": "int4", "smallint": "int2", "bigint": "int8",
        "decimal": "numeric", "dec": "numeric",
        "bit varying": "varbit",
        "double precision": "float8", "real": "float4", "float": "float8",
        "boolean": "bool",
        "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
        "time with time zone": "timetz", "time without time zone": "time",
        "serial": "serial4", "bigserial": "serial8", "smallserial": "serial2",
    ]

    /// Parses a type at the start of `tokens` (significant tokens). Returns the type and the
    /// number of tokens it spans.
    static func parse(_ tokens: ArraySlice<Token>) -> (SQLType, Int)? {
        var i = tokens.startIndex
        func word(_ k: Int) -> String? {
            guard k < tokens.endIndex else { return nil }
            let t = tokens[k]
            return t.kind == .word ? t.lower : (t.kind == .quotedIdentifier ? t.identifierValue : nil)
        }
        guard var name = word(i) else { return nil }
        i += 1
        // Schema-qualified type: keep the last part; pg_catalog.varchar is varchar.
        while i + 1 < tokens.endIndex, tokens[i].isSymbol("."), let next = word(i + 1) {
            name = next
            i += 2
        }
        if ["character", "char", "bit"].contains(name), word(i) == "varying" {
            name += " varying"
            i += 1
        } else if name == "double", word(i) == "precision" {
            name = "double precision"
            i += 1
        }
        var modifiers: [Int] = []
        if i < tokens.endIndex, tokens[i].isSymbol("(") {
            var k = i + 1
            while k < tokens.endIndex, !tokens[k].isSymbol(")") {
                if tokens[k].kind == .number, let n = Int(tokens[k].text) { modifiers.append(n) }
                k += 1
            }
            i = min(k + 1, tokens.endIndex)
        }
        if name == "timestamp" || name == "time" {
            if word(i) == "with", word(i + 1) == "time", word(i + 2) == "zone" {
                name += " with time zone"
                i += 3
            } else if word(i) == "without", word(i + 1) == "time", word(i + 2) == "zone" {
                name += " without time zone"
                i += 3
            }
        }
        var isArray = false
        while i < tokens.endIndex, tokens[i].isSymbol("[") {
            isArray = true
            while i < tokens.endIndex, !tokens[i].isSymbol("]") { i += 1 }
            i += 1
        }
        if word(i) == "array" { isArray = true; i += 1 }
        let normalized = aliases[name] ?? name
        if normalized == "bpchar", modifiers.isEmpty, name != "bpchar" { modifiers = [1] }  // char = char(1)
        return (SQLType(name: normalized, modifiers: modifiers, isArray: isArray), min(i, tokens.endIndex) - tokens.startIndex)
    }

    static func parse(_ text: String) -> SQLType? {
        let tokens = Lexer.tokenize(text).filter(\.isSignificant)
        return parse(tokens[...])?.0
    }

    /// Whether `ALTER COLUMN … TYPE new` from `self` is known to keep the table's storage
    /// (no rewrite, no index rebuild): PostgreSQL's binary-coercible widenings.
    func changesWithoutRewrite(to new: SQLType) -> Bool {
        if self == new { return true }
        guard isArray == new.isArray else { return false }
        if isArray { return false }
        func widens(_ old: [Int], _ new: [Int]) -> Bool {
            if new.isEmpty { return true }
            guard !old.isEmpty else { return false }
            return zip(old, new).allSatisfy { $0 <= $1 }
        }
        switch (name, new.name) {
        case ("varchar", "varchar"), ("varbit", "varbit"):
            return widens(modifiers, new.modifiers)
        case ("varchar", "text"):
            return true
        case ("text", "varchar"):
            return new.modifiers.isEmpty
        case ("numeric", "numeric"):
            if new.modifiers.isEmpty { return true }
            guard modifiers.count >= 1, new.modifiers.count >= 1 else { return false }
            let oldScale = modifiers.count > 1 ? modifiers[1] : 0
            let newScale = new.modifiers.count > 1 ? new.modifiers[1] : 0
            return oldScale == newScale && new.modifiers[0] >= modifiers[0]
        case ("timestamp", "timestamp"), ("timestamptz", "timestamptz"), ("time", "time"),
             ("timetz", "timetz"), ("interval", "interval"):
            return new.modifiers.isEmpty || (!modifiers.isEmpty && new.modifiers[0] >= modifiers[0])
        case ("cidr", "inet"):
            return true
        default:
            return false
        }
    }
}
