/// The lexical class of a ``Token``, following PostgreSQL's lexer (`scan.l`) closely enough
/// for splitting and linting; it is not a validating parser.
public enum TokenKind: String, Sendable, Hashable, Codable {
    /// An unquoted identifier or keyword (`select`, `users`, `a$b`). Compare with ``Token/upper``.
    case word
    /// A double-quoted identifier (`"Mixed ""Case"""`), also the Unicode form `U&"…"`.
    case quotedIdentifier
    /// A string constant: `'…'`, `E'…'` (backslash escapes), `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    case string
    /// A dollar-quoted string: `$$…$$` or `$tag$…$tag$`.
    case dollarString
    /// A numeric constant: `42`, `3.14`, `.5`, `1e-3`, `0x1F`, `1_000`.
    case number
    /// A positional parameter: `$1`.
    case parameter
    /// An operator (`=`, `<>`, `||`, `->>`) or any character the lexer does not otherwise know.
    case `operator`
    /// `(` `)` `[` `]` `,` `;` `.` `:` and `::`.
    case punctuation
    /// A `-- line` comment (without its newline) or a `/* block */` comment (nesting allowed).
    case comment
    /// Spaces, tabs, newlines, carriage returns, form feeds.
    case whitespace
}

/// One lexical token of SQL source.
///
/// Positions: ``line`` and ``column`` are 1-based; the column counts **Unicode scalars**
/// from the start of the line (a tab counts as one), which is what most editors and
/// compilers report for ASCII and a faithful position for the rest. ``offset`` is the
/// UTF-8 byte offset of the token's first byte in the source string.
public struct Token: Sendable, Hashable {
    public var kind: TokenKind
    /// The exact source text of the token, quotes and delimiters included.
    public var text: String
    public var line: Int
    public var column: Int
    public var offset: Int
    /// `false` for a string, quoted identifier, dollar-quoted string or block comment that
    /// runs to the end of the input without its closing delimiter.
    public var isTerminated: Bool

    public init(kind: TokenKind, text: String, line: Int, column: Int, offset: Int, isTerminated: Bool = true) {
        self.kind = kind
        self.text = text
        self.line = line
        self.column = column
        self.offset = offset
        self.isTerminated = isTerminated
    }

    /// The text upper-cased (ASCII), for keyword comparison.
    public var upper: String { asciiUppercased(text) }
    /// The text lower-cased (ASCII), how PostgreSQL folds unquoted identifiers.
    public var lower: String { asciiLowercased(text) }

    /// Whitespace and comments are not significant for the meaning of a statement.
    public var isSignificant: Bool { kind != .whitespace && kind != .comment }

    /// `true` when this is the unquoted word `keyword`, compared case-insensitively.
    public func isKeyword(_ keyword: String) -> Bool {
        kind == .word && text.utf8.count == keyword.utf8.count && upper == asciiUppercased(keyword)
    }

    /// `true` when this is punctuation or an operator with exactly this text.
    public func isSymbol(_ symbol: String) -> Bool {
        (kind == .punctuation || kind == .operator) && text == symbol
    }

    /// The name this token denotes when used as an identifier: an unquoted word folded to
    /// lower case, or a quoted identifier with its quotes removed and `""` undoubled.
    /// `nil` for every other kind.
    public var identifierValue: String? {
        switch kind {
        case .word:
            return lower
        case .quotedIdentifier:
            var body = Substring(text)
            if body.hasPrefix("U&") || body.hasPrefix("u&") { body = body.dropFirst(2) }
            guard body.hasPrefix("\"") else { return nil }
            body = body.dropFirst()
            if isTerminated, body.hasSuffix("\"") { body = body.dropLast() }
            return body.replacingDoubled("\"")
        default:
            return nil
        }
    }

    /// The value of a plain string constant (`'it''s'` → `it's`), or of an `E''` string
    /// with its common backslash escapes resolved, or the body of a dollar-quoted string.
    /// `nil` for other kinds and for bit/hex strings.
    public var stringValue: String? {
        switch kind {
        case .string:
            var body = Substring(text)
            var escapes = false
            if let first = body.first, first != "'" {
                switch first {
                case "E", "e": escapes = true; body = body.dropFirst()
                case "N", "n": body = body.dropFirst()
                case "U", "u": body = body.dropFirst(2)
                default: return nil  // B'' / X''
                }
            }
            guard body.hasPrefix("'") else { return nil }
            body = body.dropFirst()
            if isTerminated, body.hasSuffix("'") { body = body.dropLast() }
            if !escapes { return body.replacingDoubled("'") }
            var out = ""
            var iterator = body.makeIterator()
            while let c = iterator.next() {
                if c == "\\", let n = iterator.next() {
                    switch n {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "b": out.append("\u{8}")
                    case "f": out.append("\u{c}")
                    default: out.append(n)
                    }
                } else if c == "'" {
                    _ = iterator.next()  // '' → '
                    out.append("'")
                } else {
                    out.append(c)
                }
            }
            return out
        case .dollarString:
            return dollarBody.map(String.init)
        default:
            return nil
        }
    }

    /// For a dollar-quoted string, its opening delimiter (`$$` or `$tag$`).
    public var dollarTag: String? {
        guard kind == .dollarString, text.hasPrefix("$") else { return nil }
        let afterFirst = text.dropFirst()
        guard let end = afterFirst.firstIndex(of: "$") else { return nil }
        return String(text[text.startIndex...end])
    }

    /// The body of a dollar-quoted string, between its delimiters.
    var dollarBody: Substring? {
        guard let tag = dollarTag else { return nil }
        var body = Substring(text).dropFirst(tag.count)
        if isTerminated, body.hasSuffix(tag), body.count >= tag.count { body = body.dropLast(tag.count) }
        return body
    }

    /// The position (line, column) of the first character of a dollar-quoted string's body.
    var dollarBodyStart: (line: Int, column: Int)? {
        guard let tag = dollarTag else { return nil }
        return (line, column + tag.unicodeScalars.count)
    }

    /// Translates the position of a token lexed from this dollar-quoted string's body to a
    /// position in the enclosing source.
    public func sourcePosition(ofInner inner: Token) -> (line: Int, column: Int) {
        guard let start = dollarBodyStart else { return (line, column) }
        if inner.line == 1 { return (start.line, start.column + inner.column - 1) }
        return (start.line + inner.line - 1, inner.column)
    }
}

extension Substring {
    fileprivate func replacingDoubled(_ quote: Character) -> String {
        var out = ""
        var previousWasQuote = false
        for c in self {
            if c == quote {
                if previousWasQuote { previousWasQuote = false; continue }
                previousWasQuote = true
            } else {
                previousWasQuote = false
            }
            out.append(c)
        }
        return out
    }
}

// The linter compares every token with keywords through these: they work on UTF-8 bytes (an
// ASCII letter's byte never occurs inside a multi-byte sequence, so this is the same as
// mapping scalars) and return the string itself when no letter changes.

func asciiUppercased(_ s: String) -> String {
    asciiCaseMapped(s, from: UInt8(ascii: "a"), through: UInt8(ascii: "z"))
}

func asciiLowercased(_ s: String) -> String {
    asciiCaseMapped(s, from: UInt8(ascii: "A"), through: UInt8(ascii: "Z"))
}

/// `s` with the ASCII letters in `first...last` switched to the other case.
private func asciiCaseMapped(_ s: String, from first: UInt8, through last: UInt8) -> String {
    let letters = first...last
    guard s.utf8.contains(where: letters.contains) else { return s }
    return String(decoding: s.utf8.map { letters.contains($0) ? $0 ^ 0x20 : $0 }, as: UTF8.self)
}
