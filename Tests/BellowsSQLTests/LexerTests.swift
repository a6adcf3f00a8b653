import Testing
@testable import BellowsSQL

@Suite struct LexerTests {
    func significant(_ sql: String) -> [Token] { Lexer.tokenize(sql).filter(\.isSignificant) }

    @Test func roundTripsEveryCharacter() {
        let sql = "SELECT 'a''b', E'x\\'y', $$ ; $$, \"Q\"\"x\" /* c /* n */ */ -- end\n;ü→ 1.5e-3 $1 ::int[]"
        #expect(Lexer.tokenize(sql).map(\.text).joined() == sql)
    }

    @Test func wordsAndKeywords() {
        let tokens = significant("select Foo_1, a$b FROM t")
        #expect(tokens.map(\.kind) == [.word, .word, .punctuation, .word, .word, .word])
        #expect(tokens[0].upper == "SELECT")
        #expect(tokens[1].lower == "foo_1")
        #expect(tokens[3].text == "a$b")
        #expect(tokens[0].isKeyword("SELECT"))
        #expect(!tokens[1].isKeyword("foo"))
    }

    @Test func caseFoldingTouchesOnlyASCIILetters() {
        let token = Token(kind: .word, text: "Ünï_cödeẞ_\u{212A}ey_Zz9", line: 1, column: 1, offset: 0)
        // Bytes, not String ==, which would take the Kelvin sign for a K.
        #expect(Array(token.upper.utf8) == Array("ÜNï_CöDEẞ_\u{212A}EY_ZZ9".utf8))
        #expect(Array(token.lower.utf8) == Array("Ünï_cödeẞ_\u{212A}ey_zz9".utf8))
        #expect(Token(kind: .word, text: "ALREADY_UP", line: 1, column: 1, offset: 0).upper == "ALREADY_UP")
        #expect(Token(kind: .word, text: "", line: 1, column: 1, offset: 0).lower == "")
        #expect(Token(kind: .word, text: "nOt", line: 1, column: 1, offset: 0).isKeyword("NOT"))
        #expect(!Token(kind: .word, text: "\u{212A}ey", line: 1, column: 1, offset: 0).isKeyword("KEY"))
    }

    @Test func quotedIdentifiers() {
        let tokens = significant(#"SELECT "My ""Col""", U&"d\0061t\+000061" FROM x"#)
        #expect(tokens[1].kind == .quotedIdentifier)
        #expect(tokens[1].identifierValue == #"My "Col""#)
        #expect(tokens[3].kind == .quotedIdentifier)
        #expect(tokens[3].text == #"U&"d\0061t\+000061""#)
    }

    @Test func standardStringsDoubleQuotesAndKeepBackslashes() {
        let tokens = significant(#"SELECT 'it''s', 'C:\path'"#)
        #expect(tokens[1].kind == .string)
        #expect(tokens[1].stringValue == "it's")
        #expect(tokens[3].stringValue == #"C:\path"#)
        #expect(tokens[3].isTerminated)
    }

    @Test func escapeStringsWithBackslashQuote() {
        let tokens = significant(#"SELECT E'don\'t; stop', e'a\\', 'next'"#)
        #expect(tokens.count == 6)
        #expect(tokens[1].text == #"E'don\'t; stop'"#)
        #expect(tokens[1].stringValue == "don't; stop")
        #expect(tokens[3].text == #"e'a\\'"#)
        #expect(tokens[3].stringValue == #"a\"#)
        #expect(tokens[5].stringValue == "next")
    }

    @Test func prefixedStrings() {
        let tokens = significant("SELECT B'1010', X'1F', N'nat', U&'d\\0061t'")
        #expect(tokens.filter { $0.kind == .string }.map(\.text) == ["B'1010'", "X'1F'", "N'nat'", "U&'d\\0061t'"])
    }

    @Test func dollarQuotes() {
        let sql = "SELECT $$a;'b$$, $fn$ body $$ inner $$ ; $fn$, $1, $a$x$a$"
        let tokens = significant(sql)
        #expect(tokens[1].kind == .dollarString)
        #expect(tokens[1].text == "$$a;'b$$")
        #expect(tokens[1].stringValue == "a;'b")
        #expect(tokens[3].kind == .dollarString)
        #expect(tokens[3].dollarTag == "$fn$")
        #expect(tokens[3].stringValue == " body $$ inner $$ ; ")
        #expect(tokens[5].kind == .parameter)
        #expect(tokens[5].text == "$1")
        #expect(tokens[7].kind == .dollarString)
        #expect(tokens[7].stringValue == "x")
    }

    @Test func nestedBlockComments() {
        let tokens = Lexer.tokenize("/* a /* b */ still ; comment */SELECT")
        #expect(tokens.count == 2)
        #expect(tokens[0].kind == .comment)
        #expect(tokens[0].isTerminated)
        #expect(tokens[1].isKeyword("SELECT"))
    }

    @Test func lineCommentsStopAtNewline() {
        let tokens = Lexer.tokenize("-- x ; y\nSELECT")
        #expect(tokens.map(\.kind) == [.comment, .whitespace, .word])
        #expect(tokens[0].text == "-- x ; y")
    }

    @Test func unterminatedTokensAreFlagged() {
        for (sql, kind) in [("SELECT 'abc", TokenKind.string), ("SELECT \"abc", .quotedIdentifier),
                            ("SELECT $x$ abc $y$", .dollarString), ("SELECT /* a /* b */", .comment),
                            ("SELECT E'abc\\'", .string)] {
            let last = Lexer.tokenize(sql).last
            #expect(last?.kind == kind, "\(sql)")
            #expect(last?.isTerminated == false, "\(sql)")
        }
    }

    @Test func numbersOperatorsAndPunctuation() {
        let tokens = significant("SELECT 1.5e-3, .5, 0x1F, 1_000, a::int[] >= -2, x->>'k', a.b")
        let kinds = tokens.map { "\($0.kind):\($0.text)" }
        #expect(kinds.contains("number:1.5e-3"))
        #expect(kinds.contains("number:.5"))
        #expect(kinds.contains("number:0x1F"))
        #expect(kinds.contains("number:1_000"))
        #expect(kinds.contains("punctuation:::"))
        #expect(kinds.contains("operator:>="))
        #expect(kinds.contains("operator:->>"))
        #expect(kinds.contains("punctuation:."))
    }

    @Test func operatorStopsBeforeComment() {
        let tokens = Lexer.tokenize("a=--x\n1")
        #expect(tokens.map(\.text) == ["a", "=", "--x", "\n", "1"])
    }

    @Test func linesColumnsAndOffsets() {
        let sql = "SELECT 1;\n  -- é\n\tALTER\r\n  TABLE \"é\" x"
        let tokens = significant(sql)
        let alter = tokens.first { $0.isKeyword("ALTER") }
        #expect(alter?.line == 3)
        #expect(alter?.column == 2)  // a tab counts as one column
        let table = tokens.first { $0.isKeyword("TABLE") }
        #expect(table?.line == 4)
        #expect(table?.column == 3)
        let quoted = tokens.first { $0.kind == .quotedIdentifier }
        #expect(quoted?.column == 9)
        let x = tokens.last
        #expect(x?.column == 13)  // columns count characters: é is one
        // Offsets are UTF-8 bytes: é is two.
        #expect(x.map { Array(sql.utf8)[$0.offset] } == UInt8(ascii: "x"))
    }
}
