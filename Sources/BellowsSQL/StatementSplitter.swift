/// One SQL statement of a script, without its terminating `;`.
public struct SQLStatement: Sendable, Hashable {
    /// The source text from the first to the last significant token (comments before the
    /// statement and the terminating `;` excluded; comments inside it kept). Suitable to
    /// send to the server as is.
    public var text: String
    /// Every token of the statement, including the comments and whitespace that precede it
    /// since the previous `;`, but not the `;` itself.
    public var tokens: [Token]
    /// Tokens that are neither whitespace nor comments.
    public var significantTokens: [Token]
    /// Position of the first significant token (1-based line and column, see ``Token``).
    public var line: Int
    public var column: Int
    /// UTF-8 byte offset of the first significant token.
    public var offset: Int
    /// The `;` that ends the statement, `nil` for a last statement without one.
    public var terminator: Token?

    public init(tokens: [Token], terminator: Token?) {
        self.tokens = tokens
        self.terminator = terminator
        let significant = tokens.filter(\.isSignificant)
        self.significantTokens = significant
        let first = significant.first ?? tokens.first
        self.line = first?.line ?? 1
        self.column = first?.column ?? 1
        self.offset = first?.offset ?? 0
        if let firstIndex = tokens.firstIndex(where: \.isSignificant),
           let lastIndex = tokens.lastIndex(where: \.isSignificant) {
            self.text = tokens[firstIndex...lastIndex].map(\.text).joined()
        } else {
            self.text = ""
        }
    }

    /// Comments between the previous statement and this one (and any inside this one).
    public var comments: [Token] { tokens.filter { $0.kind == .comment } }

    /// `true` when the significant tokens start with these keywords (case-insensitive).
    /// `matches("ALTER", "TABLE")`.
    public func matches(_ keywords: String...) -> Bool {
        matches(keywords, at: 0)
    }

    /// `true` when the significant tokens at `index` are these keywords.
    public func matches(_ keywords: [String], at index: Int) -> Bool {
        guard index >= 0, index + keywords.count <= significantTokens.count else { return false }
        for (i, keyword) in keywords.enumerated() where !significantTokens[index + i].isKeyword(keyword) {
            return false
        }
        return true
    }

    /// The index in ``significantTokens`` of the first occurrence of `keywords` (a sequence)
    /// at or after `start`, optionally only at parenthesis depth 0 relative to `start`.
    public func indexOf(_ keywords: String..., from start: Int = 0, topLevelOnly: Bool = true) -> Int? {
        var depth = 0
        var i = max(start, 0)
        while i < significantTokens.count {
            let t = significantTokens[i]
            if t.isSymbol("(") || t.isSymbol("[") { depth += 1 }
            else if t.isSymbol(")") || t.isSymbol("]") { depth -= 1 }
            else if (!topLevelOnly || depth == 0), matches(keywords, at: i) { return i }
            i += 1
        }
        return nil
    }

    /// Whether the statement contains the keyword sequence anywhere among its significant
    /// tokens (strings, quoted identifiers and dollar-quoted bodies never match).
    public func contains(_ keywords: String..., topLevelOnly: Bool = false) -> Bool {
        var i = 0
        var depth = 0
        while i < significantTokens.count {
            let t = significantTokens[i]
            if t.isSymbol("(") || t.isSymbol("[") { depth += 1 }
            else if t.isSymbol(")") || t.isSymbol("]") { depth -= 1 }
            else if (!topLevelOnly || depth == 0), matches(keywords, at: i) { return true }
            i += 1
        }
        return false
    }

    /// The significant token at `index`, or `nil` past the end.
    public subscript(significant index: Int) -> Token? {
        index >= 0 && index < significantTokens.count ? significantTokens[index] : nil
    }
}

/// Splits a SQL script into statements on top-level `;`.
///
/// A `;` does not split inside strings, quoted identifiers, dollar-quoted bodies, comments,
/// parentheses or brackets, nor inside a SQL-standard function body `BEGIN ATOMIC … END`
/// (where `CASE … END` nests). Statements with no significant token are skipped.
public enum StatementSplitter {
    public static func split(_ sql: String) -> [SQLStatement] {
        split(tokens: Lexer.tokenize(sql))
    }

    public static func split(tokens: [Token]) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        var current: [Token] = []
        var depth = 0
        var atomicDepth = 0
        var caseDepth = 0
        var previousSignificant: Token?

        func flush(_ terminator: Token?) {
            // Drop trailing whitespace; keep leading comments (they annotate the statement).
            while let last = current.last, last.kind == .whitespace { current.removeLast() }
            while let first = current.first, first.kind == .whitespace { current.removeFirst() }
            if current.contains(where: \.isSignificant) {
                statements.append(SQLStatement(tokens: current, terminator: terminator))
            }
            current = []
            depth = 0
            atomicDepth = 0
            caseDepth = 0
            previousSignificant = nil
        }

        for token in tokens {
            if token.isSymbol(";"), depth <= 0, atomicDepth == 0 {
                flush(token)
                continue
            }
            current.append(token)
            guard token.isSignificant else { continue }
            if token.isSymbol("(") || token.isSymbol("[") {
                depth += 1
            } else if token.isSymbol(")") || token.isSymbol("]") {
                depth -= 1
            } else if token.kind == .word {
                if token.isKeyword("ATOMIC"), previousSignificant?.isKeyword("BEGIN") == true {
                    atomicDepth += 1
                } else if atomicDepth > 0, token.isKeyword("CASE") {
                    caseDepth += 1
                } else if atomicDepth > 0, token.isKeyword("END") {
                    if caseDepth > 0 { caseDepth -= 1 } else { atomicDepth -= 1 }
                }
            }
            previousSignificant = token
        }
        flush(nil)
        return statements
    }
}
