/// A PostgreSQL SQL lexer. It never fails: every input character ends up in exactly one
/// token, so concatenating the tokens' texts gives back the input. Unterminated strings,
/// quoted identifiers, dollar-quoted strings and block comments run to the end of the input
/// and are marked with ``Token/isTerminated`` `== false`.
public enum Lexer {
    public static func tokenize(_ sql: String) -> [Token] {
        var scanner = Scanner(Array(sql.unicodeScalars))
        var tokens: [Token] = []
        while !scanner.atEnd {
            tokens.append(scanner.next())
        }
        return tokens
    }
}

private let operatorChars: Set<Unicode.Scalar> = ["+", "-", "*", "/", "<", ">", "=", "~", "!", "@", "#", "%", "^", "&", "|", "`", "?"]
private let operatorCharsAllowingTrailingSign: Set<Unicode.Scalar> = ["~", "!", "@", "#", "%", "^", "&", "|", "`", "?"]

private func isIdentStart(_ c: Unicode.Scalar) -> Bool {
    (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c.value >= 0x80
}

private func isIdentContinue(_ c: Unicode.Scalar) -> Bool {
    isIdentStart(c) || isDigit(c) || c == "$"
}

private func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

private func isSpace(_ c: Unicode.Scalar) -> Bool {
    c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
}

private struct Scanner {
    let chars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var column = 1
    var offset = 0

    init(_ chars: [Unicode.Scalar]) { self.chars = chars }

    var atEnd: Bool { index >= chars.count }

    func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        let i = index + ahead
        return i < chars.count ? chars[i] : nil
    }

    mutating func advance(_ n: Int = 1) {
        for _ in 0..<n {
            guard index < chars.count else { return }
            let c = chars[index]
            index += 1
            offset += c.utf8Count
            if c == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
    }

    mutating func next() -> Token {
        let start = (index: index, line: line, column: column, offset: offset)
        var terminated = true
        let kind = scanToken(&terminated)
        if index == start.index { advance() }  // defensive: always make progress
        let text = String(String.UnicodeScalarView(chars[start.index..<index]))
        return Token(kind: kind, text: text, line: start.line, column: start.column,
                     offset: start.offset, isTerminated: terminated)
    }

    private mutating func scanToken(_ terminated: inout Bool) -> TokenKind {
        guard let c = peek() else { return .whitespace }
        if isSpace(c) {
            while let d = peek(), isSpace(d) { advance() }
            return .whitespace
        }
        if c == "-", peek(1) == "-" {
            while let d = peek(), d != "\n" { advance() }
            return .comment
        }
        if c == "/", peek(1) == "*" {
            terminated = scanBlockComment()
            return .comment
        }
        if c == "'" {
            terminated = scanQuoted("'", backslashEscapes: false)
            return .string
        }
        if c == "\"" {
            terminated = scanQuoted("\"", backslashEscapes: false)
            return .quotedIdentifier
        }
        // Prefixed strings: E'..', B'..', X'..', N'..', U&'..', U&"..".
        if c == "E" || c == "e", peek(1) == "'" {
            advance()
            terminated = scanQuoted("'", backslashEscapes: true)
            return .string
        }
        if c == "B" || c == "b" || c == "X" || c == "x" || c == "N" || c == "n", peek(1) == "'" {
            advance()
            terminated = scanQuoted("'", backslashEscapes: false)
            return .string
        }
        if c == "U" || c == "u", peek(1) == "&", let q = peek(2), q == "'" || q == "\"" {
            advance(2)
            terminated = scanQuoted(q, backslashEscapes: false)
            return q == "'" ? .string : .quotedIdentifier
        }
        if c == "$" {
            if let d = peek(1), isDigit(d) {
                advance()
                while let e = peek(), isDigit(e) { advance() }
                return .parameter
            }
            if let tagLength = dollarTagLength() {
                terminated = scanDollarString(tagLength: tagLength)
                return .dollarString
            }
            advance()
            return .operator
        }
        if isIdentStart(c) {
            while let d = peek(), isIdentContinue(d) { advance() }
            return .word
        }
        if isDigit(c) || (c == "." && peek(1).map(isDigit) == true) {
            scanNumber()
            return .number
        }
        if c == ":" {
            advance(peek(1) == ":" ? 2 : 1)
            return .punctuation
        }
        if c == "(" || c == ")" || c == "[" || c == "]" || c == "," || c == ";" || c == "." {
            advance()
            return .punctuation
        }
        if operatorChars.contains(c) {
            scanOperator()
            return .operator
        }
        advance()
        return .operator
    }

    /// At `/*`: consumes a possibly nested block comment. Returns whether it was closed.
    private mutating func scanBlockComment() -> Bool {
        advance(2)
        var depth = 1
        while let c = peek() {
            if c == "/", peek(1) == "*" {
                depth += 1
                advance(2)
            } else if c == "*", peek(1) == "/" {
                depth -= 1
                advance(2)
                if depth == 0 { return true }
            } else {
                advance()
            }
        }
        return false
    }

    /// At an opening quote: consumes through the closing quote; a doubled quote is an
    /// escaped quote, and with `backslashEscapes` a backslash escapes the next character.
    private mutating func scanQuoted(_ quote: Unicode.Scalar, backslashEscapes: Bool) -> Bool {
        advance()
        while let c = peek() {
            if backslashEscapes, c == "\\" {
                advance(2)
            } else if c == quote {
                if peek(1) == quote {
                    advance(2)
                } else {
                    advance()
                    return true
                }
            } else {
                advance()
            }
        }
        return false
    }

    /// At `$`: the length of a dollar-quote delimiter (`$$`, `$tag$`) starting here, if any.
    private func dollarTagLength() -> Int? {
        var i = index + 1
        if i < chars.count, chars[i] == "$" { return 2 }
        guard i < chars.count, isIdentStart(chars[i]) else { return nil }
        while i < chars.count, isIdentStart(chars[i]) || isDigit(chars[i]) { i += 1 }
        guard i < chars.count, chars[i] == "$" else { return nil }
        return i - index + 1
    }

    private mutating func scanDollarString(tagLength: Int) -> Bool {
        let tag = Array(chars[index..<(index + tagLength)])
        advance(tagLength)
        while index < chars.count {
            if chars[index] == "$", index + tagLength <= chars.count,
               Array(chars[index..<(index + tagLength)]) == tag {
                advance(tagLength)
                return true
            }
            advance()
        }
        return false
    }

    private mutating func scanNumber() {
        if peek() == "0", let p = peek(1), "xXoObB".unicodeScalars.contains(p),
           let q = peek(2), isIdentContinue(q) {
            advance(2)
            while let d = peek(), isIdentContinue(d), d != "$" { advance() }
            return
        }
        while let d = peek(), isDigit(d) || d == "_" { advance() }
        if peek() == ".", peek(1) != "." {  // `1..2` is not a number followed by `.2`
            advance()
            while let d = peek(), isDigit(d) || d == "_" { advance() }
        }
        if let e = peek(), e == "e" || e == "E" {
            if let d = peek(1), isDigit(d) {
                advance()
                while let d = peek(), isDigit(d) { advance() }
            } else if let s = peek(1), s == "+" || s == "-", let d = peek(2), isDigit(d) {
                advance(2)
                while let d = peek(), isDigit(d) { advance() }
            }
        }
    }

    /// PostgreSQL's operator rule: a run of operator characters that stops before `--` or
    /// `/*`, and which cannot end in `+` or `-` unless it contains one of `~!@#%^&|`?`.
    private mutating func scanOperator() {
        var end = index
        while end < chars.count, operatorChars.contains(chars[end]) {
            if end > index, chars[end] == "-", end + 1 < chars.count, chars[end + 1] == "-" { break }
            if end > index, chars[end] == "/", end + 1 < chars.count, chars[end + 1] == "*" { break }
            end += 1
        }
        var length = end - index
        if length > 1 {
            let run = chars[index..<end]
            if !run.contains(where: { operatorCharsAllowingTrailingSign.contains($0) }) {
                while length > 1, chars[index + length - 1] == "+" || chars[index + length - 1] == "-" {
                    length -= 1
                }
            }
        }
        advance(max(length, 1))
    }
}

extension Unicode.Scalar {
    fileprivate var utf8Count: Int {
        switch value {
        case 0..<0x80: return 1
        case 0x80..<0x800: return 2
        case 0x800..<0x10000: return 3
        default: return 4
        }
    }
}
